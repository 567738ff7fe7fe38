/// Where the data lives, from `--database` / `POS_DATABASE_URL`.
public enum DatabaseLocation: Sendable, Equatable {
    case sqlite(path: String)

    public static let defaultSQLitePath = "./data/pos-integration.sqlite"

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case unsupported(String)
        public var description: String {
            switch self {
            case .unsupported(let scheme):
                "unsupported database URL scheme \"\(scheme)\": use a file path or sqlite://PATH"
            }
        }
    }

    /// A plain path or `sqlite://PATH` (`sqlite:///abs/path` for absolute paths).
    public init(_ text: String?) throws(ParseError) {
        guard let text, !text.isEmpty else {
            self = .sqlite(path: Self.defaultSQLitePath)
            return
        }
        if text.hasPrefix("sqlite://") {
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
