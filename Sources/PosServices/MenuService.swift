import Crypto
import Foundation
import NIOCore
import PosDomain
import PosStorage
import Synchronization

/// What an outlet sells: menu sync (full replace per outlet), item snoozes, and the read model
/// partners call (`GET /outlets/{id}/menu?at=`), cached per outlet and menu version.
public struct MenuService: Sendable {
    private let store: any MenuStore
    private let outlets: any CatalogStore
    private let providerGuard: ProviderGuard
    private let clock: ServiceClock
    private let makeId: @Sendable () -> String
    private let cache = ReadModelCache()

    public init(store: any MenuStore, outlets: any CatalogStore, providers: any ProviderStore, clock: @escaping ServiceClock,
                makeId: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() }) {
        self.store = store
        self.outlets = outlets
        self.providerGuard = ProviderGuard(providers: providers)
        self.clock = clock
        self.makeId = makeId
    }

    /// The tenant's outlet, when the caller may speak for it (``ProviderGuard``).
    private func outlet(_ id: String, provider: String?, tenant: Tenant) async throws -> Outlet {
        guard let outlet = try await translatingStoreErrors({ try await outlets.outlet(tenantId: tenant.id, id: id) }) else {
            throw ServiceError.notFound("no outlet with id \"\(id)\"")
        }
        try await providerGuard.perOutlet(provider, outletId: id, tenant: tenant)
        return outlet
    }

    /// `POST /outlets/{id}/menu`: the menus replace the outlet's live ones in one transaction.
    public func syncMenus(outletId: String, _ menus: [OutletMenu], documents: [JSONValue], provider: String?, tenant: Tenant) async throws -> MenuSyncSummary {
        try await syncMenus(outlet: try await outlet(outletId, provider: provider, tenant: tenant), menus, documents: documents, reason: "menu sync")
    }

    /// The sync itself, for an outlet already found (a menu import from the POS comes this way too).
    func syncMenus(outlet: Outlet, _ menus: [OutletMenu], documents: [JSONValue], reason: String) async throws -> MenuSyncSummary {
        let tenantId = outlet.tenantId
        let stored = zip(menus, documents).map { menu, document in Self.stored(menu, document: document) }
        let now = clock()
        let makeId = self.makeId
        return try await translatingStoreErrors {
            try await store.syncMenus(tenantId: tenantId, outletId: outlet.id, menus: stored, at: now) { summary in
                Self.menuUpdated(tenantId: tenantId, outletId: outlet.id, menuIds: summary.created + summary.updated + summary.deleted, reason: reason,
                                 at: now, id: makeId())
            }
        }
    }

    /// What `POST /outlets/{id}/items/snooze` changed: items and modifier options matched in the live menus.
    public struct SnoozeResult: Sendable, Equatable {
        public var itemsUpdated: Int
        public var modifierOptionsUpdated: Int
    }

    /// Snoozes (until a time) or unsnoozes (nil) items by `itemCode`; a code matches products and
    /// modifier options of the outlet's live menus alike.
    public func snooze(outletId: String, _ items: [(itemCode: String, until: Int64?)], provider: String?, tenant: Tenant) async throws -> SnoozeResult {
        let current = try await readModel(outletId: outletId, provider: provider, tenant: tenant)
        let productCodes = Set(current.menus.flatMap { $0.products.values.map { $0.plu ?? $0.id } })
        let optionCodes = Set(current.menus.flatMap { $0.modifiers.values.map { $0.plu ?? $0.id } })
        let codes = items.map(\.itemCode)
        let now = clock()
        let menuIds = current.menus.map(\.menuId)
        let event = Self.menuUpdated(tenantId: tenant.id, outletId: outletId, menuIds: menuIds, reason: "items snoozed or unsnoozed", at: now, id: makeId())
        try await translatingStoreErrors {
            try await store.setSnoozes(tenantId: tenant.id, outletId: outletId, items, at: now, publication: event)
        }
        return SnoozeResult(itemsUpdated: codes.filter(productCodes.contains).count, modifierOptionsUpdated: codes.filter(optionCodes.contains).count)
    }

    /// The read model's answer: the small part written per request, then the menus part as cached.
    public struct MenuAnswer: Sendable {
        /// `{"outletId":…,"at":…,"isOpen":…,"isBusy":…,"menus":` — `at` and busy change per request.
        public let head: [UInt8]
        /// The menus array and the closing brace, shared by every read of this state (not copied).
        public let menus: ByteBuffer

        public var byteCount: Int { head.count + menus.readableBytes }
    }

    /// The read model at `at` (now when nil); a nil answer when `ifNoneMatch` already names its tag.
    public func menu(outletId: String, at: Int64?, ifNoneMatch: String? = nil, provider: String? = nil, tenant: Tenant) async throws
        -> (answer: MenuAnswer?, etag: String) {
        let current = try await readModel(outletId: outletId, provider: provider, tenant: tenant)
        let outlet = current.outlet
        // Now, to the second: reads within one second share one answer (and its compressed form).
        let instant = at ?? clock() / 1_000 * 1_000
        let inputs = OutletMenuReadModel.Inputs(outlet: outlet, menus: current.menus, snoozes: current.snoozes, prices: current.prices)
        // Everything the answer shows but `at` itself: the menus part's state, open and busy.
        let state = OutletMenuReadModel.state(inputs, at: instant)
        let key = "\(outlet.id)|\(current.version)|\(outlet.updatedAt)|\(state)|\(outlet.isOpen)|\(outlet.isBusy(at: instant))"
        let etag = "W/\"\(Hex.encode(SHA256.hash(data: Array(key.utf8))).prefix(20))\""
        if let ifNoneMatch, ifNoneMatch.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag }) {
            return (nil, etag)
        }
        // The menus part is rendered once per state and version; only the head is written per request.
        let cacheKey = Self.cacheKey(tenant.id, outletId)
        let menus: ByteBuffer
        if let rendered = cache.rendered(cacheKey, version: current.version, state: state) {
            menus = rendered
        } else {
            menus = ByteBuffer(bytes: OutletMenuReadModel.menus(inputs, at: instant).bytes + [UInt8(ascii: "}")])
            cache.storeRendered(cacheKey, version: current.version, state: state, menus)
        }
        let head = Array(JSONValue.object(OutletMenuReadModel.header(outlet, at: instant)).serialized.utf8.dropLast()) + Array(#","menus":"#.utf8)
        return (MenuAnswer(head: head, menus: menus), etag)
    }

    /// What the read model is made of — the outlet, its live menus parsed, its snoozes and own
    /// prices — cached by menu version: every change to any of them bumps the version, so a read
    /// while nothing changed is one small query.
    private func readModel(outletId: String, provider: String?, tenant: Tenant) async throws -> ReadModelCache.Entry {
        // On a provider's behalf: the outlet must exist (404) before its mapping is asked about (403).
        if provider != nil { _ = try await outlet(outletId, provider: provider, tenant: tenant) }
        let key = Self.cacheKey(tenant.id, outletId)
        let version = try await translatingStoreErrors { try await store.menuVersion(tenantId: tenant.id, outletId: outletId) }
        if let cached = cache.entry(key), cached.version == version { return cached }
        // The menus (with the version they were read at) first: whatever is read after them is as new
        // or newer, so a change in between makes the next read reload rather than keep stale parts.
        let (storedVersion, stored) = try await translatingStoreErrors { try await store.liveMenus(tenantId: tenant.id, outletId: outletId) }
        let outlet = try await outlet(outletId, provider: nil, tenant: tenant)
        // Every snooze, ended or not: the read model decides by the instant it is asked about.
        let snoozes = try await translatingStoreErrors { try await store.snoozes(tenantId: tenant.id, outletId: outletId, now: Int64.min) }
        let prices = try await translatingStoreErrors { try await outlets.outletPrices(tenantId: tenant.id, outletId: outletId) }
        let menus = stored.compactMap { menu -> OutletMenu? in
            guard let json = JSONValue(parsing: menu.document) else { return nil }
            return try? OutletMenu.menus(from: .array([json])).first
        }
        let entry = ReadModelCache.Entry(version: storedVersion, outlet: outlet, menus: menus, snoozes: snoozes, prices: prices)
        cache.store(key, entry)
        return entry
    }

    private static func cacheKey(_ tenantId: String, _ outletId: String) -> String { "\(tenantId)\u{0}\(outletId)" }

    /// A menu as the store keeps it: its JSON as sent, and the hash that tells a re-sync changed nothing.
    static func stored(_ menu: OutletMenu, document: JSONValue) -> StoredMenu {
        let text = document.serialized
        return StoredMenu(menuId: menu.menuId, name: menu.name, menuType: menu.menuType, document: text,
                          contentSHA256: Hex.encode(SHA256.hash(data: Array(text.utf8))))
    }

    /// `menu.updated` `{outletId, menuIds, reason}`; no `menuIds` means every live menu of the outlet.
    static func menuUpdated(tenantId: String, outletId: String, menuIds: [String], reason: String, at: Int64, id: String) -> EventPublication {
        let body = JSONValue.object([
            ("outletId", .string(outletId)), ("menuIds", .array(menuIds.map(JSONValue.string))), ("reason", .string(reason)),
        ])
        return EventPublication(event: OutboxEvent(id: id, tenantId: tenantId, type: EventCatalogue.menuUpdated,
                                                   subject: EventSubject(.outlet, id: outletId), outletId: outletId, payload: body.bytes, createdAt: at))
    }

    /// The event of an outlet whose prices a products sync changed.
    static func repriced(tenantId: String, provider: String, at: Int64) -> @Sendable (String) -> EventPublication? {
        { outletId in
            menuUpdated(tenantId: tenantId, outletId: outletId, menuIds: [], reason: "outlet prices changed by a \(provider) products sync", at: at,
                        id: UUID().uuidString.lowercased())
        }
    }
}

