import Foundation
import Hummingbird
import Logging
import PosDomain
import PosHTTP
import PosServices

/// The services the console presents: the same ones the JSON API calls.
public struct ConsoleServices: Sendable {
    public let sessions: ConsoleSessionService
    public let operations: OperationsService
    public let orders: DispatchService
    public let statuses: OrderStatusService
    public let deliveries: DeliveryService
    public let webhooks: WebhookService
    public let providers: ProviderService
    public let catalog: CatalogService
    public let menus: MenuService
    public let loyalty: LoyaltyService
    public let inbound: InboundStatusService
    public let tenants: TenantAdministration
    public let apiKeys: APIKeyService
    public let clock: ServiceClock

    public init(sessions: ConsoleSessionService, operations: OperationsService, orders: DispatchService, statuses: OrderStatusService,
                deliveries: DeliveryService, webhooks: WebhookService, providers: ProviderService, catalog: CatalogService, menus: MenuService,
                loyalty: LoyaltyService, inbound: InboundStatusService, tenants: TenantAdministration, apiKeys: APIKeyService,
                clock: @escaping ServiceClock) {
        self.sessions = sessions
        self.operations = operations
        self.orders = orders
        self.statuses = statuses
        self.deliveries = deliveries
        self.webhooks = webhooks
        self.providers = providers
        self.catalog = catalog
        self.menus = menus
        self.loyalty = loyalty
        self.inbound = inbound
        self.tenants = tenants
        self.apiKeys = apiKeys
        self.clock = clock
    }
}

/// What the console needs from the deployment.
public struct ConsoleSettings: Sendable {
    /// `Secure` on the session cookie: set when the service is reached over https (`POS_PUBLIC_URL`).
    public var secureCookie: Bool
    /// Partners' hosts are `<subdomain>.<baseDomain>`: a tenant key signs in only on its own host, as in the API.
    public var baseDomain: String?
    public var maxBodyBytes: Int
    /// How POS systems reach this service, for connections' inbound URLs (`POS_PUBLIC_URL`).
    public var publicURL: String?

    public init(secureCookie: Bool = false, baseDomain: String? = nil, maxBodyBytes: Int = 1 << 20, publicURL: String? = nil) {
        self.secureCookie = secureCookie
        self.baseDomain = baseDomain
        self.maxBodyBytes = maxBodyBytes
        self.publicURL = publicURL
    }

    /// Derived from the API edge's settings, so the two presentations never disagree on them.
    public init(edge: EdgeSettings) {
        self.init(secureCookie: edge.publicURL?.lowercased().hasPrefix("https://") ?? false, baseDomain: edge.baseDomain,
                  maxBodyBytes: edge.maxBodyBytes, publicURL: edge.publicURL)
    }
}

/// The operations console at `/console`: server-rendered pages, forms that work without
/// JavaScript, a session cookie per signed-in person. Every rule it applies is a service's.
public enum Console {
    public static let root = "/console"

    /// Adds the console's routes to the API's router (and so behind its request-id middleware).
    /// Without its templates (a broken install) the console answers 503 and says why in the log;
    /// the API is not taken down with it.
    public static func register(on router: Router<PosRequestContext>, services: ConsoleServices, settings: ConsoleSettings,
                                logger: Logger) {
        let kit: ConsoleKit
        do {
            kit = try ConsoleKit(services: services, settings: settings, logger: logger)
        } catch {
            logger.error("the console is unavailable: its templates could not be loaded", metadata: ["error": .string(String(describing: error))])
            for path in [root, "\(root)/**"] {
                router.on(RouterPath(path), method: .get) { _, _ in Response(status: .serviceUnavailable) }
            }
            return
        }
        StaticAssets.register(on: router, kit: kit)
        SignInPages(kit: kit).register(on: router)
        OverviewPages(kit: kit).register(on: router)
        OrderPages(kit: kit).register(on: router)
        DeadLetterPages(kit: kit).register(on: router)
        PlatformPages(kit: kit).register(on: router)
        WebhookPages(kit: kit).register(on: router)
        ConnectionPages(kit: kit).register(on: router)
        OutletPages(kit: kit).register(on: router)
        KeyPages(kit: kit).register(on: router)
        LoyaltyPages(kit: kit).register(on: router)
    }
}
