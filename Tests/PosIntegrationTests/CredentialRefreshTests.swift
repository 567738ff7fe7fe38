import Foundation
import Hummingbird
import PosConnectors
import PosDomain
import PosSandbox
import PosServices
import PosStorage
import Synchronization
import Testing

/// OAuth credentials against the token-endpoint double: one refresh across replicas racing over one
/// database, single-use refresh tokens never spent twice, refresh-on-401 then exactly one retry.
@Suite("OAuth credentials")
struct CredentialRefreshTests {
    static let tenant = Tenant(id: "00000000-0000-0000-0000-0000000000b1", subdomain: "oauth", name: "OAuth Tenant")
    static let slug = "oauthpos"

    /// Two store instances over one database, as two replicas see it.
    struct ReplicaPair: Sendable, CustomTestStringConvertible {
        let name: String
        let make: @Sendable () async throws -> (first: any StoreEngine, second: any StoreEngine, files: [String], cleanup: @Sendable () async -> Void)
        var testDescription: String { name }
    }

    static let sqlite = ReplicaPair(name: "SQLite") {
        let file = StoreEngines.temporaryFile()
        let first = try SQLStores.sqlite(path: file.path), second = try SQLStores.sqlite(path: file.path)
        return (first, second, [file.path, file.path + "-wal"], {
            await first.shutdown()
            await second.shutdown()
            file.remove()
        })
    }

    static let postgres = ReplicaPair(name: "PostgreSQL") {
        let (url, drop) = try await PostgresTestDatabase.create()
        let first = try PostgresTestDatabase.stores(url), second = try PostgresTestDatabase.stores(url)
        return (first, second, [], {
            await first.shutdown()
            await second.shutdown()
            await drop()
        })
    }

    static var pairs: [ReplicaPair] {
        PostgresTestDatabase.skipped ? [sqlite] : [sqlite, postgres]
    }

    /// The token double on a loopback port, a shared test clock, and a provider per store.
    struct Rig: Sendable {
        let sandbox: OAuthTokenSandbox
        let origin: String
        let secretBox: SecretBox
        let transport: HTTPTransport
        let clock: TestClock

        var tokenURL: String { origin + "/oauth-sandbox/token" }
        var resourceURL: String { origin + "/oauth-sandbox/resource" }
        var scheme: CredentialScheme { .oauth2(tokenURL: tokenURL, scope: nil) }

        func advance(byMs milliseconds: Int64) { clock.advance(byMs: milliseconds) }

        func provider(_ tokens: any ProviderTokenStore, owner: String) -> CredentialProvider {
            CredentialProvider(secretBox: secretBox, tokens: tokens, endpoint: OAuthTokenEndpoint(transport: transport),
                               clock: { [clock] in clock.now }, settings: .init(owner: owner, waitMs: 10_000, pollMs: 10))
        }

        func connection(clientSecret: String = OAuthTokenSandbox.defaultClientSecret) throws -> ProviderConnection {
            ProviderConnection(tenantId: CredentialRefreshTests.tenant.id, slug: CredentialRefreshTests.slug, status: "active",
                               sealedApiKey: try secretBox.seal(OAuthTokenSandbox.defaultClientId), sealedApiSecret: try secretBox.seal(clientSecret),
                               webhookUrl: "", baseUrl: origin + "/oauth-sandbox", config: "{}", createdAt: 1, updatedAt: 1,
                               connectionToken: "token-\(CredentialRefreshTests.slug)")
        }

        func access(_ provider: CredentialProvider) throws -> ProviderAccess {
            try provider.access(for: try connection(), scheme: scheme)
        }
    }

