import Foundation
import PosDomain
import PosStorage
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
}
