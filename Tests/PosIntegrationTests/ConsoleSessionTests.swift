import Foundation
import PosDomain
import PosServices
import PosStorage
import Testing

/// Console sign-in and sessions, through the service the console calls, on a real SQLite file.
@Suite("Console sessions")
struct ConsoleSessionTests {
    struct Fixture {
        let stores: SQLStores
        let clock: ManualClock
        let admin: TenantAdministration
        let keys: APIKeyService
        let sessions: ConsoleSessionService
        let remove: @Sendable () -> Void
    }

    static func fixture(idleMs: Int64 = 30 * 60_000) async throws -> Fixture {
        let (path, remove) = StoreEngines.temporaryFile()
        let stores = try SQLStores.sqlite(path: path)
        try await stores.migrate()
        let clock = ManualClock(now: SystemClock.now())
        // No auth cache: a revocation shows on the next request.
        let auth = AuthService(keys: stores, clock: clock.read, cacheTTLMs: 0)
        return Fixture(stores: stores, clock: clock, admin: TenantAdministration(tenants: stores, keys: stores, clock: clock.read),
                       keys: APIKeyService(keys: stores, clock: clock.read, auth: auth),
                       sessions: ConsoleSessionService(sessions: stores, tenants: stores, auth: auth, clock: clock.read,
                                                       settings: ConsoleSessionSettings(idleTimeoutMs: idleMs)),
                       remove: remove)
    }

    static let anyHost = TenantClaim(host: nil, tenantHeader: nil, baseDomain: nil)

    @Test("an admin key opens a session that stays while used and ends after the idle timeout; only the id's hash is stored")
    func idleExpiry() async throws {
        let f = try await Self.fixture(idleMs: 10 * 60_000)
        defer { f.remove() }
        _ = try await f.admin.createTenant(subdomain: "acme", name: "Acme")
        let key = try await f.admin.createKey(tenant: "acme", scopes: [.admin], expiresInDays: nil).key
        let (id, viewer) = try await f.sessions.signIn(key: key, claim: Self.anyHost)
        #expect(viewer.tenant?.subdomain == "acme" && !viewer.isOperator)
        #expect(try await f.stores.session(idHash: id.rawValue) == nil, "the raw id is not a key of the table")
        #expect(try await f.stores.session(idHash: id.hash) != nil)

        // Seen every 9 minutes: the idle expiry keeps moving.
        for _ in 0..<3 {
            f.clock.advance(by: 9 * 60_000)
            #expect(try await f.sessions.resume(id, claim: Self.anyHost) != nil)
        }
        f.clock.advance(by: 10 * 60_000)
        #expect(try await f.sessions.resume(id, claim: Self.anyHost) == nil, "idle too long")
        #expect(try await f.stores.session(idHash: id.hash) == nil, "and removed")
        await f.stores.shutdown()
    }

    @Test("revoking the key ends its sessions; signing out ends one; a non-admin or unknown key opens none")
    func revocationAndRefusals() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        _ = try await f.admin.createTenant(subdomain: "acme", name: "Acme")
        let admin = try await f.admin.createKey(tenant: "acme", scopes: [.admin], expiresInDays: nil)
        let other = try await f.admin.createKey(tenant: "acme", scopes: [.admin], expiresInDays: nil)
        let partner = try await f.admin.createKey(tenant: "acme", scopes: [.partner], expiresInDays: nil).key

        let (first, _) = try await f.sessions.signIn(key: admin.key, claim: Self.anyHost)
        let (second, _) = try await f.sessions.signIn(key: admin.key, claim: Self.anyHost)
        let (kept, keptViewer) = try await f.sessions.signIn(key: other.key, claim: Self.anyHost)
        guard case .tenantAdmin(let principal) = keptViewer else { throw TestFailure("not a tenant admin") }
        _ = try await f.keys.revoke(id: admin.record.apiKeyId, by: principal)
        #expect(try await f.sessions.resume(first, claim: Self.anyHost) == nil)
        #expect(try await f.sessions.resume(second, claim: Self.anyHost) == nil)
        #expect(try await f.sessions.resume(kept, claim: Self.anyHost) != nil)
        try await f.sessions.signOut(kept)
        #expect(try await f.sessions.resume(kept, claim: Self.anyHost) == nil)

        await #expect(throws: ServiceError.forbidden("the console needs a key with scope admin", field: "key")) {
            try await f.sessions.signIn(key: partner, claim: Self.anyHost)
        }
        await #expect(throws: ServiceError.unauthorized) { try await f.sessions.signIn(key: "posk_1_nope", claim: Self.anyHost) }
        await #expect(throws: ServiceError.unauthorized) { try await f.sessions.signIn(key: admin.key, claim: Self.anyHost) }
        await f.stores.shutdown()
    }

    @Test("a tenant key signs in only on its own host when a base domain is set")
    func hostClaim() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        _ = try await f.admin.createTenant(subdomain: "acme", name: "Acme")
        let key = try await f.admin.createKey(tenant: "acme", scopes: [.admin], expiresInDays: nil).key
        let acme = TenantClaim(host: "acme.pos.test", tenantHeader: nil, baseDomain: "pos.test")
        let beta = TenantClaim(host: "beta.pos.test", tenantHeader: nil, baseDomain: "pos.test")
        await #expect(throws: ServiceError.unauthorized) { try await f.sessions.signIn(key: key, claim: beta) }
        let (id, _) = try await f.sessions.signIn(key: key, claim: acme)
        #expect(try await f.sessions.resume(id, claim: beta) == nil, "a session cookie carried to another tenant's host is not honoured")
        #expect(try await f.sessions.resume(id, claim: acme) != nil)
        await f.stores.shutdown()
    }

    @Test("an operator starts on the platform view, steps into a tenant and out; a tenant admin cannot")
    func operators() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        let acme = try await f.admin.createTenant(subdomain: "acme", name: "Acme")
        let operatorKey = try await f.admin.createOperatorKey(expiresInDays: nil)
        let (id, viewer) = try await f.sessions.signIn(key: operatorKey.key, claim: Self.anyHost)
        #expect(viewer.isOperator && viewer.tenant == nil)
        #expect(try await f.sessions.act(in: "acme", session: id, viewer: viewer) == acme)
        #expect(try await f.sessions.resume(id, claim: Self.anyHost)?.tenant == acme)
        await #expect(throws: ServiceError.notFound("no tenant \"nope\"")) { try await f.sessions.act(in: "nope", session: id, viewer: viewer) }
        #expect(try await f.sessions.act(in: nil, session: id, viewer: viewer) == nil)
        #expect(try await f.sessions.resume(id, claim: Self.anyHost)?.tenant == nil)

        let tenantKey = try await f.admin.createKey(tenant: "acme", scopes: [.admin], expiresInDays: nil).key
        let (tenantSession, tenantViewer) = try await f.sessions.signIn(key: tenantKey, claim: Self.anyHost)
        await #expect(throws: ServiceError.self) { try await f.sessions.act(in: "acme", session: tenantSession, viewer: tenantViewer) }

        #expect(try await f.admin.revokeOperatorKey(id: operatorKey.record.operatorKeyId))
        #expect(try await f.sessions.resume(id, claim: Self.anyHost) == nil, "a revoked operator key ends its sessions")
        await f.stores.shutdown()
    }
}
