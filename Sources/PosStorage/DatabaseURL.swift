import Foundation

/// Where the data lives, from `--database` / `POS_DATABASE_URL`.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(url: String)

    /// Where it is, without a password.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let url):
            url.replacingOccurrences(of: #":[^:@/]*@"#, with: ":***@", options: .regularExpression)
        }
    }

    public static let defaultSQLitePath = "./data/pos-integration.sqlite"

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case unsupported(String)
        public var description: String {
            switch self {
            case .unsupported(let scheme):
                "unsupported database URL scheme \"\(scheme)\": use a file path, sqlite://PATH or postgres://user:pass@host:port/db"
            }
        }
    }

    /// A plain path, `sqlite://PATH` (`sqlite:///abs/path` for absolute paths), or `postgres://…`.
    public init(_ text: String?) throws(ParseError) {
        guard let text, !text.isEmpty else {
            self = .sqlite(path: Self.defaultSQLitePath)
            return
        }
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            self = .postgres(url: text)
        } else if text.hasPrefix("sqlite://") {
            self = .sqlite(path: String(text.dropFirst("sqlite://".count)))
        } else if text.hasPrefix("sqlite:") {
            self = .sqlite(path: String(text.dropFirst("sqlite:".count)))
        } else if let range = text.range(of: "://") {
            throw .unsupported(String(text[..<range.lowerBound]))
        } else {
            self = .sqlite(path: text)
        }
    }
}
