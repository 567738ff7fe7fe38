import Hummingbird
import PosDomain
import PosServices

/// The services the routes call.
public struct APIServices: Sendable {
    public let auth: AuthService
    public let dispatch: DispatchService
    public let deliveries: DeliveryService
    public let webhooks: WebhookService
    public let providers: ProviderService
    public let orderStatus: OrderStatusService
    public let inbound: InboundStatusService
    public let catalog: CatalogService
    public let menus: MenuService
    public let imports: MenuImportService
    public let menuDrafts: MenuDraftService
    public let loyalty: LoyaltyService
    public let apiKeys: APIKeyService
    public let health: HealthService
    public let clock: ServiceClock
    /// `GET /metrics` and the HTTP metrics; nil when metrics are off (`POS_METRICS=off`).
    public var metrics: MetricsExposition?

    public init(auth: AuthService, dispatch: DispatchService, deliveries: DeliveryService, webhooks: WebhookService,
                providers: ProviderService, orderStatus: OrderStatusService, inbound: InboundStatusService, catalog: CatalogService, menus: MenuService, imports: MenuImportService,
                menuDrafts: MenuDraftService, loyalty: LoyaltyService, apiKeys: APIKeyService, health: HealthService,
                clock: @escaping ServiceClock, metrics: MetricsExposition? = nil) {
        self.metrics = metrics
        self.auth = auth
        self.apiKeys = apiKeys
        self.catalog = catalog
        self.menus = menus
        self.imports = imports
        self.menuDrafts = menuDrafts
        self.loyalty = loyalty
        self.dispatch = dispatch
        self.orderStatus = orderStatus
        self.inbound = inbound
        self.deliveries = deliveries
        self.webhooks = webhooks
        self.providers = providers
        self.health = health
        self.clock = clock
    }
}

/// What the HTTP edge needs from the deployment.
public struct EdgeSettings: Sendable {
    /// Partners' hosts are `<subdomain>.<baseDomain>` (`POS_BASE_DOMAIN`).
    public var baseDomain: String?
    public var maxBodyBytes: Int
    /// How POS systems reach this service (`POS_PUBLIC_URL`), for connections' `inboundUrl`; without
    /// it, the scheme and host the admin's request came in on.
    public var publicURL: String?
    /// `POS_METRICS_TOKEN`: when set, `GET /metrics` wants `Authorization: Bearer <token>`.
    public var metricsToken: String?

    public init(baseDomain: String? = nil, maxBodyBytes: Int = 1 << 20, publicURL: String? = nil) {
        self.baseDomain = baseDomain
        self.maxBodyBytes = maxBodyBytes
        self.publicURL = publicURL
    }
}

