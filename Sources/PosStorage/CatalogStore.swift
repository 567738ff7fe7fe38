import PosDomain

/// A position in the oldest-first outlet list.
public struct OutletCursor: Sendable, Equatable {
    public var createdAt: Int64
    public var id: String

    public init(createdAt: Int64, id: String) {
        self.createdAt = createdAt
        self.id = id
    }
}

/// A position in the product list, which runs by `updatedAt` then item code.
public struct ProductCursor: Sendable, Equatable {
    public var updatedAt: Int64
    public var itemCode: String

    public init(updatedAt: Int64, itemCode: String) {
        self.updatedAt = updatedAt
        self.itemCode = itemCode
    }
}

/// Which of a provider's products `GET /products` lists.
public struct ProductFilter: Sendable, Equatable {
    /// Changed (created, updated or soft-deleted) at or after this time.
    public var updatedSince: Int64?
    /// Soft-deleted products too (with their `deletedAt`).
    public var includeDeleted: Bool
    public var limit: Int
    public var after: ProductCursor?

    public init(updatedSince: Int64? = nil, includeDeleted: Bool = false, limit: Int = 50, after: ProductCursor? = nil) {
        self.updatedSince = updatedSince
        self.includeDeleted = includeDeleted
        self.limit = limit
        self.after = after
    }
}

/// A sync's outlet, to be matched and written in one transaction.
public struct OutletSyncWrite: Sendable, Equatable {
    public var tenantId: String
    public var provider: String
    /// Must carry `externalId`: the sync matches by it.
    public var input: OutletInput
    /// The id a created outlet gets.
    public var newId: String
    public var at: Int64

    public init(tenantId: String, provider: String, input: OutletInput, newId: String, at: Int64) {
        self.tenantId = tenantId
        self.provider = provider
        self.input = input
        self.newId = newId
        self.at = at
    }
}

/// Outlets and products. Which outlet a sync links and what a product sync does are the domain's
/// (``Outlet/synced(_:provider:linked:sameName:newId:tenantId:at:)``, ``ProductSyncPlan``); the store
/// runs them inside its transaction, serialised per tenant (outlets) or per tenant and provider
/// (products), so concurrent syncs on several replicas decide one after the other.
public protocol CatalogStore: Sendable {
    /// The tenant's outlet; nil for an unknown id or another tenant's.
    func outlet(tenantId: String, id: String) async throws -> Outlet?
    /// Throws ``StoreError/conflict(_:)`` when the tenant already has an outlet with the same
    /// (provider, external id).
    func createOutlet(_ outlet: Outlet) async throws -> Outlet
    /// Upsert by (tenant, provider, external id), linking a same-named outlet without one (map mode).
    func syncOutlet(_ write: OutletSyncWrite) async throws -> (action: OutletSyncAction, outlet: Outlet)
    /// Oldest first; of one provider when given.
    func outlets(tenantId: String, provider: String?, limit: Int, after: OutletCursor?) async throws -> [Outlet]
    /// Applies a state change; when it changes the outlet, writes it with the publications `events`
    /// makes of the changed outlet in the same transaction. nil when the tenant has no such outlet.
    func changeOutletState(tenantId: String, id: String, _ change: OutletStateChange, at: Int64,
                           events: @escaping @Sendable (Outlet) -> [EventPublication],
                           makeDeliveryId: @escaping @Sendable () -> String) async throws -> OutletStateResult?
    /// The outlet's status, or nil when the tenant has no such outlet: dispatch's look-up, one
    /// indexed read of one column.
    func outletStatus(tenantId: String, id: String) async throws -> OutletStatus?

    /// Full replace of the (tenant, provider)'s products in one transaction (see ``ProductSyncPlan``).
    /// Each outlet with menus whose outlet prices changed gets a new menu version and, in the same
    /// transaction, `repriced(outletId)`'s event.
    func syncProducts(tenantId: String, provider: String, _ products: [Product], at: Int64,
                      repriced: @escaping @Sendable (_ outletId: String) -> EventPublication?) async throws -> ProductSyncResult
    /// The provider's products by `updatedAt`, then item code.
    func products(tenantId: String, provider: String, filter: ProductFilter) async throws -> [StoredProduct]
    /// The product, soft-deleted or not; nil when never synced.
    func product(tenantId: String, provider: String, itemCode: String) async throws -> StoredProduct?
    /// The tenant's live products with these item codes, whichever provider synced them; where two
    /// did, the platform's own (`cata`) wins, then the first provider by name.
    func liveProducts(tenantId: String, itemCodes: [String]) async throws -> [StoredProduct]
    /// itemCode → the outlet's own price (decimal text) from products sync, chosen between providers
    /// as ``liveProducts(tenantId:itemCodes:)`` chooses.
    func outletPrices(tenantId: String, outletId: String) async throws -> [String: String]
}
