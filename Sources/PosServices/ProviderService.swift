import Crypto
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
    private let oauthStates: (any OAuthStateStore)?

    /// Without `oauthStates` the OAuth authorization flow (Lightspeed) answers 503.
    public init(providers: any ProviderStore, deliverer: ConnectorDeliverer, secretBox: SecretBox, clock: @escaping ServiceClock,
                oauthStates: (any OAuthStateStore)? = nil) {
        self.providers = providers
        self.deliverer = deliverer
        self.secretBox = secretBox
        self.clock = clock
        self.oauthStates = oauthStates
    }

    private func connector(_ slug: String) throws -> any POSConnector {
        guard let connector = deliverer.registry.connector(slug) else {
            throw ServiceError.notFound("unknown provider \"\(slug)\"; known: \(deliverer.registry.slugs.joined(separator: ", "))")
        }
        return connector
    }

    /// The providers a connection can be made for (the console's choice of POS).
    public var providerSlugs: [String] { deliverer.registry.slugs }

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
            try command.validate()
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
        secretBox.masked(connection.sealedApiKey)
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
        let connection = try await connection(slug: slug, tenant: tenant)
        if connection.status == CredentialProvider.reauthorizationRequired {
            return ConnectionTestResult(success: false, message: "\(CredentialProvider.reauthorizationRequired): the \(slug) refresh token was refused; "
                                        + "an admin authorizes the \(slug) provider connection again")
        }
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

    // MARK: OAuth authorization code (Lightspeed)

    /// How long an authorize URL's `state` can be answered.
    public static let oauthStateLifetimeMs: Int64 = 600_000

    /// `GET /provider-connections/{slug}/oauth/start`: a fresh `state` bound to this tenant and
    /// provider (stored as its SHA-256, spent once, expiring), and the POS's authorize URL carrying it.
    public func startAuthorization(slug: String, tenant: Tenant) async throws -> String {
        let connector = try connector(slug)
        guard connector is LightspeedConnector else {
            throw ServiceError.invalid(field: "slug", message: "\(slug) does not use the OAuth authorization-code flow")
        }
        guard let oauthStates else { throw ServiceError.unavailable("OAuth authorization is not available on this server") }
        let connection = try await connection(slug: slug, tenant: tenant)
        let config: LightspeedConnector.Config
        do throws(ValidationError) {
            config = try LightspeedConnector.Config(JSONValue(parsing: connection.config) ?? .object([]))
        } catch {
            throw ServiceError.invalid(error)
        }
        let clientId: String
        do {
            clientId = try secretBox.open(connection.sealedApiKey)
        } catch {
            throw ServiceError.unavailable("the \(slug) credentials cannot be decrypted with this master key")
        }
        let state = Self.newOAuthState()
        let now = clock()
        try await translatingStoreErrors {
            try await oauthStates.insertOAuthState(OAuthAuthorizationState(
                stateHash: Self.stateHash(state), tenantId: tenant.id, slug: slug, redirectUri: config.redirectUri,
                expiresAt: now + Self.oauthStateLifetimeMs, createdAt: now))
        }
        return LightspeedConnector.authorizeURL(baseUrl: connection.baseUrl, clientId: clientId, redirectUri: config.redirectUri, state: state)
    }

    /// `GET /oauth/{slug}/callback?code=&state=`: the state (spent here, once) names the tenant; the
    /// code is exchanged with the connection's client and the first token pair stored. A connection
    /// that was waiting for reauthorization is active again.
    public func completeAuthorization(slug: String, code: String?, state: String?, error: String?) async throws -> ProviderConnection {
        guard let oauthStates else { throw ServiceError.unavailable("OAuth authorization is not available on this server") }
        guard let state, !state.isEmpty, state.utf8.count <= 256 else {
            throw ServiceError.invalid(field: "state", message: "state is required")
        }
        let spent = try await translatingStoreErrors { try await oauthStates.consumeOAuthState(stateHash: Self.stateHash(state), now: clock()) }
        guard let spent, spent.slug == slug else {
            throw ServiceError.invalid(field: "state", message: "state is unknown, already used or expired; an admin starts the \(slug) authorization again")
        }
        if let error {
            throw ServiceError.invalid(field: "error", message: "the merchant did not approve: \(error.prefix(100))")
        }
        guard let code, !code.isEmpty, code.utf8.count <= 2048 else { throw ServiceError.invalid(field: "code", message: "code is required") }
        let connector = try connector(slug)
        guard var connection = try await translatingStoreErrors({ try await providers.connection(tenantId: spent.tenantId, slug: slug) }) else {
            throw ServiceError.notFound("no provider connection for \"\(slug)\"")
        }
        guard case .oauth2AuthorizationCode(let tokenURL) = connector.credentialScheme(
            config: JSONValue(parsing: connection.config) ?? .object([]), baseUrl: connection.baseUrl) else {
            throw ServiceError.invalid(field: "slug", message: "\(slug) does not use the OAuth authorization-code flow")
        }
        do throws(CredentialFailure) {
            try await deliverer.credentialProvider.authorize(connection: connection, tokenURL: tokenURL, code: code, redirectUri: spent.redirectUri)
        } catch {
            switch error.failureClass {
            case .storage: throw ServiceError.unavailable(error.message)
            case .auth: throw ServiceError.invalid(field: "code", message: "\(slug) refused the authorization code: \(error.message)")
            default: throw ServiceError.badGateway("\(slug) did not exchange the authorization code", details: error.message)
            }
        }
        if connection.status == CredentialProvider.reauthorizationRequired {
            connection.status = "active"
            connection.updatedAt = clock()
            let reactivated = connection
            connection = try await translatingStoreErrors { try await providers.upsertConnection(reactivated) }
        }
        return connection
    }

    /// 256 random bits, hex.
    static func newOAuthState() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(generator.next() as UInt64, radix: 16).leftPadded(to: 16) }.joined()
    }

    /// What is stored of a state: its SHA-256, hex. The lookup is by this digest, so timing reveals nothing of the state.
    static func stateHash(_ state: String) -> String {
        Hex.encode(SHA256.hash(data: Array(state.utf8)))
    }

    // MARK: Outlet mappings

    /// `PUT /outlet-providers/{outletId}`: one provider per outlet; needs the provider's connection.
    public func putOutletProvider(outletId: String, _ command: PutOutletProvider, tenant: Tenant) async throws -> OutletProvider {
        let slug = command.providerSlug
        do throws(ValidationError) {
            try command.validate()
            guard let connector = deliverer.registry.connector(slug) else {
                throw ValidationError(field: "providerSlug", message: "is not a known provider (known: \(deliverer.registry.slugs.joined(separator: ", ")))")
            }
            try connector.validate(settings: command.settings)
        } catch {
            throw ServiceError.invalid(error)
        }
        guard try await translatingStoreErrors({ try await providers.connection(tenantId: tenant.id, slug: slug) }) != nil else {
            throw ServiceError.invalid(field: "providerSlug", message: "no provider connection for \"\(slug)\"",
                                       details: "an admin creates the \(slug) provider connection first")
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
