import Logging
import PosServices

/// `LOG_LEVEL` and `LOG_FORMAT`, checked at start: an unknown value is refused, naming the
/// variable and what it accepts, before anything else happens.
public struct LogSettings: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable { case text, json }

    public var level: Logger.Level
    public var format: Format

    public init(level: Logger.Level = .info, format: Format = .text) {
        self.level = level
        self.format = format
    }

    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    public static func from(environment: [String: String]) throws(Invalid) -> LogSettings {
        var settings = LogSettings()
        if let text = environment["LOG_LEVEL"], !text.isEmpty {
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw Invalid(description: "LOG_LEVEL must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
            }
            settings.level = level
        }
        if let text = environment["LOG_FORMAT"], !text.isEmpty {
            guard let format = Format(rawValue: text.lowercased()) else {
                throw Invalid(description: "LOG_FORMAT must be json or text, got \"\(text)\"")
            }
            settings.format = format
        }
        return settings
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

    public static func from(environment: [String: String]) throws(LogSettings.Invalid) -> MetricsSettings {
        let enabled: Bool
        switch environment["POS_METRICS"]?.lowercased() {
        case nil, "", "on", "true", "1": enabled = true
        case "off", "false", "0": enabled = false
        case let other?: throw LogSettings.Invalid(description: "POS_METRICS must be on or off, got \"\(other)\"")
        }
        let token = environment["POS_METRICS_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return MetricsSettings(enabled: enabled, token: token)
    }
}
