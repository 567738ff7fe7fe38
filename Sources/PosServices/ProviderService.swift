import Foundation
import PosConnectors
import PosDomain
import PosStorage

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

    public static let statuses = ["active", "inactive"]

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
    public func putConnection(slug: String, body: [UInt8], tenant: Tenant) async throws -> ProviderConnection {
        let connector = try connector(slug)
        let existing = try await translatingStoreErrors { try await providers.connection(tenantId: tenant.id, slug: slug) }
        let root = try parseJSONBody(body)
        let status: String, apiKey: String?, apiSecret: String?, webhookUrl: String, baseUrl: String, config: JSONValue
        do throws(ValidationError) {
            let reader = try FieldReader.object(root, path: "")
            try Self.rejectUnknown(root, allowed: ["status", "apiKey", "apiSecret", "webhookUrl", "baseUrl", "config"])
            status = try reader.optionalString("status") ?? "active"
            guard Self.statuses.contains(status) else {
                throw ValidationError(field: "status", message: "must be one of: \(Self.statuses.joined(separator: ", "))")
            }
            apiKey = try Self.secret(reader, "apiKey", required: existing == nil)
            apiSecret = try Self.optionalText(reader, "apiSecret", maxLength: 4096)
            webhookUrl = try Self.optionalText(reader, "webhookUrl", maxLength: 2048) ?? ""
            if !webhookUrl.isEmpty { try Self.httpURL(webhookUrl, field: "webhookUrl") }
            baseUrl = try reader.string("baseUrl", maxLength: 2048)
            try Self.httpURL(baseUrl, field: "baseUrl")
            config = try Self.config(root["config"])
            try connector.validate(config: config)
        } catch {
            throw ServiceError.invalid(error)
        }
        let now = clock()
        let connection = ProviderConnection(
            tenantId: tenant.id, slug: slug, status: status,
            sealedApiKey: try apiKey.map { try secretBox.seal($0) } ?? existing!.sealedApiKey,
            sealedApiSecret: try apiSecret.map { try secretBox.seal($0) } ?? existing?.sealedApiSecret ?? secretBox.seal(""),
            webhookUrl: webhookUrl, baseUrl: baseUrl, config: config.serialized, createdAt: existing?.createdAt ?? now, updatedAt: now)
        let saved = try await translatingStoreErrors { try await providers.upsertConnection(connection) }
        // Tokens were issued to the old client (or server): the next call gets new ones.
        if apiKey != nil || apiSecret != nil || existing?.baseUrl != baseUrl {
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
    public func putOutletProvider(outletId: String, body: [UInt8], tenant: Tenant) async throws -> OutletProvider {
        guard !outletId.isEmpty, outletId.utf8.count <= DispatchValidator.maxIdentifierLength else {
            throw ServiceError.invalid(field: "outletId", message: "outletId must be 1 to \(DispatchValidator.maxIdentifierLength) bytes")
        }
        let root = try parseJSONBody(body)
        let slug: String, externalId: String, settings: JSONValue
        do throws(ValidationError) {
            let reader = try FieldReader.object(root, path: "")
            try Self.rejectUnknown(root, allowed: ["providerSlug", "externalId", "settings"])
            slug = try reader.identifier("providerSlug")
            guard let connector = deliverer.registry.connector(slug) else {
                throw ValidationError(field: "providerSlug", message: "is not a known provider (known: \(deliverer.registry.slugs.joined(separator: ", ")))")
            }
            // Revel and OktoPOS number their outlets; both spellings are taken and kept as text.
            let external = try reader.required("externalId")
            switch external.kind {
            case .string(let text) where !text.isEmpty && text.utf8.count <= DispatchValidator.maxIdentifierLength: externalId = text
            case .number(let text) where (try? ExactDecimal(text))?.integerValue != nil: externalId = text
            default: throw ValidationError(field: "externalId", message: "must be the outlet's id in the POS: a non-empty string or an integer")
            }
            settings = root["settings"].map(JSONValue.init) ?? .object([])
            try connector.validate(settings: settings)
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
                tenantId: tenant.id, outletId: outletId, providerSlug: slug, externalId: externalId, settings: settings.serialized,
                createdAt: existing?.createdAt ?? now, updatedAt: now))
        }
    }

    public func outletProvider(outletId: String, tenant: Tenant) async throws -> OutletProvider {
        guard let mapping = try await translatingStoreErrors({ try await providers.outletProvider(tenantId: tenant.id, outletId: outletId) }) else {
            throw ServiceError.notFound("outlet \"\(outletId)\" is not mapped to a provider")
        }
        return mapping
    }

    // MARK: Field rules

    /// Refuses a body key the endpoint does not take, naming it.
    static func rejectUnknown(_ root: JSONNode, allowed: Set<String>) throws(ValidationError) {
        try SettingsReader(JSONValue(root), path: "").rejectUnknownKeys(allowed: allowed, kind: "a field of this request")
    }

    static func optionalText(_ reader: FieldReader, _ key: String, maxLength: Int) throws(ValidationError) -> String? {
        guard let node = reader.node[key] else { return nil }
        if case .null = node.kind { return nil }
        guard case .string(let text) = node.kind else { throw ValidationError(field: key, message: "must be a string, not \(node.typeName)") }
        guard text.utf8.count <= maxLength else { throw ValidationError(field: key, message: "must be at most \(maxLength) bytes") }
        return text
    }

    static func secret(_ reader: FieldReader, _ key: String, required: Bool) throws(ValidationError) -> String? {
        guard let text = try optionalText(reader, key, maxLength: 4096) else {
            if required { throw ValidationError(field: key, message: "is required") }
            return nil
        }
        guard !text.isEmpty else { throw ValidationError(field: key, message: "must not be empty") }
        return text
    }

    static func httpURL(_ text: String, field: String) throws(ValidationError) {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil,
              url.query == nil, url.fragment == nil
        else { throw ValidationError(field: field, message: "must be an absolute http(s) URL without query or fragment") }
    }

    /// `config` as an object; a JSON-encoded string (the original service's docs type it as a string) is read too.
    static func config(_ node: JSONNode?) throws(ValidationError) -> JSONValue {
        guard let node else { return .object([]) }
        switch node.kind {
        case .null: return .object([])
        case .object: return JSONValue(node)
        case .string(let text):
            if text.isEmpty { return .object([]) }
            guard let value = JSONValue(parsing: text), case .object = value else {
                throw ValidationError(field: "config", message: "must be a JSON object (or a string holding one)")
            }
            return value
        default: throw ValidationError(field: "config", message: "must be a JSON object, not \(node.typeName)")
        }
    }
}
