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
            AtlasConnector(exchange: exchange),
            LightspeedConnector(exchange: exchange),
            DeliverectConnector(exchange: exchange),
        ])
    }

    public func connector(_ slug: String) -> (any POSConnector)? { connectors[slug] }

    /// The connector for `slug` that can do `capability`
    /// (`registry.connector("revel", as: (any RemoteOutletListing).self)`); nil when there is no such
    /// connector or it cannot.
    public func connector<Capability>(_ slug: String, as capability: Capability.Type) -> Capability? {
        connectors[slug] as? Capability
    }

    /// What the connector for `slug` can do, by name; derived from the protocols it adopts.
    public func capabilities(_ slug: String) -> [ConnectorCapability] {
        connectors[slug].map(ConnectorCapability.of) ?? []
    }

    public var slugs: [String] { connectors.keys.sorted() }
}
