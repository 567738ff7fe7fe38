import CoreMetrics
import Logging
import PosConnectors
import PosConsole
import PosDomain
import PosHTTP
import PosServices
import PosStorage
import Prometheus

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
    /// When a POS without status webhooks is asked about an open order (`POS_STATUS_POLL_SCHEDULE`, `POS_STATUS_POLL_FOR`).
    public var statusPollSchedule: RetrySchedule = .statusPolling

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

    /// Readiness fails when the outbox worker has not looked for work this long; nil: five poll
    /// intervals plus the delivery timeout (a batch in flight holds the worker up to that long).
    public var workerStallMs: Int64?
    public var workerStallAfterMs: Int64 { workerStallMs ?? timeoutMs + 5 * pollIntervalMs }
}

/// Every service, wired once at start to the stores and to connectors on one outbound transport.
public struct ServiceGraph: Sendable {
    public let stores: any Stores
    public let auth: AuthService
    public let dispatch: DispatchService
    public let deliveries: DeliveryService
    public let webhooks: WebhookService
    public let worker: OutboxWorker
    public let providers: ProviderService
    public let orderStatus: OrderStatusService
    public let inbound: InboundStatusService
    public let catalog: CatalogService
    public let menus: MenuService
    public let menuDrafts: MenuDraftService
    public let imports: MenuImportService
    public let loyalty: LoyaltyService
    public let operations: OperationsService
    public let consoleSessions: ConsoleSessionService
    public let tenantAdministration: TenantAdministration
    public let apiKeys: APIKeyService
    public let clock: ServiceClock
    /// Readiness: the database, its schema, the outbox worker.
    public let health: HealthService
    /// This graph's own Prometheus registry (never the process-wide `MetricsSystem`), and what counts into it.
    public let metricsRegistry: PrometheusCollectorRegistry
    public let metrics: ServiceMetrics
    /// The store gauges, refreshed at most every few seconds when scraped.
    public let outboxGauges: OutboxGauges
    /// False under `POS_METRICS=off`: nothing is counted and `/metrics` is a 404.
    public let metricsEnabled: Bool