public enum PosRouter {
    /// The router with every route and the middleware chain; `table` records what was registered.
    public static func build(services: APIServices, settings: EdgeSettings) -> (Router<PosRequestContext>, RouteTable) {
        let table = RouteTable(maxBodyBytes: settings.maxBodyBytes)
        let router = Router(context: PosRequestContext.self)
        if let metrics = services.metrics { router.add(middleware: HTTPMetricsMiddleware<PosRequestContext>(factory: metrics.factory)) }
        router.add(middleware: RequestTracingMiddleware<PosRequestContext>())
        router.add(middleware: RequestIdentityMiddleware())
        router.add(middleware: ErrorEnvelopeMiddleware(routes: table))

        let open = RouteRegistrar(group: router.group(), table: table, access: .public)
        // Every route below `authenticated` has a caller: the authenticator runs first, and the
        // child context refuses to exist without its principal.
        let authenticated = router.group()
            .add(middleware: APIKeyAuthenticator(auth: services.auth, baseDomain: settings.baseDomain))
            .group(context: AuthenticatedContext.self)
        func apiKey(anyOf scopes: Set<APIScope>?) -> RouteRegistrar<AuthenticatedContext> {
            RouteRegistrar(group: authenticated.group().add(middleware: ScopePolicyMiddleware(anyOf: scopes)),
                           table: table, access: .apiKey(scopes: scopes))
        }
        let anyKey = apiKey(anyOf: nil)
        let internalOnly = apiKey(anyOf: [.internal])
        let internalOrPartner = apiKey(anyOf: [.internal, .partner])
        let partnerOnly = apiKey(anyOf: [.partner])
        let partnerOrAdmin = apiKey(anyOf: [.partner, .admin])
        let internalOrAdmin = apiKey(anyOf: [.internal, .admin])
        let internalPartnerOrAdmin = apiKey(anyOf: [.internal, .partner, .admin])
        let adminOnly = apiKey(anyOf: [.admin])

        let body = JSONBodyDecoder(maxBodyBytes: settings.maxBodyBytes)
        let system = SystemRoutes(health: services.health)
        let auth = AuthRoutes(clock: services.clock)
        let orders = OrderRoutes(body: body, orders: services.dispatch, statuses: services.orderStatus)
        let inbound = InboundRoutes(inbound: services.inbound, maxBodyBytes: settings.maxBodyBytes, publicURL: settings.publicURL)
        let webhooks = WebhookRoutes(body: body, webhooks: services.webhooks, deliveries: services.deliveries)
        let deliveries = DeliveryRoutes(body: body, deliveries: services.deliveries)
        let providers = ProviderRoutes(body: body, providers: services.providers, publicURL: settings.publicURL)
        let catalog = CatalogRoutes(body: body, catalog: services.catalog, clock: services.clock)
        let menus = MenuRoutes(body: body, menus: services.menus, imports: services.imports, deliveries: services.deliveries)
        let drafts = MenuDraftRoutes(body: body, drafts: services.menuDrafts)
        let loyalty = LoyaltyRoutes(body: body, loyalty: services.loyalty)
        let apiKeys = APIKeyRoutes(body: body, keys: services.apiKeys)
        let metrics = MetricsRoutes(exposition: services.metrics, token: settings.metricsToken)

        // The route list: who may call each endpoint, and the handler that serves it.
        open.get("/health", use: system.live)
        open.get("/ready", use: system.ready)
        open.get("/openapi.json", use: system.openAPI)
        open.get("/metrics", use: metrics.scrape)
        open.get("/api/v1/webhooks/events", use: webhooks.events)
        open.post("/api/v1/inbound/{provider}/order-status/{connectionToken}", use: inbound.orderStatus)
        open.get("/api/v1/oauth/lightspeed/callback", use: providers.oauthCallback)

        anyKey.get("/api/v1/auth/whoami", use: auth.whoAmI)

        internalOnly.post("/api/v1/orders/dispatch", use: orders.dispatch)
        internalOrPartner.get("/api/v1/orders/{orderId}", use: orders.order)
        internalOrPartner.post("/api/v1/orders/{orderId}/status", use: orders.status)
        internalOnly.post("/api/v1/orders/{orderId}/cancel", use: orders.cancel)

        partnerOrAdmin.post("/api/v1/webhooks/register", use: webhooks.register)
        partnerOrAdmin.get("/api/v1/webhooks", use: webhooks.list)
        partnerOrAdmin.get("/api/v1/webhooks/{webhookId}", use: webhooks.webhook)
        partnerOrAdmin.put("/api/v1/webhooks/{webhookId}", use: webhooks.update)
        partnerOrAdmin.delete("/api/v1/webhooks/{webhookId}", use: webhooks.delete)
        partnerOrAdmin.get("/api/v1/webhooks/{webhookId}/deliveries", use: webhooks.deliveries)
        partnerOrAdmin.post("/api/v1/webhooks/{webhookId}/rotate-secret", use: webhooks.rotateSecret)

        internalOrAdmin.get("/api/v1/deliveries", use: deliveries.list)
        internalOrAdmin.post("/api/v1/deliveries/recover", use: deliveries.recover)
        internalOrAdmin.get("/api/v1/deliveries/{deliveryId}", use: deliveries.delivery)
        internalOrAdmin.post("/api/v1/deliveries/{deliveryId}/retry", use: deliveries.retry)

        adminOnly.get("/api/v1/provider-connections", use: providers.connections)
        adminOnly.put("/api/v1/provider-connections/{slug}", use: providers.putConnection)
        adminOnly.get("/api/v1/provider-connections/{slug}", use: providers.connection)
        adminOnly.delete("/api/v1/provider-connections/{slug}", use: providers.deleteConnection)
        adminOnly.post("/api/v1/provider-connections/{slug}/test", use: providers.testConnection)
        adminOnly.get("/api/v1/provider-connections/{slug}/remote-outlets", use: providers.remoteOutlets)
        adminOnly.get("/api/v1/provider-connections/{slug}/oauth/start", use: providers.oauthStart)
        adminOnly.put("/api/v1/outlet-providers/{outletId}", use: providers.putOutletProvider)
        adminOnly.get("/api/v1/outlet-providers/{outletId}", use: providers.outletProvider)
        adminOnly.get("/api/v1/inbound-requests", use: inbound.requests)

        partnerOrAdmin.post("/api/v1/outlets", use: catalog.createOutlet)
        partnerOrAdmin.post("/api/v1/outlets/sync", use: catalog.syncOutlet)
        internalPartnerOrAdmin.get("/api/v1/outlets", use: catalog.outlets)
        internalPartnerOrAdmin.get("/api/v1/outlets/{outletId}", use: catalog.outlet)
        internalPartnerOrAdmin.patch("/api/v1/outlets/{outletId}/status", use: catalog.status)
        internalPartnerOrAdmin.patch("/api/v1/outlets/{outletId}/busy", use: catalog.busy)
        partnerOrAdmin.post("/api/v1/products/sync", use: catalog.syncProducts)
        internalPartnerOrAdmin.get("/api/v1/products", use: catalog.products)
        internalPartnerOrAdmin.get("/api/v1/products/{itemCode}", use: catalog.product)
        partnerOrAdmin.post("/api/v1/outlets/{outletId}/menu", use: menus.sync)
        internalOrPartner.get("/api/v1/outlets/{outletId}/menu", use: menus.menu)
        internalPartnerOrAdmin.post("/api/v1/outlets/{outletId}/items/snooze", use: menus.snooze)
        internalOrAdmin.post("/api/v1/menus/drafts", use: drafts.create)
        internalOrAdmin.get("/api/v1/menus/drafts", use: drafts.list)
        internalOrAdmin.get("/api/v1/menus/drafts/{draftId}", use: drafts.draft)
        internalOrAdmin.put("/api/v1/menus/drafts/{draftId}", use: drafts.replace)
        internalOrAdmin.delete("/api/v1/menus/drafts/{draftId}", use: drafts.delete)
        internalOrAdmin.post("/api/v1/menus/drafts/{draftId}/sections", use: drafts.addSection)
        internalOrAdmin.put("/api/v1/menus/drafts/{draftId}/sections/{sectionId}/items", use: drafts.setSectionItems)
        internalOrAdmin.put("/api/v1/menus/drafts/{draftId}/operating-hours", use: drafts.setOperatingHours)
        internalOrAdmin.put("/api/v1/menus/drafts/{draftId}/outlets", use: drafts.setOutlets)
        internalOrAdmin.post("/api/v1/menus/publish", use: drafts.publish)
        internalOrAdmin.get("/api/v1/menus/publications", use: drafts.publications)
        adminOnly.post("/api/v1/provider-connections/{slug}/import", use: menus.startImport)
        adminOnly.get("/api/v1/jobs/{jobId}", use: menus.job)

        adminOnly.put("/api/v1/loyalty/config", use: loyalty.putConfig)
        adminOnly.get("/api/v1/loyalty/config", use: loyalty.config)
        adminOnly.delete("/api/v1/loyalty/config", use: loyalty.deleteConfig)
        adminOnly.get("/api/v1/loyalty/transactions", use: loyalty.transactions)
        partnerOnly.get("/api/v1/loyalty/balance", use: loyalty.balance)
        partnerOnly.post("/api/v1/loyalty/earn-points", use: loyalty.earnPoints)
        partnerOnly.post("/api/v1/loyalty/use-points", use: loyalty.usePoints)
        partnerOnly.get("/api/v1/loyalty/customer", use: loyalty.customer)

        // Last: the scope walk of the tests calls each route with each of a tenant's keys, and a
        // revocation there must not take a key away from the routes after it.
        adminOnly.post("/api/v1/api-keys", use: apiKeys.create)
        adminOnly.get("/api/v1/api-keys", use: apiKeys.list)
        adminOnly.post("/api/v1/api-keys/{apiKeyId}/rotate", use: apiKeys.rotate)
        adminOnly.delete("/api/v1/api-keys/{apiKeyId}", use: apiKeys.revoke)
        return (router, table)
    }
}
