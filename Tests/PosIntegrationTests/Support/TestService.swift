import Foundation
import Logging
import NIOCore
import PosApp
import PosConnectors
import PosDomain
import PosHTTP
import PosServices
import PosStorage

/// The whole service on a real SQLite file and a real loopback port, with helpers to call it.
final class TestService: Sendable {
    let directory: URL
    let stores: any StoreEngine
    /// Whether `stop()` closes the stores (false when replicas share them).
    private let ownsStores: Bool
    let server: LiveServer
    let routes: RouteTable
    let admin: TenantAdministration
    let secretBox: SecretBox
    let services: ServiceGraph
    /// Every attempt the outbox worker records, to wait on.
    let events: AttemptEvents
    private let transport: HTTPTransport
    private let client: HTTPTransport

    var baseURL: String { "http://127.0.0.1:\(server.port)" }
    var databasePath: String { directory.appendingPathComponent("pos.sqlite").path }

    private init(directory: URL, stores: any StoreEngine, ownsStores: Bool, server: LiveServer, routes: RouteTable, admin: TenantAdministration,
                 secretBox: SecretBox, transport: HTTPTransport, client: HTTPTransport, services: ServiceGraph, events: AttemptEvents) {
        self.directory = directory
        self.stores = stores
        self.ownsStores = ownsStores
        self.server = server
        self.routes = routes
        self.admin = admin
        self.secretBox = secretBox
        self.transport = transport
        self.client = client
        self.services = services
        self.events = events
    }

    static func start(
        baseDomain: String? = nil, maxBodyBytes: Int = 1 << 20, deliveryTimeout: TimeAmount = .seconds(5),
        authCacheTTLMs: Int64 = 1_000, schedule: RetrySchedule = .standard,
        // Test receivers listen on loopback.
        outboundGuard: OutboundGuard = OutboundGuard(allowPrivateTargets: true),
        clock: @escaping ServiceClock = SystemClock.now, rotationOverlapMs: Int64 = 86_400_000,
        health: EndpointHealthPolicy = EndpointHealthPolicy(),
        // Replicas: several services on the same stores, with the same master key.
        sharedStores: (any StoreEngine)? = nil, sharedSecretBox: SecretBox? = nil, pollIntervalMs: Int64 = 20,
        statusPollSchedule: RetrySchedule = .statusPolling, loyalty: LoyaltySettings = LoyaltySettings(),
        // Observability: where log lines go, `POS_METRICS`, `POS_METRICS_TOKEN`, and the worker's stall threshold.
        logger: Logger = testLogger, metricsEnabled: Bool = true, metricsToken: String? = nil, workerStallMs: Int64? = nil
    ) async throws -> TestService {
        let events = AttemptEvents()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pos-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let stores: any StoreEngine
        if let sharedStores {
            stores = sharedStores
        } else {
            stores = try SQLStores.sqlite(path: directory.appendingPathComponent("pos.sqlite").path)
            try await stores.migrate()
        }
        let secretBox = try sharedSecretBox ?? SecretBox(encodedMasterKey: SecretBox.generateEncodedMasterKey())
        let transport = HTTPTransport(timeout: deliveryTimeout, outboundGuard: outboundGuard)
        var delivery = DeliverySettings(timeoutMs: deliveryTimeout.nanoseconds / 1_000_000, schedule: schedule,
                                        pollIntervalMs: pollIntervalMs, instanceId: "test-\(UUID().uuidString.prefix(8))",
                                        rotationOverlapMs: rotationOverlapMs, health: health)
        delivery.statusPollSchedule = statusPollSchedule
        delivery.workerStallMs = workerStallMs
        let services = ServiceGraph(
            stores: stores, transport: transport, secretBox: secretBox, outboundGuard: outboundGuard, clock: clock,
            delivery: delivery,
            authCacheTTLMs: authCacheTTLMs, loyalty: loyalty, logger: logger, onAttemptRecorded: { events.record($0) },
            metricsEnabled: metricsEnabled)
        var edge = EdgeSettings(baseDomain: baseDomain, maxBodyBytes: maxBodyBytes)
        edge.metricsToken = metricsToken
        let settings = ServerSettings(host: "127.0.0.1", port: 0, edge: edge)
        var routes: RouteTable?
        let server = try await LiveServer.start { onServerRunning in
            let made = PosApplication.make(services: services, settings: settings, logger: logger, onServerRunning: onServerRunning)
            routes = made.routes
            return made.application
        }
        guard let routes else { throw TestFailure("the application was not made") }
        return TestService(
            directory: directory, stores: stores, ownsStores: sharedStores == nil, server: server, routes: routes,
            admin: TenantAdministration(tenants: stores, keys: stores, clock: SystemClock.now),
            secretBox: secretBox, transport: transport,
            client: HTTPTransport(timeout: .seconds(30), maxResponseBytes: 4 << 20, outboundGuard: nil),
            services: services, events: events)
    }

