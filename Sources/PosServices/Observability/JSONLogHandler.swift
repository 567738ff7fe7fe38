import Foundation
import Logging
import PosDomain

/// One JSON object per line (`LOG_FORMAT=json`): `ts`, `level`, `message`, `logger`, then the
/// line's metadata (the handler's, the metadata provider's — a request's `request_id`,
/// `trace_id`, `tenant` — and the call's, later ones winning). Metadata under a name that carries
/// credentials (`authorization`, `x-api-key`, `cookie`, …) is dropped: a second line of defence, since
/// nothing here logs headers.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    /// `write` gets each line without its newline; the default writes to standard error.
    public init(label: String, level: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = nil,
                write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Names whose values are credentials, lower-cased.
    static let withheld: Set<String> = ["authorization", "x-api-key", "cookie", "set-cookie", "api_key", "apikey", "password", "secret"]

    public func log(event: LogEvent) {
        let level = event.level, message = event.message
        var merged = self.metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error { merged["error"] = .string(String(describing: error)) }
        var out = "{\"ts\":\"\(RFC3339.format(milliseconds: SystemClock.now()))\",\"level\":\"\(level.rawValue)\",\"message\":"
        Self.appendString(message.description, to: &out)
        out += ",\"logger\":"
        Self.appendString(label, to: &out)
        for key in merged.keys.sorted() where !["ts", "level", "message", "logger"].contains(key) {
            guard let value = merged[key], !Self.withheld.contains(key.lowercased()) else { continue }
            out += ","
            Self.appendString(key, to: &out)
            out += ":"
            Self.append(value, to: &out)
        }
        out += "}"
        write(out)
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func append(_ value: Logger.Metadata.Value, to out: inout String) {
        switch value {
        case .string(let text): appendString(text, to: &out)
        case .stringConvertible(let convertible): appendString(convertible.description, to: &out)
        case .array(let values):
            out += "["
            for (index, element) in values.enumerated() {
                if index > 0 { out += "," }
                append(element, to: &out)
            }
            out += "]"
        case .dictionary(let members):
            out += "{"
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                appendString(key, to: &out)
                out += ":"
                if let member = members[key] { append(member, to: &out) }
            }
            out += "}"
        }
    }

    static func appendString(_ text: String, to out: inout String) {
        out += JSONText.quoted(text)
    }
}