/// Parsed menus per outlet, with the menu version they were read at.
final class ReadModelCache: Sendable {
    struct Entry: Sendable {
        let version: Int64
        let outlet: Outlet
        let menus: [OutletMenu]
        let snoozes: [String: Int64]
        let prices: [String: String]
        /// The rendered menus part per state (served menus, snoozed items) at this version.
        var rendered: [String: ByteBuffer] = [:]
    }

    private let entries = Mutex<[String: Entry]>([:])

    func entry(_ key: String) -> Entry? { entries.withLock { $0[key] } }

    func store(_ key: String, _ entry: Entry) {
        entries.withLock { entries in
            // Bounded: a burst of outlets cannot grow it without end.
            if entries.count >= 10_000 { entries.removeAll(keepingCapacity: true) }
            entries[key] = entry
        }
    }

    func rendered(_ key: String, version: Int64, state: String) -> ByteBuffer? {
        entries.withLock { entries in
            guard let entry = entries[key], entry.version == version else { return nil }
            return entry.rendered[state]
        }
    }

    func storeRendered(_ key: String, version: Int64, state: String, _ bytes: ByteBuffer) {
        entries.withLock { entries in
            guard var entry = entries[key], entry.version == version else { return }
            // A few states a day per outlet (menus starting and ending, snoozes ending): keep the latest handful.
            if entry.rendered.count >= 8 { entry.rendered.removeAll() }
            entry.rendered[state] = bytes
            entries[key] = entry
        }
    }
}
