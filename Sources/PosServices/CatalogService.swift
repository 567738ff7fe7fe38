import Foundation
import PosDomain
import PosStorage
import Synchronization

/// A page of a list (`GET /outlets`, `GET /menus/drafts`), validated.
public struct PageQuery: Sendable, Equatable {
    /// 1 to 200; 50 when nil.
    public var limit: Int?
    /// The previous page's `nextCursor`.
    public var cursor: String?

    public init(limit: Int? = nil, cursor: String? = nil) {
        self.limit = limit
        self.cursor = cursor
    }
}

/// `GET /products`, validated.
public struct ProductQuery: Sendable, Equatable {
    public var updatedSince: Int64?
    public var includeDeleted: Bool
    /// 1 to 200; 50 when nil.
    public var limit: Int?
    public var cursor: String?

    public init(updatedSince: Int64? = nil, includeDeleted: Bool = false, limit: Int? = nil, cursor: String? = nil) {
        self.updatedSince = updatedSince
        self.includeDeleted = includeDeleted
        self.limit = limit
        self.cursor = cursor
    }
}

/// `PATCH /outlets/{id}/status` and `…/busy`, validated in shape; the service checks `busyUntil` against the clock.
public struct OutletStateCommand: Sendable, Equatable {
    public var change: OutletStateChange
    /// Carried in `outlet.updated`.
    public var reason: String?

    public init(change: OutletStateChange, reason: String? = nil) {
        self.change = change
        self.reason = reason
    }
}

/// Outlets and products of a tenant, as POS adapters sync them and the platform opens, closes and
/// marks them busy.
///
/// `X-Provider` (default `cata`) says which POS a call speaks for (``ProviderGuard``).
public struct CatalogService: Sendable {
    /// The provider of calls that name none: the platform.
    public static let platformProvider = "cata"
    public static let defaultPageSize = 50

    private let catalog: any CatalogStore
    private let providers: any ProviderStore
    private let statuses: OutletStatusCache
    private let clock: ServiceClock
    private let makeId: @Sendable () -> String