    public init(stores: any Stores, transport: HTTPTransport, secretBox: SecretBox, outboundGuard: OutboundGuard,
                clock: @escaping ServiceClock, delivery: DeliverySettings, authCacheTTLMs: Int64 = 1_000, outletStatusTTLMs: Int64 = 1_000,
                loyalty: LoyaltySettings = LoyaltySettings(), console: ConsoleSessionSettings = ConsoleSessionSettings(), logger: Logger,
                onAttemptRecorded: @escaping @Sendable (RecordedAttempt) -> Void = { _ in }, metricsEnabled: Bool = true) {
        let connector = WebhookConnector(transport: transport, clock: clock)
        let posConnectors = ConnectorRegistry.builtIn(exchange: POSExchange(transport: transport, clock: clock))
        let registry = PrometheusCollectorRegistry()
        let metrics = metricsEnabled ? ServiceMetrics(factory: Self.metricsFactory(registry), knownProviders: Set(posConnectors.slugs)) : .disabled
        self.metricsRegistry = registry
        self.metrics = metrics
        self.metricsEnabled = metricsEnabled
        self.outboxGauges = OutboxGauges(store: stores, metrics: metrics, clock: clock, logger: logger)
        self.stores = stores
        self.clock = clock
        let auth = AuthService(keys: stores, clock: clock, cacheTTLMs: authCacheTTLMs)
        self.auth = auth
        self.apiKeys = APIKeyService(keys: stores, clock: clock, auth: auth)
        // OAuth POS: tokens sealed in the stores, refreshed by one replica at a time (leases named by this instance).
        let credentials = CredentialProvider(secretBox: secretBox, tokens: stores, endpoint: OAuthTokenEndpoint(transport: transport),
                                             clock: clock, settings: .init(owner: delivery.instanceId),
                                             onReauthorizationRequired: { tenantId, slug in
                                                 await ConnectorDeliverer.markReauthorizationRequired(providers: stores, tenantId: tenantId, slug: slug,
                                                                                                      at: clock(), logger: logger)
                                             }, metrics: metrics)
        let deliverer = ConnectorDeliverer(registry: posConnectors, providers: stores, secretBox: secretBox, clock: clock,
                                           credentials: credentials)
        let orderStatus = OrderStatusService(store: stores, registry: posConnectors, clock: clock)
        self.orderStatus = orderStatus
        self.inbound = InboundStatusService(store: stores, registry: posConnectors, secretBox: secretBox, status: orderStatus, clock: clock,
                                            answered: .http, metrics: metrics)
        let menus = MenuService(store: stores, outlets: stores, providers: stores, clock: clock)
        self.menus = menus
        self.menuDrafts = MenuDraftService(store: stores, catalog: stores, clock: clock)
        let imports = MenuImportService(outbox: stores, catalog: stores, providers: stores, deliverer: deliverer, menus: menus, clock: clock)
        self.imports = imports
        let jobs = ConnectorJobs(orders: stores, deliverer: deliverer, status: orderStatus, pollSchedule: delivery.statusPollSchedule,
                                 imports: imports, clock: clock)
        let attempter = DeliveryAttempter(connector: connector, connectors: deliverer, jobs: jobs, secretBox: secretBox, schedule: delivery.schedule,
                                          health: delivery.health, clock: clock, metrics: metrics)
        let catalog = CatalogService(catalog: stores, providers: stores, statuses: OutletStatusCache(ttlMs: outletStatusTTLMs), clock: clock)
        self.catalog = catalog
        self.dispatch = DispatchService(orders: stores, attempter: attempter, connectors: deliverer, clock: clock,
                                        instanceId: delivery.instanceId, leaseMs: delivery.leaseMs, deliveryTimeoutMs: delivery.timeoutMs,
                                        outletStatus: { tenantId, outletId in await catalog.statusForDispatch(tenantId: tenantId, outletId: outletId) },
                                        metrics: metrics)
        self.providers = ProviderService(providers: stores, deliverer: deliverer, secretBox: secretBox, clock: clock, oauthStates: stores)
        self.loyalty = LoyaltyService(store: stores, client: LoyaltyClient(transport: transport), secretBox: secretBox, outboundGuard: outboundGuard,
                                      settings: loyalty, clock: clock, instanceId: delivery.instanceId, logger: logger,
                                      answered: .http, metrics: metrics)
        self.worker = OutboxWorker(
            outbox: stores, attempter: attempter,
            settings: .init(pollIntervalMs: delivery.pollIntervalMs, leaseMs: delivery.leaseMs),
            instanceId: delivery.instanceId, clock: clock, logger: logger, onAttemptRecorded: onAttemptRecorded)
        self.health = HealthService(store: stores, worker: worker.heartbeat, workerStallMs: delivery.workerStallAfterMs)
        self.deliveries = DeliveryService(outbox: stores, worker: worker, clock: clock)
        self.webhooks = WebhookService(webhooks: stores, secretBox: secretBox, outboundGuard: outboundGuard, connector: connector,
                                       rotationOverlapMs: delivery.rotationOverlapMs, clock: clock)
        self.operations = OperationsService(operations: stores, webhooks: stores, providers: stores, clock: clock)
        self.consoleSessions = ConsoleSessionService(sessions: stores, tenants: stores, auth: auth, clock: clock, settings: console)
        self.tenantAdministration = TenantAdministration(tenants: stores, keys: stores, clock: clock)
    }

    /// What the console's pages call: the same services as ``api``.
    public var console: ConsoleServices {
        ConsoleServices(sessions: consoleSessions, operations: operations, orders: dispatch, statuses: orderStatus, deliveries: deliveries,
                        webhooks: webhooks, providers: providers, catalog: catalog, menus: menus, loyalty: loyalty, inbound: inbound,
                        tenants: tenantAdministration, apiKeys: apiKeys, clock: clock)
    }

    /// What the HTTP routes call.
    public var api: APIServices {
        APIServices(auth: auth, dispatch: dispatch, deliveries: deliveries, webhooks: webhooks, providers: providers,
                    orderStatus: orderStatus, inbound: inbound, catalog: catalog, menus: menus, imports: imports,
                    menuDrafts: menuDrafts, loyalty: loyalty, apiKeys: apiKeys, health: health, clock: clock, metrics: metricsExposition)
    }

    /// What `GET /metrics` serves, nil when metrics are off.
    public var metricsExposition: MetricsExposition? {
        guard metricsEnabled, let factory = metrics.factory else { return nil }
        let registry = metricsRegistry, gauges = outboxGauges
        return MetricsExposition(factory: factory, scrape: {
            await gauges.refresh()
            return registry.emitToBuffer()
        })
    }

    /// Prometheus through swift-metrics, with buckets for the service's own histograms: an attempt
    /// takes milliseconds to the delivery timeout; a delivery may wait minutes for its first attempt.
    static func metricsFactory(_ registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[ServiceMetrics.Name.enqueueToFirstAttempt] = [
            .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2),
            .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(3600),
        ]
        factory.durationHistogramBuckets[ServiceMetrics.Name.attemptDuration] = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
        ]
        return factory
    }
}
