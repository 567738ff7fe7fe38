import Hummingbird
import Logging
import PosConsole
import PosHTTP
import ServiceLifecycle

/// Where the HTTP server listens, and what its edge needs.
public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int
    public var edge: EdgeSettings

    public init(host: String = "127.0.0.1", port: Int = 8080, edge: EdgeSettings = EdgeSettings()) {
        self.host = host
        self.port = port
        self.edge = edge
    }
}

public enum PosApplication {
    /// The HTTP server with the outbox worker beside it, as one `Service`: the worker stops after
    /// the server has stopped taking requests. `routes` records what the router serves.
    public static func make(
        services: ServiceGraph, settings: ServerSettings, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> (application: some ApplicationProtocol, routes: RouteTable) {
        let (router, routes) = PosRouter.build(services: services.api, settings: settings.edge)
        Console.register(on: router, services: services.console, settings: ConsoleSettings(edge: settings.edge), logger: logger)
        let application = Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "pos-integration"),
            services: [services.worker],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? settings.port) },
            logger: logger
        )
        return (application, routes)
    }
}

/// Closes what outlives a request (connection pools, the outbound client) once graceful shutdown
/// reaches it. Listed before the application in a `ServiceGroup`, it runs after the application
/// has stopped, since a group shuts its services down in reverse order.
public struct ClosingService: Service, CustomStringConvertible {
    /// What it closes, for the group's log lines.
    private let what: String
    private let close: @Sendable () async -> Void

    public init(_ what: String, close: @escaping @Sendable () async -> Void) {
        self.what = what
        self.close = close
    }

    public var description: String { "ClosingService(\(what))" }

    public func run() async throws {
        // Cancellation (the group giving up) ends the wait too; closing happens either way.
        try? await gracefulShutdown()
        await close()
    }
}
