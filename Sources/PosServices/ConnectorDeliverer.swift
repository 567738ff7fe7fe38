import Foundation
import Logging
import PosConnectors
import PosDomain
import PosStorage

/// Delivers an order through a built-in transformer: finds the outlet's mapping and the tenant's
/// connection, gets the connection's access from the credential provider, and hands the connector
/// the order with the progress earlier attempts recorded. Looked up on every attempt, so a fixed
/// mapping applies to the next retry.
public struct ConnectorDeliverer: Sendable {
    public let registry: ConnectorRegistry
    public let credentialProvider: CredentialProvider
    private let providers: any ProviderStore
    private let clock: ServiceClock

    /// Without `credentials`, static keys are served and OAuth connections refused as misconfigured;
    /// the composition root passes a provider with the token store once an OAuth POS is registered.
    public init(registry: ConnectorRegistry, providers: any ProviderStore, secretBox: SecretBox, clock: @escaping ServiceClock,
                credentials: CredentialProvider? = nil) {
        self.registry = registry
        self.providers = providers
        self.credentialProvider = credentials ?? CredentialProvider(secretBox: secretBox, clock: clock)
        self.clock = clock
    }

    /// What a connector needs besides the order, or why it cannot be had.
    public struct Route: Sendable {
        public var connector: any OrderDispatching
        public var connection: ProviderConnection
        public var mapping: OutletProvider
    }

    public enum RouteProblem: Error, Sendable, Equatable {
        case unknownConnector(String)
        /// A connector for the slug exists but cannot do what is asked (`take orders`, `cancel orders`).
        case incapable(String, what: String)
        case noConnection(String)
        case connectionInactive(String)
        /// An authorization-code connection whose tokens were refused: the merchant approves again.
        case reauthorizationRequired(String)
        case outletNotMapped(outletId: String, slug: String)
        case outletMappedElsewhere(outletId: String, slug: String, mappedTo: String)

        /// The dispatch field a 400 names: the transformer, or the outlet that is not mapped to it.
        public var field: String {
            switch self {
            case .unknownConnector, .incapable, .noConnection, .connectionInactive, .reauthorizationRequired: "builtInTransformer"
            case .outletNotMapped, .outletMappedElsewhere: "outletId"
            }
        }

        public var message: String {
            switch self {
            case .unknownConnector(let slug): "unknown builtInTransformer \"\(slug)\""
            case .incapable(let slug, let what): "builtInTransformer \"\(slug)\" cannot \(what)"
            case .noConnection(let slug): "no provider connection for \"\(slug)\"; an admin creates the \(slug) provider connection first"
            case .connectionInactive(let slug): "the provider connection for \"\(slug)\" is inactive"
            case .reauthorizationRequired(let slug):
                "the provider connection for \"\(slug)\" is \(CredentialProvider.reauthorizationRequired): an admin authorizes the \(slug) provider connection again"
            case .outletNotMapped(let outletId, let slug):
                "outlet \"\(outletId)\" is not mapped to \"\(slug)\"; an admin maps the outlet to its provider first"
            case .outletMappedElsewhere(let outletId, let slug, let other):
                "outlet \"\(outletId)\" is mapped to \"\(other)\", not \"\(slug)\"; an admin maps the outlet to \(slug) instead"
            }
        }
    }

    /// The connector, connection and mapping for an order of `outletId` to `slug`.
    public func route(slug: String, tenantId: String, outletId: String) async throws -> Result<Route, RouteProblem> {
        try await route(slug: slug, tenantId: tenantId, outletId: outletId, as: (any OrderDispatching).self, what: "take orders").map { connector, connection, mapping in
            Route(connector: connector, connection: connection, mapping: mapping)
        }
    }

    /// The connector for `slug` that can do `capability`, with the tenant's connection and the outlet's mapping.
    public func route<Capability>(slug: String, tenantId: String, outletId: String, as capability: Capability.Type, what: String) async throws
        -> Result<(Capability, ProviderConnection, OutletProvider), RouteProblem> {
        guard registry.connector(slug) != nil else { return .failure(.unknownConnector(slug)) }
        guard let connector = registry.connector(slug, as: capability) else { return .failure(.incapable(slug, what: what)) }
        guard let connection = try await providers.connection(tenantId: tenantId, slug: slug) else { return .failure(.noConnection(slug)) }
        guard connection.status != CredentialProvider.reauthorizationRequired else { return .failure(.reauthorizationRequired(slug)) }
        guard connection.isActive else { return .failure(.connectionInactive(slug)) }
        guard let mapping = try await providers.outletProvider(tenantId: tenantId, outletId: outletId) else {
            return .failure(.outletNotMapped(outletId: outletId, slug: slug))
        }
        guard mapping.providerSlug == slug else {
            return .failure(.outletMappedElsewhere(outletId: outletId, slug: slug, mappedTo: mapping.providerSlug))
        }
        return .success((connector, connection, mapping))
    }