    public init(catalog: any CatalogStore, providers: any ProviderStore, statuses: OutletStatusCache, clock: @escaping ServiceClock,
                makeId: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() }) {
        self.catalog = catalog
        self.providers = providers
        self.statuses = statuses
        self.clock = clock
        self.makeId = makeId
    }

    // MARK: Outlets

    /// `POST /outlets`: a new outlet, OPEN and not busy. 409 when its `externalId` is taken for the provider.
    public func createOutlet(_ input: OutletInput, provider: String?, tenant: Tenant) async throws -> Outlet {
        let slug = try await tenantWide(provider, tenant: tenant)
        let outlet = Outlet.new(input, id: makeId(), tenantId: tenant.id, provider: slug, at: clock())
        return try await translatingStoreErrors { try await catalog.createOutlet(outlet) }
    }

    /// `POST /outlets/sync`: upsert by (provider, `externalId`); a same-named outlet without an
    /// external id is linked instead of duplicated.
    public func syncOutlet(_ input: OutletInput, provider: String?, tenant: Tenant) async throws -> (action: OutletSyncAction, outlet: Outlet) {
        let slug = try await tenantWide(provider, tenant: tenant)
        let write = OutletSyncWrite(tenantId: tenant.id, provider: slug, input: input, newId: makeId(), at: clock())
        return try await translatingStoreErrors { try await catalog.syncOutlet(write) }
    }

    public struct OutletPage: Sendable {
        public let outlets: [Outlet]
        /// Pass as `cursor` for the next page; nil on the last.
        public let nextCursor: String?
    }

    /// `GET /outlets`: oldest first; only the provider's when `X-Provider` names one.
    public func outlets(_ query: PageQuery, provider: String?, tenant: Tenant) async throws -> OutletPage {
        var slug: String?
        if provider != nil { slug = try await tenantWide(provider, tenant: tenant) }
        var after: OutletCursor?
        if let cursor = query.cursor {
            guard let position = PageCursorText.decode(cursor) else { throw Self.foreignCursor }
            after = OutletCursor(createdAt: position.position, id: position.key)
        }
        let limit = query.limit ?? Self.defaultPageSize
        let outlets = try await translatingStoreErrors { try await catalog.outlets(tenantId: tenant.id, provider: slug, limit: limit, after: after) }
        let next = outlets.count == limit ? outlets.last.map { PageCursorText.encode($0.createdAt, $0.id) } : nil
        return OutletPage(outlets: outlets, nextCursor: next)
    }

    /// `GET /outlets/{id}`. Another tenant's outlet is not found.
    public func outlet(id: String, provider: String?, tenant: Tenant) async throws -> Outlet {
        let outlet = try await existingOutlet(id, tenant: tenant)
        try await perOutlet(provider, outletId: id, tenant: tenant)
        return outlet
    }

    /// `PATCH /outlets/{id}/status` and `…/busy`. A change that changes something is written with an
    /// `outlet.updated` event to the outlet's subscribed webhooks, in one transaction; the same
    /// state again changes nothing and sends nothing.
    public func changeState(outletId: String, _ command: OutletStateCommand, provider: String?, tenant: Tenant) async throws -> OutletStateResult {
        _ = try await existingOutlet(outletId, tenant: tenant)
        try await perOutlet(provider, outletId: outletId, tenant: tenant)
        let now = clock()
        if case .busy(true, let until?) = command.change, until <= now {
            throw ServiceError.invalid(field: "busyUntil", message: "busyUntil must be in the future")
        }
        let makeId = self.makeId
        let reason = command.reason
        let change = command.change
        let result = try await translatingStoreErrors {
            try await catalog.changeOutletState(tenantId: tenant.id, id: outletId, change, at: now, events: { outlet in
                [EventPublication(event: OutboxEvent(
                    id: makeId(), tenantId: outlet.tenantId, type: EventCatalogue.outletUpdated, subject: EventSubject(.outlet, id: outlet.id),
                    outletId: outlet.id, payload: OutletEventBody(outlet: outlet, change: change, reason: reason, at: now).json.bytes,
                    createdAt: now))]
            }, makeDeliveryId: makeId)
        }
        guard let result else { throw Self.noOutlet(outletId) }
        statuses.store(tenantId: tenant.id, outletId: outletId, result.outlet.status, now: now)
        return result
    }

    /// The outlet's status for dispatch, nil when the tenant has no such outlet. Read through a
    /// cache of `cacheTTLMs`: dispatch is the hot path and a closed outlet is only worth a note.
    /// A store failure is nil: the note is not worth failing an order for.
    public func statusForDispatch(tenantId: String, outletId: String) async -> OutletStatus? {
        let now = clock()
        if let cached = statuses.entry(tenantId: tenantId, outletId: outletId, now: now) { return cached }
        guard let status = try? await catalog.outletStatus(tenantId: tenantId, id: outletId) else {
            statuses.store(tenantId: tenantId, outletId: outletId, nil, now: now)
            return nil
        }
        statuses.store(tenantId: tenantId, outletId: outletId, status, now: now)
        return status
    }

    // MARK: Products

    /// `POST /products/sync`: full replace of the provider's products in one transaction.
    public func syncProducts(_ products: [Product], provider: String?, tenant: Tenant) async throws -> ProductSyncResult {
        let slug = try await tenantWide(provider, tenant: tenant)
        let now = clock()
        return try await translatingStoreErrors {
            try await catalog.syncProducts(tenantId: tenant.id, provider: slug, products, at: now,
                                           repriced: MenuService.repriced(tenantId: tenant.id, provider: slug, at: now))
        }
    }

    public struct ProductPage: Sendable {
        public let provider: String
        public let products: [StoredProduct]
        public let nextCursor: String?
    }

    /// `GET /products`: the provider's products by last change, live ones unless `includeDeleted`.
    public func products(_ query: ProductQuery, provider: String?, tenant: Tenant) async throws -> ProductPage {
        let slug = try await tenantWide(provider, tenant: tenant)
        var filter = ProductFilter(updatedSince: query.updatedSince, includeDeleted: query.includeDeleted, limit: query.limit ?? Self.defaultPageSize)
        if let cursor = query.cursor {
            guard let position = PageCursorText.decode(cursor) else { throw Self.foreignCursor }
            filter.after = ProductCursor(updatedAt: position.position, itemCode: position.key)
        }
        let products = try await translatingStoreErrors { try await catalog.products(tenantId: tenant.id, provider: slug, filter: filter) }
        let next = products.count == filter.limit ? products.last.map { PageCursorText.encode($0.updatedAt, $0.itemCode) } : nil
        return ProductPage(provider: slug, products: products, nextCursor: next)
    }

    /// `GET /products/{itemCode}`: a soft-deleted product is not found, like one never synced.
    public func product(itemCode: String, provider: String?, tenant: Tenant) async throws -> StoredProduct {
        let slug = try await tenantWide(provider, tenant: tenant)
        guard let product = try await translatingStoreErrors({ try await catalog.product(tenantId: tenant.id, provider: slug, itemCode: itemCode) }),
              product.deletedAt == nil
        else { throw ServiceError.notFound("no product with itemCode \"\(itemCode)\" for provider \"\(slug)\"") }
        return product
    }

    private func tenantWide(_ provider: String?, tenant: Tenant) async throws -> String {
        try await ProviderGuard(providers: providers).tenantWide(provider, tenant: tenant)
    }

    private func perOutlet(_ provider: String?, outletId: String, tenant: Tenant) async throws {
        try await ProviderGuard(providers: providers).perOutlet(provider, outletId: outletId, tenant: tenant)
    }

    private func existingOutlet(_ id: String, tenant: Tenant) async throws -> Outlet {
        guard let outlet = try await translatingStoreErrors({ try await catalog.outlet(tenantId: tenant.id, id: id) }) else {
            throw Self.noOutlet(id)
        }
        return outlet
    }

    private static func noOutlet(_ id: String) -> ServiceError { .notFound("no outlet with id \"\(id)\"") }

    private static let foreignCursor = ServiceError.invalid(field: "cursor", message: "cursor is not one this service issued")
}

