import Hummingbird
import Logging
import PosConnectors
import PosDomain
import PosServices
import PosStorage

/// Settings of the HTTP server, from flags and `POS_*` environment variables.
public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int
    /// Partners' hosts are `<subdomain>.<baseDomain>` (`POS_BASE_DOMAIN`).
    public var baseDomain: String?
    public var maxBodyBytes: Int

    public init(host: String = "127.0.0.1", port: Int = 8080, baseDomain: String? = nil, maxBodyBytes: Int = 1 << 20) {
        self.host = host
        self.port = port
        self.baseDomain = baseDomain
        self.maxBodyBytes = maxBodyBytes
    }
}

/// How deliveries are attempted and retried.
public struct DeliverySettings: Sendable {
    public var timeoutMs: Int64
    public var schedule: RetrySchedule
    public var pollIntervalMs: Int64
    /// Names this process on delivery leases.
    public var instanceId: String

    /// How long a rotated-out webhook secret keeps signing (`POS_SECRET_ROTATION_OVERLAP`).
    public var rotationOverlapMs: Int64
    /// Circuit breaker and auto-disable.
    public var health: EndpointHealthPolicy

    public init(timeoutMs: Int64 = 10_000, schedule: RetrySchedule = .standard, pollIntervalMs: Int64 = 1_000, instanceId: String,
                rotationOverlapMs: Int64 = 86_400_000, health: EndpointHealthPolicy = EndpointHealthPolicy()) {
        self.rotationOverlapMs = rotationOverlapMs
        self.health = health
        self.timeoutMs = timeoutMs
        self.schedule = schedule
        self.pollIntervalMs = pollIntervalMs
        self.instanceId = instanceId
    }

    /// How much longer than an attempt's timeout its lease lasts (`POS_LEASE_MARGIN`, at least 1 s).
    public var leaseMarginMs: Int64 = 30_000
    /// A lease outlives the attempt it covers by the margin, so a slow but live attempt keeps it;
    /// after a crash, its deliveries wait this long before another worker takes them.
    public var leaseMs: Int64 { timeoutMs + max(1_000, leaseMarginMs) }
}

/// Everything the routes call, built once at start.
public struct ServiceGraph: Sendable {
    public let stores: any Stores
    public let auth: AuthService
    public let dispatch: DispatchService
    public let deliveries: DeliveryService
    public let webhooks: WebhookService
    public let worker: OutboxWorker
    public let providers: ProviderService
    public let clock: ServiceClock

    public init(stores: any Stores, connector: any Connector, posConnectors: ConnectorRegistry, secretBox: SecretBox, outboundGuard: OutboundGuard,
                clock: @escaping ServiceClock, delivery: DeliverySettings, authCacheTTLMs: Int64 = 1_000, logger: Logger,
                onAttemptRecorded: @escaping @Sendable (RecordedAttempt) -> Void = { _ in }) {
        self.stores = stores
        self.clock = clock
        self.auth = AuthService(keys: stores, clock: clock, cacheTTLMs: authCacheTTLMs)
        let deliverer = ConnectorDeliverer(registry: posConnectors, providers: stores, secretBox: secretBox, clock: clock)
        let attempter = DeliveryAttempter(connector: connector, connectors: deliverer, secretBox: secretBox, schedule: delivery.schedule,
                                          health: delivery.health, clock: clock)
        self.dispatch = DispatchService(orders: stores, attempter: attempter, connectors: deliverer, clock: clock,
                                        instanceId: delivery.instanceId, leaseMs: delivery.leaseMs, deliveryTimeoutMs: delivery.timeoutMs)
        self.providers = ProviderService(providers: stores, deliverer: deliverer, secretBox: secretBox, clock: clock)
        self.worker = OutboxWorker(
            outbox: stores, attempter: attempter,
            settings: .init(pollIntervalMs: delivery.pollIntervalMs, leaseMs: delivery.leaseMs),
            instanceId: delivery.instanceId, clock: clock, logger: logger, onAttemptRecorded: onAttemptRecorded)
        self.deliveries = DeliveryService(outbox: stores, worker: worker, clock: clock)
        self.webhooks = WebhookService(webhooks: stores, secretBox: secretBox, outboundGuard: outboundGuard, connector: connector,
                                       rotationOverlapMs: delivery.rotationOverlapMs, clock: clock)
    }
}

public enum PosServer {
    /// The router with every route and the middleware chain; `table` records what was registered.
    public static func buildRouter(services: ServiceGraph, settings: ServerSettings) -> (Router<PosRequestContext>, RouteTable) {
        let table = RouteTable(maxBodyBytes: settings.maxBodyBytes)
        let router = Router(context: PosRequestContext.self)
        router.add(middleware: RequestIdentityMiddleware())
        router.add(middleware: ErrorEnvelopeMiddleware(routes: table))
        let reader = RequestReader(auth: services.auth, baseDomain: settings.baseDomain, maxBodyBytes: settings.maxBodyBytes)
        SystemRoutes(health: services.stores).register(on: router, table: table)
        AuthRoutes(reader: reader, clock: services.clock).register(on: router, table: table)
        OrderRoutes(reader: reader, dispatch: services.dispatch).register(on: router, table: table)
        WebhookRoutes(reader: reader, webhooks: services.webhooks, deliveries: services.deliveries).register(on: router, table: table)
        DeliveryRoutes(reader: reader, deliveries: services.deliveries).register(on: router, table: table)
        ProviderRoutes(reader: reader, providers: services.providers).register(on: router, table: table)
        return (router, table)
    }

    public static func buildApplication(
        services: ServiceGraph, settings: ServerSettings, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let (router, _) = buildRouter(services: services, settings: settings)
        return Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "pos-integration"),
            services: [services.worker],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? settings.port) },
            logger: logger
        )
    }
}
