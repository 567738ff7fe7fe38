/// The built-in transformers by slug. Adding a POS adds one line here.
public struct ConnectorRegistry: Sendable {
    private let connectors: [String: any POSConnector]

    public init(_ connectors: [any POSConnector]) {
        self.connectors = Dictionary(connectors.map { ($0.slug, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public static func builtIn(exchange: POSExchange) -> ConnectorRegistry {
        ConnectorRegistry([
            OktoPOSConnector(exchange: exchange),
            DesibitsConnector(exchange: exchange),
            RevelConnector(exchange: exchange),
        ])
    }

    public func connector(_ slug: String) -> (any POSConnector)? { connectors[slug] }

    public var slugs: [String] { connectors.keys.sorted() }
}
