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

/// Everything the routes call, built once at start.
public struct ServiceGraph: Sendable {
    public let stores: any Stores
    public let auth: AuthService
    public let dispatch: DispatchService
    public let webhooks: WebhookService
    public let clock: ServiceClock

    public init(stores: any Stores, connector: any Connector, secretBox: SecretBox, clock: @escaping ServiceClock,
                deliveryTimeoutMs: Int64, authCacheTTLMs: Int64 = 1_000) {
        self.stores = stores
        self.clock = clock
        self.auth = AuthService(keys: stores, clock: clock, cacheTTLMs: authCacheTTLMs)
        self.dispatch = DispatchService(orders: stores, connector: connector, secretBox: secretBox, clock: clock,
                                        deliveryTimeoutMs: deliveryTimeoutMs)
        self.webhooks = WebhookService(webhooks: stores, secretBox: secretBox, clock: clock)
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
        WebhookRoutes(reader: reader, webhooks: services.webhooks).register(on: router, table: table)
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
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? settings.port) },
            logger: logger
        )
    }
}