    static func withRig(grantLatency: Duration = .zero, _ body: (Rig) async throws -> Void) async throws {
        let sandbox = OAuthTokenSandbox(grantLatency: grantLatency)
        let router = Router()
        sandbox.addRoutes(to: router)
        let server = try await LiveServer.start(router: router)
        // Room for a loaded machine: the whole suite starts at once, and no test here is about a timeout.
        let transport = HTTPTransport(timeout: .seconds(30), outboundGuard: nil)
        let rig = Rig(sandbox: sandbox, origin: "http://127.0.0.1:\(server.port)",
                      secretBox: try SecretBox(encodedMasterKey: SecretBox.generateEncodedMasterKey()), transport: transport,
                      clock: TestClock(SystemClock.now()))
        do {
            try await body(rig)
        } catch {
            await transport.shutdown()
            await server.stop()
            throw error
        }
        await transport.shutdown()
        await server.stop()
    }

    static func token(_ credential: Credential) -> String? {
        if case .accessToken(let token) = credential { token } else { nil }
    }

    @Test("two replicas race to refresh an expired token: the endpoint sees one refresh, all callers get the same new token",
          arguments: pairs)
    func refreshRace(_ pair: ReplicaPair) async throws {
        // The endpoint takes a while, so the racers overlap the way they would against a real POS.
        try await Self.withRig(grantLatency: .milliseconds(200)) { rig in
            let (first, second, files, cleanup) = try await pair.make()
            do {
                try await first.migrate()
                try await second.migrate()
                try await first.createTenant(Self.tenant, createdAt: 1)
                let replicaA = try rig.access(rig.provider(first, owner: "replica-a"))
                let replicaB = try rig.access(rig.provider(second, owner: "replica-b"))

                let initial = try #require(Self.token(try await replicaA.credentials.credential()))
                #expect(rig.sandbox.stats.clientCredentialsGrants == 1)
                #expect(Self.token(try await replicaB.credentials.credential()) == initial, "the second replica reads the stored token")

                rig.advance(byMs: 2 * 3_600_000)
                async let a1 = replicaA.credentials.credential()
                async let a2 = replicaA.credentials.credential()
                async let b1 = replicaB.credentials.credential()
                async let b2 = replicaB.credentials.credential()
                let tokens = try await [a1, a2, b1, b2].map { try #require(Self.token($0)) }

                let stats = rig.sandbox.stats
                #expect(stats.refreshGrants == 1, "exactly one caller spent the refresh token")
                #expect(stats.invalidGrants == 0)
                #expect(stats.clientCredentialsGrants == 1)
                #expect(Set(tokens).count == 1 && tokens[0] != initial, "\(tokens)")
                let answer = await POSExchange(transport: rig.transport, clock: SystemClock.now)
                    .send(.GET, rig.resourceURL, access: replicaB, authorize: Self.bearer)
                #expect((try? answer.get())?.succeeded == true, "the new token works")

                let stored = try #require(try await first.providerToken(tenantId: Self.tenant.id, slug: Self.slug))
                #expect(stored.version == 2 && stored.refreshOwner == nil && stored.refreshLeaseUntil == nil)
                #expect(try rig.secretBox.open(stored.sealedAccessToken) == tokens[0])
                for file in files {
                    let raw = (try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data()
                    #expect(raw.range(of: Data(tokens[0].utf8)) == nil && raw.range(of: Data("rt-".utf8)) == nil, "tokens are sealed at rest in \(file)")
                }
                await cleanup()
            } catch {
                await cleanup()
                throw error
            }
        }
    }

    static let bearer: @Sendable (Credential) -> [(String, String)] = { credential in
        switch credential {
        case .accessToken(let token): [("Authorization", "Bearer \(token)")]
        case .staticKey(let key, _): [("Authorization", "Bearer \(key)")]
        }
    }

    @Test("a 401 to the stored token refreshes it once and retries once; a second 401 is the answer")
    func refreshOnUnauthorized() async throws {
        try await Self.withRig { rig in
            let (stores, _, _, cleanup) = try await Self.sqlite.make()
            do {
                try await stores.migrate()
                try await stores.createTenant(Self.tenant, createdAt: 1)
                let access = try rig.access(rig.provider(stores, owner: "replica-a"))
                let exchange = POSExchange(transport: rig.transport, clock: SystemClock.now)
                let first = try await exchange.send(.GET, rig.resourceURL, access: access, authorize: Self.bearer).get()
                #expect(first.succeeded)

                // The POS drops the token before its expiry: the next call is refused once, refreshed, retried.
                rig.sandbox.revokeAccessTokens()
                let second = try await exchange.send(.GET, rig.resourceURL, access: access, authorize: Self.bearer).get()
                #expect(second.succeeded, "\(second.excerpt ?? "")")
                var stats = rig.sandbox.stats
                #expect(stats.resourceCalls == 3 && stats.resourceRejections == 1)
                #expect(stats.refreshGrants == 1 && stats.invalidGrants == 0)

                // Refused again right after the refresh: one retry only, the 401 is the outcome.
                rig.sandbox.rejectAllResourceCalls(true)
                let third = try await exchange.send(.GET, rig.resourceURL, access: access, authorize: Self.bearer).get()
                #expect(third.response.status == 401)
                stats = rig.sandbox.stats
                #expect(stats.resourceCalls == 5, "the refused call and its one retry")
                #expect(stats.refreshGrants == 2)

                // A static key cannot be refreshed: a 401 is answered at once, no retry.
                let staticAccess = ProviderAccess(baseUrl: rig.origin, webhookUrl: "", config: .object([]),
                                                  credentials: StaticCredentialSource(key: "k", secret: "s"))
                let refused = try await exchange.send(.GET, rig.resourceURL, access: staticAccess, authorize: Self.bearer).get()
                #expect(refused.response.status == 401 && rig.sandbox.stats.resourceCalls == 6)
                await cleanup()
            } catch {
                await cleanup()
                throw error
            }
        }
    }

    @Test("the token double refuses a reused refresh token with invalid_grant, and a wrong client with invalid_client")
    func singleUseRefreshTokens() async throws {
        try await Self.withRig { rig in
            let endpoint = OAuthTokenEndpoint(transport: rig.transport)
            let id = OAuthTokenSandbox.defaultClientId, secret = OAuthTokenSandbox.defaultClientSecret
            let issued = try await endpoint.clientCredentials(tokenURL: rig.tokenURL, clientId: id, clientSecret: secret, scope: nil)
            let refreshToken = try #require(issued.refreshToken)
            #expect(issued.expiresIn == 3600)
            let renewed = try await endpoint.refresh(tokenURL: rig.tokenURL, clientId: id, clientSecret: secret, refreshToken: refreshToken)
            #expect(renewed.accessToken != issued.accessToken)
            let reused = await #expect(throws: CredentialFailure.self) {
                try await endpoint.refresh(tokenURL: rig.tokenURL, clientId: id, clientSecret: secret, refreshToken: refreshToken)
            }
            #expect(reused?.failureClass == .auth && reused?.retryable == false)
            #expect(reused?.message.contains("invalid_grant") == true, "\(reused?.message ?? "")")
            #expect(rig.sandbox.stats.invalidGrants == 1)
            let wrongClient = await #expect(throws: CredentialFailure.self) {
                try await endpoint.clientCredentials(tokenURL: rig.tokenURL, clientId: id, clientSecret: "nope", scope: nil)
            }
            #expect(wrongClient?.message.contains("invalid_client") == true)
        }
    }

