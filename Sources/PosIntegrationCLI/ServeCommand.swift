import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import PosApp
import PosConnectors
import PosDomain
import PosHTTP
import PosServices
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the HTTP service.")

    @OptionGroup var listen: ListenOptions
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let settings = try database.settings(flags: listen.flags)
        let logger = Logger(label: "pos-integration")
        // Before the database opens: a refused OTEL_* setting stops the start like any bad setting.
        let traceExport: (any Service)?
        do {
            traceExport = try TraceExport.bootstrap(environment: ProcessInfo.processInfo.environment, logger: logger)
        } catch {
            throw refused(String(describing: error))
        }
        let secretBox = try MasterKey.secretBox(settings, logger: logger)
        let stores = try await DatabaseOptions.openStores(settings, logger: logger)
        let transport = HTTPTransport(timeout: .milliseconds(settings.deliveryTimeoutMs), maxResponseBytes: settings.maxResponseBytes,
                                      outboundGuard: settings.outboundGuard)
        let services = ServiceGraph(
            stores: stores, transport: transport, secretBox: secretBox, outboundGuard: settings.outboundGuard, clock: SystemClock.now,
            delivery: settings.delivery(
                instanceId: "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"),
            authCacheTTLMs: settings.authCacheTTLMs, loyalty: settings.loyalty, console: settings.console, logger: logger,
            metricsEnabled: settings.metrics.enabled)
        let host = settings.host
        let location = settings.database
        let (app, _) = PosApplication.make(services: services, settings: settings.server, logger: logger) { port in
            logger.info("pos-integration listening", metadata: ["address": .string("http://\(host):\(port)"), "database": .string("\(location)")])
        }
        // SIGTERM/SIGINT: stop accepting, let in-flight attempts finish (they end within the delivery
        // timeout), then close the outbound client and the stores; past the deadlines whatever is
        // left is cancelled, so shutdown is always bounded.
        let closing = ClosingService("outbound client, stores") {
            await transport.shutdown()
            await stores.shutdown()
        }
        // The trace exporter is listed first, so it stops last and exports the spans of the shutdown too.
        var group = ServiceGroupConfiguration(services: [traceExport].compactMap { $0 } + [closing, app], gracefulShutdownSignals: [.sigterm, .sigint],
                                              logger: logger)
        group.maximumGracefulShutdownDuration = .milliseconds(settings.deliveryTimeoutMs + 10_000)
        group.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: group).run()
    }
}

/// `--host` and `--port`, which win over `POS_HOST` and `POS_PORT`.
struct ListenOptions: ParsableArguments {
    @Option(help: "Address to listen on (env POS_HOST).") var host: String?
    @Option(help: "Port to listen on (env POS_PORT).") var port: Int?

    var flags: [SettingVariable: String] {
        var flags: [SettingVariable: String] = [:]
        if let host { flags[.host] = host }
        if let port { flags[.port] = String(port) }
        return flags
    }
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Bring the database schema up to date.")
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let stores = try await DatabaseOptions.openStores(try database.settings(), logger: Logger(label: "pos-integration"))
        await stores.shutdown()
        print(#"{"migrated":true}"#)
    }
}
