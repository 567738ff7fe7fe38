import Foundation
import PosDomain
import PosStorage
import Synchronization
import Testing

@Suite("Store contract: menus and snoozes")
struct MenuStoreContractTests {
    static let tenant = StoreContractTests.tenant

    static func menu(_ id: String, hash: String) -> StoredMenu {
        StoredMenu(menuId: id, name: "Menu \(id)", menuType: 1, document: #"{"menuId":"\#(id)"}"#, contentSHA256: hash)
    }

    @Test("menu sync is a full replace per outlet; the same menus again change nothing; each change bumps the version",
          arguments: StoreEngines.all)
    func fullReplace(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            #expect(try await stores.menuVersion(tenantId: Self.tenant.id, outletId: "o-1") == 0)
            let first = try await stores.syncMenus(tenantId: Self.tenant.id, outletId: "o-1", menus: [Self.menu("a", hash: "1"), Self.menu("b", hash: "1")],
                                                   at: 10, publication: { _ in nil })
            #expect(first.created == ["a", "b"] && first.changed)
            let again = try await stores.syncMenus(tenantId: Self.tenant.id, outletId: "o-1", menus: [Self.menu("a", hash: "1"), Self.menu("b", hash: "1")],
                                                   at: 11, publication: { _ in nil })
            #expect(again.unchanged == ["a", "b"] && !again.changed)
            #expect(try await stores.menuVersion(tenantId: Self.tenant.id, outletId: "o-1") == 1)
            let third = try await stores.syncMenus(tenantId: Self.tenant.id, outletId: "o-1", menus: [Self.menu("b", hash: "2"), Self.menu("c", hash: "1")],
                                                   at: 12, publication: { _ in nil })
            #expect(third.created == ["c"] && third.updated == ["b"] && third.deleted == ["a"])
            let (version, live) = try await stores.liveMenus(tenantId: Self.tenant.id, outletId: "o-1")
            #expect(version == 2 && live.map(\.menuId) == ["b", "c"] && live.first?.contentSHA256 == "2")
            // A deleted menu comes back under its id; other outlets and tenants see nothing of this one.
            let back = try await stores.syncMenus(tenantId: Self.tenant.id, outletId: "o-1", menus: [Self.menu("a", hash: "1")], at: 13,
                                                  publication: { _ in nil })
            #expect(back.created == ["a"] && back.deleted == ["b", "c"])
            #expect(try await stores.liveMenus(tenantId: Self.tenant.id, outletId: "o-2").menus.isEmpty)
            #expect(try await stores.liveMenus(tenantId: "someone-else", outletId: "o-1").menus.isEmpty)
        }
    }