    /// Where `connection`'s POS is and where `connector`'s calls get their credentials.
    public func access(for connection: ProviderConnection, connector: any POSConnector) throws(CredentialFailure) -> ProviderAccess {
        var access = try credentialProvider.access(for: connection, scheme: connector.credentialScheme(
            config: JSONValue(parsing: connection.config) ?? .object([]), baseUrl: connection.baseUrl))
        let providers = self.providers, clock = self.clock
        let tenantId = connection.tenantId, slug = connection.slug
        access.rememberConfig = { key, value in
            try await Self.rememberConfig(providers: providers, tenantId: tenantId, slug: slug, key: key, value: value, at: clock())
        }
        return access
    }

    /// Sets one key of a connection's `config` (what the connector learned from the POS, such as
    /// Lightspeed's registered `endpointId`), keeping everything else the operator put there.
    static func rememberConfig(providers: any ProviderStore, tenantId: String, slug: String, key: String, value: JSONValue, at now: Int64) async throws {
        guard var connection = try await providers.connection(tenantId: tenantId, slug: slug) else { return }
        guard case .object(var members) = JSONValue(parsing: connection.config) ?? .object([]) else { return }
        if let index = members.firstIndex(where: { $0.0 == key }) {
            guard members[index].1 != value else { return }
            members[index].1 = value
        } else {
            members.append((key, value))
        }
        connection.config = JSONValue.object(members).serialized
        connection.updatedAt = now
        _ = try await providers.upsertConnection(connection)
    }

    /// Marks an authorization-code connection as needing the merchant's approval again (its refresh
    /// token was refused), with the `provider_connection.reauthorization_required` alert; dispatches
    /// stop with that reason until the OAuth callback stores new tokens.
    public static func markReauthorizationRequired(providers: any ProviderStore, tenantId: String, slug: String, at now: Int64,
                                                   logger: Logger) async {
        let status = CredentialProvider.reauthorizationRequired
        do {
            _ = try await providers.markConnection(
                tenantId: tenantId, slug: slug, status: status, at: now,
                alert: Alert.reauthorizationRequired(tenantId: tenantId, provider: slug, status: status, at: now, id: UUID().uuidString.lowercased()))
        } catch {
            // Dispatches still stop with the reason; only the connection's shown status lags until the next refusal.
            logger.warning("could not mark the connection reauthorization_required", metadata: [
                "tenantId": .string(tenantId), "provider": .string(slug), "error": .string("\(error)"),
            ])
        }
    }

    func deliver(_ delivery: Delivery, attemptNumber: Int, outletId: String, orderBytes: [UInt8], order: CataOrder?,
                 route known: Route?) async -> ConnectorOutcome {
        let found: Route
        if let known {
            found = known
        } else {
            do {
                switch try await route(slug: delivery.connector, tenantId: delivery.tenantId, outletId: outletId) {
                case .success(let route): found = route
                case .failure(let problem): return .configuration(problem.message)
                }
            } catch {
                return .failed(.storage, "could not read the provider configuration", retryable: true)
            }
        }
        let access: ProviderAccess
        do throws(CredentialFailure) {
            access = try self.access(for: found.connection, connector: found.connector)
        } catch {
            return .credentialFailed(error)
        }
        let typed: CataOrder
        if let order {
            typed = order
        } else {
            do {
                typed = try DispatchValidator.order(bytes: orderBytes)
            } catch {
                // Stored before today's checks (an amount that overflows): it cannot be mapped, now or on a retry.
                return .failed(.mapping, "the stored order no longer validates: \(error.field) \(error.message)", retryable: false)
            }
        }
        let providers = self.providers
        let clock = self.clock
        let deliveryId = delivery.id
        return await found.connector.dispatch(POSDispatch(
            deliveryId: delivery.id, attemptNumber: attemptNumber, order: typed, access: access,
            externalOutletId: found.mapping.externalId, settings: JSONValue(parsing: found.mapping.settings) ?? .object([]),
            progress: delivery.progress.flatMap { JSONValue(parsing: $0) },
            checkpoint: { progress in try await providers.saveProgress(deliveryId: deliveryId, progress: progress.serialized, at: clock()) }))
    }
}
