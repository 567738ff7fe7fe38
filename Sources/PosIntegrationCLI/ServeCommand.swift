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

    @Option(help: "Address to listen on (env POS_HOST).") var host: String?
    @Option(help: "Port to listen on (env POS_PORT).") var port: Int?
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        try CLILogging.bootstrap()
        let logger = Logger(label: "pos-integration")
        let environment = Settings.environment
        let traceExport = try TraceExport.bootstrap(environment: environment, logger: logger)
        let metrics: MetricsSettings
        do {
            metrics = try MetricsSettings.from(environment: environment)
        } catch {
            throw ValidationError(error.description)
        }
        let host = host ?? environment["POS_HOST"] ?? "127.0.0.1"
        guard let port = port ?? (environment["POS_PORT"].map { Int($0) } ?? 8080), (0...65535).contains(port) else {
            throw ValidationError("POS_PORT must be a port number")
        }
        let deliveryTimeoutMs = try Settings.duration("POS_DELIVERY_TIMEOUT", default: 10_000)
        let authCacheTTLMs = try Settings.duration("POS_AUTH_CACHE_TTL", default: 1_000, allowZero: true)
        let maxBodyBytes = try environment["POS_MAX_BODY_BYTES"].map { text in
            guard let value = Int(text), value > 0 else { throw ValidationError("POS_MAX_BODY_BYTES must be a positive integer") }
            return value
        } ?? (1 << 20)
        let location = try database.location()
        let secretBox = try Settings.secretBox(for: location, logger: logger)
        let stores = try await database.openStores(logger: logger)
        let outboundGuard = try Settings.outboundGuard()
        let maxResponseBytes = try environment["POS_MAX_RESPONSE_BYTES"].map { text in
            guard let value = Int(text), value > 0 else { throw ValidationError("POS_MAX_RESPONSE_BYTES must be a positive integer") }
            return value
        } ?? 64 * 1024
        let transport = HTTPTransport(timeout: .milliseconds(deliveryTimeoutMs), maxResponseBytes: maxResponseBytes,
                                      outboundGuard: outboundGuard)
        let clock = SystemClock.now
        let schedule = try environment["POS_RETRY_SCHEDULE"].map { text in
            guard let schedule = RetrySchedule(parsing: text) else {
                throw ValidationError("POS_RETRY_SCHEDULE must be comma-separated durations such as 0s,5s,5m,30m,2h")
            }
            return schedule
        } ?? .standard
        var delivery = DeliverySettings(
            timeoutMs: deliveryTimeoutMs, schedule: schedule,
            pollIntervalMs: try Settings.duration("POS_WORKER_POLL_INTERVAL", default: 1_000),
            instanceId: "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))",
            rotationOverlapMs: try Settings.duration("POS_SECRET_ROTATION_OVERLAP", default: 86_400_000),
            health: EndpointHealthPolicy(
                failureThreshold: try Settings.count("POS_CIRCUIT_FAILURES", default: 5),
                cooldownMs: try Settings.duration("POS_CIRCUIT_COOLDOWN", default: 60_000),
                disableAfterMs: try Settings.duration("POS_DISABLE_AFTER", default: 5 * 86_400_000)))
        delivery.leaseMarginMs = try Settings.duration("POS_LEASE_MARGIN", default: 30_000)
        if environment["POS_STATUS_POLL_SCHEDULE"] != nil || environment["POS_STATUS_POLL_FOR"] != nil {
            let steps = try environment["POS_STATUS_POLL_SCHEDULE"].map { text in
                guard let steps = RetrySchedule(parsing: text)?.delaysMs else {
                    throw ValidationError("POS_STATUS_POLL_SCHEDULE must be comma-separated durations such as 30s,1m,2m,5m")
                }
                return steps
            } ?? RetrySchedule.statusPollingSteps
            guard let polling = RetrySchedule.polling(steps: steps, horizonMs: try Settings.duration("POS_STATUS_POLL_FOR", default: 86_400_000)) else {
                throw ValidationError("POS_STATUS_POLL_SCHEDULE must end with a step longer than 0s, within POS_STATUS_POLL_FOR")
            }
            delivery.statusPollSchedule = polling
        }
        guard delivery.leaseMarginMs >= 1_000 else { throw ValidationError("POS_LEASE_MARGIN must be at least 1s") }
        let loyalty = try Settings.loyalty()
        let consoleIdleMs = try Settings.duration("POS_CONSOLE_SESSION_IDLE", default: 30 * 60_000)
        guard consoleIdleMs >= 60_000 else { throw ValidationError("POS_CONSOLE_SESSION_IDLE must be at least 1m") }
        let services = ServiceGraph(
            stores: stores, transport: transport, secretBox: secretBox, outboundGuard: outboundGuard, clock: clock,
            delivery: delivery, authCacheTTLMs: authCacheTTLMs, loyalty: loyalty,
            console: ConsoleSessionSettings(idleTimeoutMs: consoleIdleMs), logger: logger, metricsEnabled: metrics.enabled)
        var edge = EdgeSettings(baseDomain: environment["POS_BASE_DOMAIN"], maxBodyBytes: maxBodyBytes, publicURL: environment["POS_PUBLIC_URL"])
        edge.metricsToken = metrics.token
        let settings = ServerSettings(host: host, port: port, edge: edge)
        let (app, _) = PosApplication.make(services: services, settings: settings, logger: logger) { port in
            logger.info("pos-integration listening", metadata: ["address": .string("http://\(host):\(port)"), "database": .string("\(location)")])
        }
        // SIGTERM/SIGINT: stop accepting, let in-flight attempts finish (they end within the delivery
        // timeout), then close the outbound client and the stores; past the deadlines whatever is
        // left is cancelled, so shutdown is always bounded.
        let closing = ClosingService("outbound client, stores") {
            await transport.shutdown()
            await stores.shutdown()
        }
        // Listed first, so it stops last and exports the spans of the shutdown too.
        var group = ServiceGroupConfiguration(services: [traceExport].compactMap { $0 } + [closing, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .milliseconds(deliveryTimeoutMs + 10_000)
        group.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: group).run()
    }
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Bring the database schema up to date.")
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        try CLILogging.bootstrap()
        let stores = try await database.openStores(logger: Logger(label: "pos-integration"))
        await stores.shutdown()
        print(#"{"migrated":true}"#)
    }
}