    @Test("snoozes end by themselves, clear on null, and bump the version; a change publishes its event", arguments: StoreEngines.all)
    func snoozes(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            let event = OutboxEvent(id: "menu-event-1", tenantId: Self.tenant.id, type: EventCatalogue.menuUpdated, subject: EventSubject(.outlet, id: "o-1"),
                                    outletId: "o-1", payload: Array("{}".utf8), createdAt: 5)
            try await stores.setSnoozes(tenantId: Self.tenant.id, outletId: "o-1", [("A", 100), ("B", 200)], at: 5,
                                        publication: EventPublication(event: event))
            #expect(try await stores.snoozes(tenantId: Self.tenant.id, outletId: "o-1", now: 50) == ["A": 100, "B": 200])
            #expect(try await stores.snoozes(tenantId: Self.tenant.id, outletId: "o-1", now: 100) == ["B": 200], "A's snooze ended at 100")
            try await stores.setSnoozes(tenantId: Self.tenant.id, outletId: "o-1", [("B", nil)], at: 6, publication: nil)
            #expect(try await stores.snoozes(tenantId: Self.tenant.id, outletId: "o-1", now: 50) == ["A": 100])
            #expect(try await stores.menuVersion(tenantId: Self.tenant.id, outletId: "o-1") == 2)
            #expect(try await stores.snoozes(tenantId: "someone-else", outletId: "o-1", now: 0).isEmpty)
        }
    }

    static func draft(_ id: String, name: String = "Lunch", at: Int64 = 10) -> StoredMenuDraft {
        StoredMenuDraft(tenantId: tenant.id, id: id, name: name, document: #"{"name":"\#(name)"}"#, version: 1, createdAt: at, updatedAt: at)
    }

    @Test("drafts: create once per id, read, page oldest first, replace only at the expected version, soft-delete; other tenants see none",
          arguments: StoreEngines.all)
    func drafts(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            try await stores.createDraft(Self.draft("d-1", at: 10))
            try await stores.createDraft(Self.draft("d-2", at: 20))
            try await stores.createDraft(Self.draft("d-3", at: 20))
            await #expect(throws: StoreError.self) { try await stores.createDraft(Self.draft("d-1", at: 30)) }
            #expect(try await stores.draft(tenantId: Self.tenant.id, id: "d-1") == Self.draft("d-1", at: 10))
            #expect(try await stores.draft(tenantId: "someone-else", id: "d-1") == nil)
            #expect(try await stores.drafts(tenantId: Self.tenant.id, limit: 2, after: nil).map(\.id) == ["d-1", "d-2"])
            #expect(try await stores.drafts(tenantId: Self.tenant.id, limit: 2, after: (20, "d-2")).map(\.id) == ["d-3"])

            var edited = Self.draft("d-1", name: "Dinner", at: 10)
            edited.updatedAt = 40
            let written = try await stores.replaceDraft(edited, expectedVersion: 1)
            #expect(written?.version == 2 && written?.name == "Dinner")
            #expect(try await stores.replaceDraft(edited, expectedVersion: 1) == nil, "version 1 is gone: a stale edit writes nothing")
            #expect(try await stores.draft(tenantId: Self.tenant.id, id: "d-1")?.version == 2)
            #expect(try await stores.deleteDraft(tenantId: Self.tenant.id, id: "d-1", at: 50))
            #expect(try await stores.deleteDraft(tenantId: Self.tenant.id, id: "d-1", at: 51) == false)
            #expect(try await stores.draft(tenantId: Self.tenant.id, id: "d-1") == nil)
            #expect(try await stores.replaceDraft(edited, expectedVersion: 2) == nil, "a deleted draft is not edited")
            #expect(try await stores.drafts(tenantId: Self.tenant.id, limit: 10, after: nil).map(\.id) == ["d-2", "d-3"])
        }
    }

    @Test("a publish replaces the outlet's menus and logs in one transaction: a log line that cannot be written leaves the menus as they were",
          arguments: StoreEngines.all)
    func publishIsAtomic(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            _ = try await stores.syncMenus(tenantId: Self.tenant.id, outletId: "o-1", menus: [Self.menu("old", hash: "1")], at: 10, publication: { _ in nil })
            let record = MenuPublicationRecord(tenantId: Self.tenant.id, id: "p-1", outletId: "o-1", draftIds: ["d-1"], menuIds: ["d-1"], status: .published,
                                               error: nil, publishedAt: 20)
            let event = OutboxEvent(id: "menu-published-1", tenantId: Self.tenant.id, type: EventCatalogue.menuUpdated, subject: EventSubject(.outlet, id: "o-1"),
                                    outletId: "o-1", payload: Array("{}".utf8), createdAt: 20)
            let told = Mutex<[MenuSyncSummary]>([])
            let summary = try await stores.publishMenus(record, menus: [Self.menu("d-1", hash: "1")]) { summary in
                told.withLock { $0.append(summary) }
                return EventPublication(event: event)
            }
            #expect(summary.created == ["d-1"] && summary.deleted == ["old"])
            #expect(told.withLock { $0 } == [summary], "the change's event is asked for inside the publish")
            #expect(try await stores.liveMenus(tenantId: Self.tenant.id, outletId: "o-1").menus.map(\.menuId) == ["d-1"])

            // The same log line again breaks its key after the menus were replaced: all of it rolls back.
            let version = try await stores.menuVersion(tenantId: Self.tenant.id, outletId: "o-1")
            await #expect(throws: (any Error).self) {
                _ = try await stores.publishMenus(record, menus: [Self.menu("d-2", hash: "1")]) { _ in nil }
            }
            #expect(try await stores.liveMenus(tenantId: Self.tenant.id, outletId: "o-1").menus.map(\.menuId) == ["d-1"])
            #expect(try await stores.menuVersion(tenantId: Self.tenant.id, outletId: "o-1") == version)

            try await stores.recordPublication(MenuPublicationRecord(tenantId: Self.tenant.id, id: "p-2", outletId: "o-2", draftIds: ["d-1"], menuIds: [],
                                                                     status: .failed, error: "no currency", publishedAt: 30))
            let log = try await stores.publications(tenantId: Self.tenant.id, outletId: nil, limit: 10)
            #expect(log.map(\.id) == ["p-2", "p-1"] && log.first?.status == .failed && log.first?.error == "no currency")
            #expect(log.last == record)
            #expect(try await stores.publications(tenantId: Self.tenant.id, outletId: "o-1", limit: 10).map(\.id) == ["p-1"])
            #expect(try await stores.publications(tenantId: "someone-else", outletId: nil, limit: 10).isEmpty)
        }
    }

    @Test("outlet prices follow products sync; an outlet with menus whose prices changed gets a new version and its event; cata wins over another provider",
          arguments: StoreEngines.all)
    func outletPrices(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            _ = try await stores.syncMenus(tenantId: Self.tenant.id, outletId: "o-1", menus: [Self.menu("m", hash: "1")], at: 10, publication: { _ in nil })
            func product(_ code: String, _ prices: [(String, String)]) throws -> Product {
                Product(itemCode: code, name: code, price: try CatalogPrice(parsing: "10"),
                        outletPrices: try prices.map { Product.OutletPrice(outletId: $0.0, price: try CatalogPrice(parsing: $0.1)) })
            }
            let repriced = Mutex<[String]>([])
            let events: @Sendable (String) -> EventPublication? = { outletId in
                repriced.withLock { $0.append(outletId) }
                return EventPublication(event: OutboxEvent(id: "repriced-\(outletId)-\(UUID().uuidString)", tenantId: Self.tenant.id, type: EventCatalogue.menuUpdated,
                                                           subject: EventSubject(.outlet, id: outletId), outletId: outletId, payload: Array("{}".utf8), createdAt: 20))
            }
            _ = try await stores.syncProducts(tenantId: Self.tenant.id, provider: "revel", [try product("A", [("o-1", "9.5"), ("o-2", "8")])], at: 20, repriced: events)
            #expect(try await stores.outletPrices(tenantId: Self.tenant.id, outletId: "o-1") == ["A": "9.5"])
            #expect(repriced.withLock { $0 } == ["o-1"], "o-2 has no menus: nothing of it is cached or sold yet")
            #expect(try await stores.menuVersion(tenantId: Self.tenant.id, outletId: "o-1") == 2)

            // The same prices again: nothing to tell.
            _ = try await stores.syncProducts(tenantId: Self.tenant.id, provider: "revel", [try product("A", [("o-1", "9.50"), ("o-2", "8")])], at: 30, repriced: events)
            #expect(repriced.withLock { $0 }.count == 1)
            #expect(try await stores.menuVersion(tenantId: Self.tenant.id, outletId: "o-1") == 2)

            // The platform's own price wins; deleting the product takes its prices away.
            _ = try await stores.syncProducts(tenantId: Self.tenant.id, provider: "cata", [try product("A", [("o-1", "7")]), try product("B", [])], at: 40, repriced: events)
            #expect(try await stores.outletPrices(tenantId: Self.tenant.id, outletId: "o-1") == ["A": "7"])
            #expect(try await stores.liveProducts(tenantId: Self.tenant.id, itemCodes: ["A", "B", "C"]).map { "\($0.itemCode)@\($0.provider)" } == ["A@cata", "B@cata"])
            _ = try await stores.syncProducts(tenantId: Self.tenant.id, provider: "cata", [], at: 50, repriced: events)
            #expect(try await stores.outletPrices(tenantId: Self.tenant.id, outletId: "o-1") == ["A": "9.5"])
            #expect(try await stores.liveProducts(tenantId: Self.tenant.id, itemCodes: ["A", "B"]).map { "\($0.itemCode)@\($0.provider)" } == ["A@revel"])
            #expect(repriced.withLock { $0 } == ["o-1", "o-1", "o-1"])
            #expect(try await stores.menuVersion(tenantId: Self.tenant.id, outletId: "o-1") == 4)
            #expect(try await stores.outletPrices(tenantId: "someone-else", outletId: "o-1").isEmpty)
        }
    }
}