    @Test("a refused refresh is an auth failure for the attempt, and releases the lease")
    func refusedRefresh() async throws {
        try await Self.withRig { rig in
            let (stores, _, _, cleanup) = try await Self.sqlite.make()
            do {
                try await stores.migrate()
                try await stores.createTenant(Self.tenant, createdAt: 1)
                let access = try rig.access(rig.provider(stores, owner: "replica-a"))
                _ = try await access.credentials.credential()
                rig.sandbox.reset()  // the POS forgets every token: the stored refresh token is now unknown
                rig.advance(byMs: 2 * 3_600_000)
                let failure = await #expect(throws: CredentialFailure.self) { try await access.credentials.credential() }
                #expect(failure?.failureClass == .auth && failure?.retryable == false)
                let row = try #require(try await stores.providerToken(tenantId: Self.tenant.id, slug: Self.slug))
                #expect(row.refreshOwner == nil && row.version == 1)
                await cleanup()
            } catch {
                await cleanup()
                throw error
            }
        }
    }
}

/// Time the test moves: tokens expire by it, the token double's own clock is real.
final class TestClock: Sendable {
    private let milliseconds: Mutex<Int64>

    init(_ start: Int64) { milliseconds = Mutex(start) }

    var now: Int64 { milliseconds.withLock { $0 } }

