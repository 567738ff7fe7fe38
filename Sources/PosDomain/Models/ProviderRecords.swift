/// A tenant's connection to one POS (`/provider-connections/{slug}`). The API key and secret stay
/// sealed by the master key; `config` is connector options as JSON text, never secrets.
public struct ProviderConnection: Sendable, Equatable {
    public var tenantId: String
    public var slug: String
    /// `active` or `inactive`: an inactive connection takes no orders.
    public var status: String
    public var sealedApiKey: String
    public var sealedApiSecret: String
    public var webhookUrl: String
    public var baseUrl: String
    public var config: String
    public var createdAt: Int64
    public var updatedAt: Int64
    /// The unguessable part of the connection's inbound URL (`/api/v1/inbound/{slug}/order-status/{token}`),
    /// which tells an inbound POS webhook's tenant and connection. Kept across updates.
    public var connectionToken: String
    /// What the POS signs or authenticates its webhooks with, sealed; nil when none is set.
    public var sealedWebhookSecret: String?

    public init(tenantId: String, slug: String, status: String, sealedApiKey: String, sealedApiSecret: String, webhookUrl: String,
                baseUrl: String, config: String, createdAt: Int64, updatedAt: Int64, connectionToken: String, sealedWebhookSecret: String? = nil) {
        self.tenantId = tenantId
        self.slug = slug
        self.status = status
        self.sealedApiKey = sealedApiKey
        self.sealedApiSecret = sealedApiSecret
        self.webhookUrl = webhookUrl
        self.baseUrl = baseUrl
        self.config = config
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.connectionToken = connectionToken
        self.sealedWebhookSecret = sealedWebhookSecret
    }

    public var isActive: Bool { status == "active" }
}

/// Which POS an outlet's orders go to, the outlet's id there, and its mapping settings (JSON text).
/// One provider per outlet.
public struct OutletProvider: Sendable, Equatable {
    public var tenantId: String
    public var outletId: String
    public var providerSlug: String
    public var externalId: String
    public var settings: String
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(tenantId: String, outletId: String, providerSlug: String, externalId: String, settings: String, createdAt: Int64, updatedAt: Int64) {
        self.tenantId = tenantId
        self.outletId = outletId
        self.providerSlug = providerSlug
        self.externalId = externalId
        self.settings = settings
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
