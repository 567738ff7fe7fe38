import Foundation
import PosConnectors
import PosDomain
import PosStorage

/// What a `PUT` does to a stored secret.
public enum SecretChange: Sendable, Equatable {
    case keep
    case remove
    case set(String)
}

/// `PUT /provider-connections/{slug}`, validated. An omitted `apiKey` or `apiSecret` keeps the stored one.
public struct PutProviderConnection: Sendable, Equatable {
    public static let statuses = ["active", "inactive"]

    public let status: String
    public let apiKey: String?
    public let apiSecret: String?
    public let webhookUrl: String
    public let baseUrl: String
    public let config: JSONValue
    /// What the POS signs (or authenticates) its status webhooks with.
    public let webhookSecret: SecretChange

    public init(status: String, apiKey: String?, apiSecret: String?, webhookUrl: String, baseUrl: String, config: JSONValue,
                webhookSecret: SecretChange = .keep) {
        self.status = status
        self.apiKey = apiKey
        self.apiSecret = apiSecret
        self.webhookUrl = webhookUrl
        self.baseUrl = baseUrl
        self.config = config
        self.webhookSecret = webhookSecret
    }
}

/// `PUT /outlet-providers/{outletId}`, validated in shape; the provider checks its own settings.
public struct PutOutletProvider: Sendable, Equatable {
    public let providerSlug: String
    /// The outlet's id in the POS, as text.
    public let externalId: String
    public let settings: JSONValue

    public init(providerSlug: String, externalId: String, settings: JSONValue) {
        self.providerSlug = providerSlug
        self.externalId = externalId
        self.settings = settings
    }
}

/// Provider connections (a tenant's credentials for one POS) and outlet mappings (which POS an
/// outlet's orders go to, with its mapping settings). Secrets are sealed before they are stored
/// and never returned.
public struct ProviderService: Sendable {
    private let providers: any ProviderStore
    private let deliverer: ConnectorDeliverer
    private let secretBox: SecretBox
    private let clock: ServiceClock

    public init(providers: any ProviderStore, deliverer: ConnectorDeliverer, secretBox: SecretBox, clock: @escaping ServiceClock) {
        self.providers = providers
        self.deliverer = deliverer
        self.secretBox = secretBox
        self.clock = clock
    }

    private func connector(_ slug: String) throws -> any POSConnector {
        guard let connector = deliverer.registry.connector(slug) else {
            throw ServiceError.notFound("unknown provider \"\(slug)\"; known: \(deliverer.registry.slugs.joined(separator: ", "))")
        }
        return connector
    }

    /// What the provider's connector can do, by name (derived from the capability protocols it adopts).
    public func capabilities(_ slug: String) -> [String] {
        deliverer.registry.capabilities(slug).map(\.rawValue)
    }

    // MARK: Connections

    /// `PUT /provider-connections/{slug}`: creates or replaces. On an update, an omitted `apiKey` or
    /// `apiSecret` keeps the stored one (they are never shown, so they cannot be sent back).
    public func putConnection(slug: String, _ command: PutProviderConnection, tenant: Tenant) async throws -> ProviderConnection {
        let connector = try connector(slug)
        let existing = try await translatingStoreErrors { try await providers.connection(tenantId: tenant.id, slug: slug) }
        do throws(ValidationError) {
            if command.apiKey == nil && existing == nil { throw ValidationError(field: "apiKey", message: "is required") }
            try connector.validate(config: command.config)
        } catch {
            throw ServiceError.invalid(error)
        }
        let now = clock()
        let sealedApiKey: String
        if let apiKey = command.apiKey {
            sealedApiKey = try secretBox.seal(apiKey)
        } else if let existing {
            sealedApiKey = existing.sealedApiKey
        } else {
            throw ServiceError.invalid(field: "apiKey", message: "apiKey is required")
        }
        let sealedWebhookSecret: String? = switch command.webhookSecret {
        case .keep: existing?.sealedWebhookSecret
        case .remove: nil
        case .set(let secret): try secretBox.seal(secret)
        }
        let connection = ProviderConnection(
            tenantId: tenant.id, slug: slug, status: command.status, sealedApiKey: sealedApiKey,
            sealedApiSecret: try command.apiSecret.map { try secretBox.seal($0) } ?? existing?.sealedApiSecret ?? secretBox.seal(""),
            webhookUrl: command.webhookUrl, baseUrl: command.baseUrl, config: command.config.serialized,
            createdAt: existing?.createdAt ?? now, updatedAt: now,
            connectionToken: existing?.connectionToken ?? Self.newConnectionToken(), sealedWebhookSecret: sealedWebhookSecret)
        let saved = try await translatingStoreErrors { try await providers.upsertConnection(connection) }
        // Tokens were issued to the old client (or server, or for the old config's audience): the next call gets new ones.
        if command.apiKey != nil || command.apiSecret != nil || existing?.baseUrl != command.baseUrl || existing?.config != connection.config {
            try await translatingStoreErrors { try await deliverer.credentialProvider.forgetTokens(tenantId: tenant.id, slug: slug) }
        }
        return saved
    }

    public func connections(tenant: Tenant) async throws -> [ProviderConnection] {
        try await translatingStoreErrors { try await providers.connections(tenantId: tenant.id) }
    }

