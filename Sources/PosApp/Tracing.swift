import Logging
import OTel
import ServiceLifecycle
import Tracing

/// Exports traces over OTLP through swift-otel when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. swift-otel reads the standard `OTEL_*` variables
/// itself (`OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_SERVICE_NAME`, …); only
/// OTLP over HTTP is built in. Unset, nothing is bootstrapped: spans go to the no-op tracer.
public enum TraceExport {
    /// Bootstraps the process-wide tracer and returns the service that exports its spans, to run
    /// beside the application; nil when tracing is off. Traces only: metrics stay Prometheus and
    /// log lines stay with our handlers. Call it before anything makes spans, once per process.
    public static func bootstrap(environment: [String: String], logger: Logger) throws -> (any Service)? {
        guard environment["OTEL_EXPORTER_OTLP_ENDPOINT"] != nil || environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] != nil,
              environment["OTEL_SDK_DISABLED"]?.lowercased() != "true"
        else { return nil }
        // swift-otel traps (fatalError) when asked for an exporter it was built without: refuse cleanly instead.
        if (environment["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] ?? environment["OTEL_EXPORTER_OTLP_PROTOCOL"])?.lowercased() == "grpc" {
            throw UnsupportedProtocol()
        }
        var configuration = OTel.Configuration.default
        // The default unless `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) says otherwise.
        configuration.serviceName = "pos-integration"
        configuration.diagnosticLogger = .custom(logger)
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(backend.factory)
        return backend.service
    }

    struct UnsupportedProtocol: Error, CustomStringConvertible {
        var description: String { "OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not built in: use http/protobuf (the default) or http/json" }
    }
}
