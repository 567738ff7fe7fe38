import Foundation
import PosDomain
import PosServices
import PosStorage
import Synchronization
import Testing

@Suite("Authentication and tenancy")
struct AuthTests {
    @Test("whoami describes the key and its tenant")
    func whoami() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let reply = try await service.call("GET", "/api/v1/auth/whoami", key: acme.partnerKey)
            #expect(reply.status == 200)
            #expect(reply.json["authenticated"] as? Bool == true)
            #expect(reply.json["tenantId"] as? String == acme.tenant.id)
            #expect(reply.json["subdomain"] as? String == "acme")
            #expect(reply.json["apiKeyId"] as? Int == 2)
            #expect(reply.json.keys.contains("expiresAt"))
            #expect(RFC3339.parseMilliseconds(reply.json["serverTime"] as? String ?? "") != nil)
        }
    }

    @Test("missing, unknown, revoked, expired keys and tenant mismatches all get the same 401")
    func unauthorizedIsUniform() async throws {
        try await withTestService(baseDomain: "pos.test") { service in
            let acme = try await service.tenant("acme")
            _ = try await service.tenant("globex")
            let revoked = try await service.admin.createKey(tenant: "acme", scopes: [.partner], expiresInDays: nil)
            #expect(try await service.admin.revokeKey(id: revoked.record.apiKeyId))
            // A key that expired a moment ago, written straight to the store.
            let secret = APIKeyToken.generateSecret()
            let expired = try await service.stores.createKey(NewAPIKey(
                tenantId: acme.tenant.id, secretHash: APIKeyToken.hash(secret: secret), scopes: [.partner],
                createdAt: SystemClock.now() - 10_000, expiresAt: SystemClock.now() - 1))
            let expiredKey = APIKeyToken(apiKeyId: expired.apiKeyId, secret: secret).rawValue
            let wrongSecret = APIKeyToken(apiKeyId: 2, secret: APIKeyToken.generateSecret()).rawValue

            let attempts: [(String, String?, [(String, String)])] = [
                ("missing", nil, []),
                ("garbage", "hello", []),
                ("unknown id", APIKeyToken(apiKeyId: 999, secret: secret).rawValue, []),
                ("wrong secret", wrongSecret, []),
                ("revoked", revoked.key, []),
                ("expired", expiredKey, []),
                ("other tenant's header", acme.partnerKey, [("X-Tenant-ID", "globex")]),
                ("other tenant's subdomain", acme.partnerKey, [("Host", "globex.pos.test")]),
            ]
            var bodies = Set<String>()
            for (label, key, headers) in attempts {
                let reply = try await service.call("GET", "/api/v1/auth/whoami", key: key, headers: headers)
                #expect(reply.status == 401, "\(label)")
                #expect(reply.error["code"] as? Int == 401, "\(label)")
                bodies.insert(reply.text)
            }
            #expect(bodies.count == 1, "every 401 body is identical: \(bodies)")

            let ownSubdomain = try await service.call("GET", "/api/v1/auth/whoami", key: acme.partnerKey,
                                                      headers: [("Host", "acme.pos.test"), ("X-Tenant-ID", acme.tenant.id)])
            #expect(ownSubdomain.status == 200)
        }
    }

    @Test("a key without the route's scope gets 403")
    func scopes() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let reply = try await service.dispatch(Fixtures.dispatchBody(), key: acme.partnerKey)
            #expect(reply.status == 403)
            #expect(reply.error["code"] as? Int == 403)
            let register = try await service.call("POST", "/api/v1/webhooks/register", key: acme.internalKey,
                                                  json: Array(#"{"outletId":"o","provider":"p","callbackUrl":"http://x.test/h","events":["order.paid"]}"#.utf8))
            #expect(register.status == 403)
        }
    }

    @Test("a key issued by another process on the same database works at once")
    func keyFromAnotherConnection() async throws {
        try await withTestService { service in
            _ = try await service.tenant("acme")
            // A second engine on the same file, as the CLI opens it while the server runs.
            let cliStores = try SQLStores.sqlite(path: service.databasePath)
            try await cliStores.migrate()
            let issued = try await TenantAdministration(tenants: cliStores, keys: cliStores, clock: SystemClock.now)
                .createKey(tenant: "acme", scopes: [.partner], expiresInDays: 30)
            await cliStores.shutdown()
            let reply = try await service.call("GET", "/api/v1/auth/whoami", key: issued.key)
            #expect(reply.status == 200)
            #expect(reply.json["apiKeyId"] as? Int == Int(issued.record.apiKeyId))
            #expect(reply.json["expiresAt"] as? String != nil)
        }
    }

    @Test("administration refuses bad subdomains and duplicates")
    func administration() async throws {
        try await withTestService { service in
            _ = try await service.admin.createTenant(subdomain: "acme", name: "Acme")
            await #expect(throws: ServiceError.self) { try await service.admin.createTenant(subdomain: "acme", name: "Again") }
            await #expect(throws: ServiceError.self) { try await service.admin.createTenant(subdomain: "Not A Label", name: "x") }
            await #expect(throws: ServiceError.self) { try await service.admin.createKey(tenant: "nobody", scopes: [.admin], expiresInDays: nil) }
            let keys = try await service.admin.keys(tenant: "acme")
            #expect(keys.isEmpty)
        }
    }
}

@Suite("API key cache")
struct KeyCacheTests {
    @Test("a revoked key stops working once the cache entry is older than its TTL; expiry needs no wait")
    func revocationWithinTTL() async throws {
        let stores = try SQLStores.sqlite(path: FileManager.default.temporaryDirectory.appendingPathComponent("pos-cache-\(UUID().uuidString).sqlite").path)
        try await stores.migrate()
        let admin = TenantAdministration(tenants: stores, keys: stores, clock: SystemClock.now)
        _ = try await admin.createTenant(subdomain: "acme", name: "Acme")
        let issued = try await admin.createKey(tenant: "acme", scopes: [.partner], expiresInDays: 1)
        let clock = ManualClock(now: SystemClock.now())
        let auth = AuthService(keys: stores, clock: clock.read, cacheTTLMs: 1_000)
        let claim = TenantClaim(host: nil, tenantHeader: nil, baseDomain: nil)

        _ = try await auth.authenticate(apiKey: issued.key, claim: claim)
        #expect(try await admin.revokeKey(id: issued.record.apiKeyId))
        _ = try await auth.authenticate(apiKey: issued.key, claim: claim)  // still cached
        clock.advance(by: 1_001)
        await #expect(throws: ServiceError.unauthorized) { try await auth.authenticate(apiKey: issued.key, claim: claim) }

        let other = try await admin.createKey(tenant: "acme", scopes: [.partner], expiresInDays: 1)
        _ = try await auth.authenticate(apiKey: other.key, claim: claim)
        // Past its expiry as issued by the wall clock (the manual clock started earlier; a loaded machine may have taken seconds since).
        clock.advance(by: try #require(other.record.expiresAt) - clock.read() + 1)
        await #expect(throws: ServiceError.unauthorized) { try await auth.authenticate(apiKey: other.key, claim: claim) }
        await stores.shutdown()
    }
}

/// A clock tests move by hand.
final class ManualClock: Sendable {
    private let value: Mutex<Int64>
    init(now: Int64) { value = Mutex(now) }
    var read: ServiceClock { { self.value.withLock { $0 } } }
    func advance(by milliseconds: Int64) { value.withLock { $0 += milliseconds } }
}
