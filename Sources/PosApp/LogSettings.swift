import Logging
import PosServices

/// `LOG_LEVEL` and `LOG_FORMAT`, checked at start with the other settings: an unknown value is
/// refused, naming the variable and what it accepts, before anything else happens.
public struct LogSettings: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable { case text, json }

    public var level: Logger.Level
    public var format: Format

    public init(level: Logger.Level = .info, format: Format = .text) {
        self.level = level
        self.format = format
    }

    /// `LOG_LEVEL` and `LOG_FORMAT` alone, for commands that open no database (the sandbox).
    public static func read(from source: SettingsSource) -> Result<LogSettings, SettingsProblems> {
        var parser = SettingsParser(source: source)
        let settings = LogSettings(read: &parser)
        return parser.outcome(settings).result
    }

    init(read parser: inout SettingsParser) {
        self.init(level: parser.value(.logLevel) { Logger.Level(rawValue: $0.lowercased()) },
                  format: parser.value(.logFormat) { Format(rawValue: $0.lowercased()) })
    }

    /// A handler for `label` at this level and format, writing to standard error, that puts a
    /// request's `request_id`, `trace_id` and `tenant` on every line the request causes.
    public func handler(label: String) -> any LogHandler {
        switch format {
        case .json:
            return JSONLogHandler(label: label, level: level, metadataProvider: RequestLogScope.metadataProvider)
        case .text:
            var handler = StreamLogHandler.standardError(label: label, metadataProvider: RequestLogScope.metadataProvider)
            handler.logLevel = level
            return handler
        }
    }
}

/// `POS_METRICS` and `POS_METRICS_TOKEN`.
public struct MetricsSettings: Sendable, Equatable {
    public var enabled: Bool
    public var token: String?

    public init(enabled: Bool = true, token: String? = nil) {
        self.enabled = enabled
        self.token = token
    }

    init(read parser: inout SettingsParser) {
        self.init(enabled: parser.value(.metrics, Self.parseSwitch), token: parser.optional(.metricsToken) { $0 })
    }

    static func parseSwitch(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "on", "true", "1": true
        case "off", "false", "0": false
        default: nil
        }
    }
}