    func advance(byMs delta: Int64) { milliseconds.withLock { $0 += delta } }
}

@Suite("Connector capabilities")
struct ConnectorCapabilityTests {
    static let registry = ConnectorRegistry.builtIn(exchange: POSExchange(transport: ConnectorMappingTests.unusedTransport, clock: { 0 }))

    @Test("the registry answers the connector for a slug that can do a thing, and nil when it cannot")
    func typedLookup() {
        #expect(Self.registry.connector("revel", as: (any RemoteOutletListing).self) != nil)
        #expect(Self.registry.connector("oktopos", as: (any RemoteOutletListing).self) == nil)
        #expect(Self.registry.connector("desibits", as: (any OrderDispatching).self) != nil)
        #expect(Self.registry.connector("revel", as: (any OrderCancelling).self) == nil)
        #expect(Self.registry.connector("oktopos", as: (any OrderStatusPolling).self) == nil)
        #expect(Self.registry.connector("desibits", as: (any OrderStatusPolling).self) != nil)
        #expect(Self.registry.connector("squarepos", as: (any OrderDispatching).self) == nil)
    }

    @Test("capability names come from conformance")
    func names() {
        #expect(ConnectorCapability.of(Self.registry.connector("oktopos")!) == [.dispatchOrder, .cancelOrder, .menuImport, .testConnection])
        #expect(ConnectorCapability.of(Self.registry.connector("desibits")!) == [.dispatchOrder, .cancelOrder, .statusPolling, .menuImport, .testConnection])
        #expect(ConnectorCapability.of(Self.registry.connector("revel")!) == [.dispatchOrder, .inboundStatus, .menuImport, .testConnection, .listRemoteOutlets])
    }

    @Test("the API shows the capabilities a connection's connector adopts, and refuses one it does not")
    func capabilitiesOverHTTP() async throws {
        try await ConnectorDispatchTests.withRig { rig in
            try await rig.connect("revel")
            try await rig.connect("oktopos", outletId: "another-outlet")
            let revel = try await rig.service.call("GET", "/api/v1/provider-connections/revel", key: rig.keys.adminKey)
            #expect(revel.json["capabilities"] as? [String] == ["dispatchOrder", "inboundStatus", "menuImport", "testConnection", "listRemoteOutlets"], "\(revel.text)")
            let oktopos = try await rig.service.call("GET", "/api/v1/provider-connections/oktopos", key: rig.keys.adminKey)
            #expect(oktopos.json["capabilities"] as? [String] == ["dispatchOrder", "cancelOrder", "menuImport", "testConnection"], "\(oktopos.text)")
            let outlets = try await rig.service.call("GET", "/api/v1/provider-connections/oktopos/remote-outlets", key: rig.keys.adminKey)
            #expect(outlets.status == 400 && (outlets.error["message"] as? String)?.contains("cannot list its outlets") == true, "\(outlets.text)")
        }
    }

    @Test("failure classes keep the strings stored before they were a type")
    func failureClassRawValues() {
        let stored: [FailureClass: String] = [
            .httpStatus: "http_status", .timeout: "timeout", .network: "network", .invalidTarget: "invalid_target",
            .forbiddenTarget: "forbidden_target", .auth: "auth", .rejected: "rejected", .mapping: "mapping",
            .configuration: "configuration", .unexpectedResponse: "unexpected_response", .storage: "storage",
            .interrupted: "interrupted",
        ]
        #expect(Set(stored.keys) == Set(FailureClass.allCases))
        for (failureClass, raw) in stored { #expect(failureClass.rawValue == raw) }
    }
}