/// The body of `outlet.updated`: what changed, why, and the outlet as it is now.
struct OutletEventBody {
    let outlet: Outlet
    let change: OutletStateChange
    let reason: String?
    let at: Int64

    var json: JSONValue {
        .object([
            ("outletId", .string(outlet.id)),
            ("change", .string(change.name)),
            ("reason", reason.map(JSONValue.string) ?? .null),
            ("occurredAt", .string(RFC3339.format(milliseconds: at))),
            ("outlet", outlet.json(at: at)),
        ])
    }
}

/// Outlets' statuses as dispatch last read them, by tenant and outlet, for `ttlMs`; a status change
/// in this process replaces its entry at once, other replicas see it within the TTL. Bounded:
/// cleared when it outgrows `capacity`.
public final class OutletStatusCache: Sendable {
    private struct Entry {
        /// nil: the tenant has no such outlet.
        let status: OutletStatus?
        let readAt: Int64
    }

    private let ttlMs: Int64
    private let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])

    public init(ttlMs: Int64 = 1_000, capacity: Int = 10_000) {
        self.ttlMs = ttlMs
        self.capacity = capacity
    }

    private static func key(_ tenantId: String, _ outletId: String) -> String { "\(tenantId)\u{0}\(outletId)" }

    /// `.some(nil)` is a cached "no such outlet"; nil is a miss.
    func entry(tenantId: String, outletId: String, now: Int64) -> OutletStatus?? {
        entries.withLock { entries in
            guard let entry = entries[Self.key(tenantId, outletId)], now - entry.readAt < ttlMs else { return nil }
            return .some(entry.status)
        }
    }

    func store(tenantId: String, outletId: String, _ status: OutletStatus?, now: Int64) {
        guard ttlMs > 0 else { return }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[Self.key(tenantId, outletId)] = Entry(status: status, readAt: now)
        }
    }
}