    func stop() async {
        await server.stop()
        await transport.shutdown()
        await client.shutdown()
        if ownsStores { await stores.shutdown() }
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Calling the service

    struct Reply: Sendable {
        let status: Int
        let headers: [(String, String)]
        let body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
        }

        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        }

        var error: [String: Any] { json["error"] as? [String: Any] ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Calls this service, or another server on loopback `port`.
    func call(_ method: String, _ path: String, key: String? = nil, headers: [(String, String)] = [],
              json body: [UInt8]? = nil, contentType: String? = "application/json", port: Int? = nil) async throws -> Reply {
        var allHeaders = headers
        if let key { allHeaders.append(("X-Api-Key", key)) }
        if body != nil, let contentType { allHeaders.append(("Content-Type", contentType)) }
        let base = port.map { "http://127.0.0.1:\($0)" } ?? baseURL
        let response = try await client.send(method: .init(rawValue: method), url: base + path, headers: allHeaders, body: body)
        return Reply(status: response.status, headers: response.headers, body: response.body)
    }

    func dispatch(_ body: [UInt8], key: String, headers: [(String, String)] = []) async throws -> Reply {
        try await call("POST", "/api/v1/orders/dispatch", key: key, headers: headers, json: body)
    }

    // MARK: Arranging data

    struct TenantKeys: Sendable {
        let tenant: Tenant
        let internalKey: String
        let partnerKey: String
        let adminKey: String
    }

    func tenant(_ subdomain: String) async throws -> TenantKeys {
        let tenant = try await admin.createTenant(subdomain: subdomain, name: subdomain.capitalized)
        return TenantKeys(
            tenant: tenant,
            internalKey: try await admin.createKey(tenant: subdomain, scopes: [.internal], expiresInDays: nil).key,
            partnerKey: try await admin.createKey(tenant: subdomain, scopes: [.partner], expiresInDays: nil).key,
            adminKey: try await admin.createKey(tenant: subdomain, scopes: [.admin], expiresInDays: nil).key)
    }

    /// Registers a webhook through the API; returns its id and `whsec_` secret.
    func registerWebhook(outletId: String, url: String, key: String, provider: String = "acme-pos") async throws -> (id: Int, secret: String) {
        let body = Array(#"{"outletId":"\#(outletId)","provider":"\#(provider)","callbackUrl":"\#(url)","events":["order.paid"]}"#.utf8)
        let reply = try await call("POST", "/api/v1/webhooks/register", key: key, json: body)
        guard reply.status == 201, let webhook = reply.json["webhook"] as? [String: Any],
              let id = webhook["id"] as? Int, let secret = webhook["secret"] as? String
        else { throw TestFailure("register failed: \(reply.status) \(reply.text)") }
        return (id, secret)
    }
}

/// Runs `body` against a fresh service and always stops it.
func withTestService<T>(
    baseDomain: String? = nil, maxBodyBytes: Int = 1 << 20, schedule: RetrySchedule = .standard,
    deliveryTimeout: TimeAmount = .seconds(5), authCacheTTLMs: Int64 = 1_000, outboundGuard: OutboundGuard = OutboundGuard(allowPrivateTargets: true),
    clock: @escaping ServiceClock = SystemClock.now, rotationOverlapMs: Int64 = 86_400_000,
    health: EndpointHealthPolicy = EndpointHealthPolicy(), statusPollSchedule: RetrySchedule = .statusPolling,
    loyalty: LoyaltySettings = LoyaltySettings(), logger: Logger = testLogger, metricsToken: String? = nil,
    _ body: (TestService) async throws -> T
) async throws -> T {
    let service = try await TestService.start(baseDomain: baseDomain, maxBodyBytes: maxBodyBytes, deliveryTimeout: deliveryTimeout,
                                              authCacheTTLMs: authCacheTTLMs, schedule: schedule, outboundGuard: outboundGuard, clock: clock,
                                              rotationOverlapMs: rotationOverlapMs, health: health, statusPollSchedule: statusPollSchedule,
                                              loyalty: loyalty, logger: logger, metricsToken: metricsToken)
    return try await service.running(body)
}

extension TestService {
    /// Runs `body` against this started service and always stops it.
    func running<T>(_ body: (TestService) async throws -> T) async throws -> T {
        do {
            let result = try await body(self)
            await stop()
            return result
        } catch {
            await stop()
            throw error
        }
    }
}