    public func connection(slug: String, tenant: Tenant) async throws -> ProviderConnection {
        _ = try connector(slug)
        guard let connection = try await translatingStoreErrors({ try await providers.connection(tenantId: tenant.id, slug: slug) }) else {
            throw ServiceError.notFound("no provider connection for \"\(slug)\"")
        }
        return connection
    }

    /// Deletes the connection and the outlet mappings to it; returns how many mappings went.
    public func deleteConnection(slug: String, tenant: Tenant) async throws -> Int {
        _ = try connector(slug)
        guard let removed = try await translatingStoreErrors({ try await providers.deleteConnection(tenantId: tenant.id, slug: slug) }) else {
            throw ServiceError.notFound("no provider connection for \"\(slug)\"")
        }
        try await translatingStoreErrors { try await deliverer.credentialProvider.forgetTokens(tenantId: tenant.id, slug: slug) }
        return removed
    }

    /// Masked for display: the last four characters of a long key, nothing of a short one.
    public func maskedKey(_ connection: ProviderConnection) -> String {
        guard let key = try? secretBox.open(connection.sealedApiKey) else { return "****" }
        return key.count >= 12 ? "****" + String(key.suffix(4)) : "****"
    }

    public func hasSecret(_ connection: ProviderConnection) -> Bool {
        (try? secretBox.open(connection.sealedApiSecret)).map { !$0.isEmpty } ?? true
    }

    /// Whether the provider calls us with status webhooks (then the connection has an inbound URL).
    public func receivesStatusWebhooks(_ slug: String) -> Bool {
        deliverer.registry.connector(slug, as: (any InboundStatusReceiving).self) != nil
    }

    /// 192 random bits, hex: the unguessable part of a connection's inbound URL.
    static func newConnectionToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<3).map { _ in String(generator.next() as UInt64, radix: 16).leftPadded(to: 16) }.joined()
    }

    // MARK: Calls to the POS

    public func testConnection(slug: String, tenant: Tenant) async throws -> ConnectionTestResult {
        let (connector, access) = try await opened(slug: slug, tenant: tenant, as: (any ConnectionTesting).self, what: "test its connection")
        return await connector.testConnection(access)
    }

    public func remoteOutlets(slug: String, tenant: Tenant) async throws -> [RemoteOutlet] {
        let (connector, access) = try await opened(slug: slug, tenant: tenant, as: (any RemoteOutletListing).self, what: "list its outlets")
        do {
            return try await connector.remoteOutlets(access)
        } catch {
            throw ServiceError.badGateway("\(slug) did not list its outlets", details: error.message)
        }
    }

    /// The connector for `slug` that can do `capability`, and the connection's access.
    private func opened<Capability>(slug: String, tenant: Tenant, as capability: Capability.Type, what: String) async throws -> (Capability, ProviderAccess) {
        let connector = try connector(slug)
        guard let capable = deliverer.registry.connector(slug, as: capability) else {
            throw ServiceError.invalid(field: "slug", message: "\(slug) cannot \(what)", details: "capabilities: \(capabilities(slug).joined(separator: ", "))")
        }
        let connection = try await connection(slug: slug, tenant: tenant)
        do throws(CredentialFailure) {
            return (capable, try deliverer.access(for: connection, connector: connector))
        } catch {
            throw ServiceError.unavailable(error.message)
        }
    }

    // MARK: Outlet mappings

    /// `PUT /outlet-providers/{outletId}`: one provider per outlet; needs the provider's connection.
    public func putOutletProvider(outletId: String, _ command: PutOutletProvider, tenant: Tenant) async throws -> OutletProvider {
        let slug = command.providerSlug
        do throws(ValidationError) {
            guard let connector = deliverer.registry.connector(slug) else {
                throw ValidationError(field: "providerSlug", message: "is not a known provider (known: \(deliverer.registry.slugs.joined(separator: ", ")))")
            }
            try connector.validate(settings: command.settings)
        } catch {
            throw ServiceError.invalid(error)
        }
        guard try await translatingStoreErrors({ try await providers.connection(tenantId: tenant.id, slug: slug) }) != nil else {
            throw ServiceError.invalid(field: "providerSlug", message: "no provider connection for \"\(slug)\"",
                                       details: "create it first with PUT /api/v1/provider-connections/\(slug)")
        }
        let existing = try await translatingStoreErrors { try await providers.outletProvider(tenantId: tenant.id, outletId: outletId) }
        let now = clock()
        return try await translatingStoreErrors {
            try await providers.upsertOutletProvider(OutletProvider(
                tenantId: tenant.id, outletId: outletId, providerSlug: slug, externalId: command.externalId,
                settings: command.settings.serialized, createdAt: existing?.createdAt ?? now, updatedAt: now))
        }
    }

    public func outletProvider(outletId: String, tenant: Tenant) async throws -> OutletProvider {
        guard let mapping = try await translatingStoreErrors({ try await providers.outletProvider(tenantId: tenant.id, outletId: outletId) }) else {
            throw ServiceError.notFound("outlet \"\(outletId)\" is not mapped to a provider")
        }
        return mapping
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
