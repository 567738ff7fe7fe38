import Foundation
import PosDomain
import PosStorage
import Testing

/// The catalogue half of the store contract: outlets and products. Runs on every engine.
@Suite("Store contract: catalog")
struct CatalogStoreContractTests {
    static let tenant = StoreContractTests.tenant
    static let otherTenant = Tenant(id: "00000000-0000-0000-0000-00000000000b", subdomain: "other", name: "Other")

    static func input(_ name: String, externalId: String? = nil, timezone: String = "Asia/Singapore") -> OutletInput {
        OutletInput(name: name, externalId: externalId, address: .object([("city", .string("Singapore")), ("latitude", .number("1.30412345678901"))]),
                    contact: .string("+65 1"), timezone: timezone)
    }

    static func outlet(_ id: String, name: String = "Downtown", externalId: String? = nil, provider: String = "cata", at time: Int64 = 1_000,
                       tenantId: String = tenant.id) -> Outlet {
        .new(input(name, externalId: externalId), id: id, tenantId: tenantId, provider: provider, at: time)
    }

    static func product(_ code: String, price: String = "12.5", name: String? = nil) throws -> Product {
        Product(itemCode: code, name: name ?? code, price: try CatalogPrice(parsing: price),
                modifierGroups: [Product.ModifierGroup(code: "g", name: "G", min: 0, max: 1,
                                                       options: [Product.ModifierOption(itemCode: "\(code)-o", name: "O", price: try CatalogPrice(parsing: "0.5"))])])
    }

    static func withTenants(_ engine: StoreEngines.Factory, _ body: (any StoreEngine) async throws -> Void) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            try await stores.createTenant(Self.otherTenant, createdAt: 1)
            try await body(stores)
        }
    }

    @Test("outlets: create and read back every field; the (provider, external id) is unique only where set; tenants apart",
          arguments: StoreEngines.all)
    func outlets(_ engine: StoreEngines.Factory) async throws {
        try await Self.withTenants(engine) { stores in
            var first = Self.outlet("o-1", externalId: "pos-1")
            first.openingHours = .array([.object([("dayOfWeek", .integer(1)), ("openTime", .string("08:00")), ("closeTime", .string("22:00"))])])
            first.capabilities = .object([("delivery", .bool(true))])
            first.currency = "SGD"
            _ = try await stores.createOutlet(first)
            #expect(try await stores.outlet(tenantId: Self.tenant.id, id: "o-1") == first)
            #expect(try await stores.outlet(tenantId: Self.otherTenant.id, id: "o-1") == nil)
            #expect(try await stores.outletStatus(tenantId: Self.tenant.id, id: "o-1") == .open)
            #expect(try await stores.outletStatus(tenantId: Self.otherTenant.id, id: "o-1") == nil)

            await #expect(throws: StoreError.self) { try await stores.createOutlet(Self.outlet("o-2", externalId: "pos-1")) }
            // Another provider, another tenant, or no external id at all: no conflict.
            _ = try await stores.createOutlet(Self.outlet("o-2", externalId: "pos-1", provider: "revel", at: 2_000))
            _ = try await stores.createOutlet(Self.outlet("o-3", externalId: "pos-1", at: 3_000, tenantId: Self.otherTenant.id))
            _ = try await stores.createOutlet(Self.outlet("o-4", at: 4_000))
            _ = try await stores.createOutlet(Self.outlet("o-5", at: 4_000))

            let all = try await stores.outlets(tenantId: Self.tenant.id, provider: nil, limit: 10, after: nil)
            #expect(all.map(\.id) == ["o-1", "o-2", "o-4", "o-5"])
            let page = try await stores.outlets(tenantId: Self.tenant.id, provider: nil, limit: 2, after: OutletCursor(createdAt: 2_000, id: "o-2"))
            #expect(page.map(\.id) == ["o-4", "o-5"])
            #expect(try await stores.outlets(tenantId: Self.tenant.id, provider: nil, limit: 10, after: OutletCursor(createdAt: 4_000, id: "o-4"))
                .map(\.id) == ["o-5"])
            #expect(try await stores.outlets(tenantId: Self.tenant.id, provider: "revel", limit: 10, after: nil).map(\.id) == ["o-2"])
        }
    }

    @Test("outlet sync: created, then updated by external id; map mode links the oldest same-named outlet without one",
          arguments: StoreEngines.all)
    func outletSync(_ engine: StoreEngines.Factory) async throws {
        try await Self.withTenants(engine) { stores in
            let created = try await stores.syncOutlet(OutletSyncWrite(tenantId: Self.tenant.id, provider: "revel", input: Self.input("Orchard", externalId: "77"),
                                                                      newId: "s-1", at: 1_000))
            #expect(created.action == .created && created.outlet.id == "s-1" && created.outlet.provider == "revel")
            let same = try await stores.syncOutlet(OutletSyncWrite(tenantId: Self.tenant.id, provider: "revel", input: Self.input("Orchard", externalId: "77"),
                                                                   newId: "s-unused", at: 2_000))
            #expect(same.action == .updated && same.outlet == created.outlet, "nothing changed, so not even updatedAt")
            let renamed = try await stores.syncOutlet(OutletSyncWrite(
                tenantId: Self.tenant.id, provider: "revel", input: OutletInput(name: "Orchard Central", externalId: "77", timezone: "UTC"),
                newId: "s-unused", at: 3_000))
            #expect(renamed.outlet.id == "s-1" && renamed.outlet.name == "Orchard Central" && renamed.outlet.timezone == "UTC")
            #expect(renamed.outlet.contact == .string("+65 1") && renamed.outlet.updatedAt == 3_000, "left-out fields keep their values")
            #expect(try await stores.outlet(tenantId: Self.tenant.id, id: "s-1") == renamed.outlet)

            _ = try await stores.createOutlet(Self.outlet("m-1", name: "Marina", at: 4_000))
            _ = try await stores.createOutlet(Self.outlet("m-2", name: "Marina", at: 5_000))
            let linked = try await stores.syncOutlet(OutletSyncWrite(tenantId: Self.tenant.id, provider: "revel", input: Self.input("Marina", externalId: "88"),
                                                                     newId: "s-unused", at: 6_000))
            #expect(linked.action == .updated && linked.outlet.id == "m-1" && linked.outlet.externalId == "88" && linked.outlet.provider == "revel")
            // The other tenant's same-named outlet is never linked.
            _ = try await stores.createOutlet(Self.outlet("x-1", name: "Harbour", tenantId: Self.otherTenant.id))
            let harbour = try await stores.syncOutlet(OutletSyncWrite(tenantId: Self.tenant.id, provider: "revel", input: Self.input("Harbour", externalId: "99"),
                                                                      newId: "h-1", at: 7_000))
            #expect(harbour.action == .created && harbour.outlet.id == "h-1")
            #expect(try await stores.outlet(tenantId: Self.otherTenant.id, id: "x-1")?.externalId == nil)
        }
    }

    @Test("a state change is written with its events in one transaction; the same state again publishes nothing",
          arguments: StoreEngines.all)
    func stateChangePublishes(_ engine: StoreEngines.Factory) async throws {
        try await Self.withTenants(engine) { stores in
            _ = try await stores.createOutlet(Self.outlet("o-1"))
            _ = try await stores.createWebhook(NewWebhook(tenantId: Self.tenant.id, outletId: "o-1", provider: "acme-pos", callbackUrl: "https://h.test/x",
                                                          events: [EventCatalogue.outletUpdated], sealedSecret: "v1:s", createdAt: 1))
            let events: @Sendable (Outlet) -> [EventPublication] = { outlet in
                [EventPublication(event: OutboxEvent(id: "ev-\(outlet.updatedAt)", tenantId: outlet.tenantId, type: EventCatalogue.outletUpdated,
                                                            subject: EventSubject(.outlet, id: outlet.id), outletId: outlet.id,
                                                            payload: Array(outlet.status.rawValue.utf8), createdAt: outlet.updatedAt))]
            }
            let closed = try #require(try await stores.changeOutletState(tenantId: Self.tenant.id, id: "o-1", .status(.closed), at: 2_000, events: events,
                                                                         makeDeliveryId: { "d-closed" }))
            #expect(closed.changed && closed.outlet.status == .closed && closed.outlet.updatedAt == 2_000)
            let again = try #require(try await stores.changeOutletState(tenantId: Self.tenant.id, id: "o-1", .status(.closed), at: 3_000, events: events,
                                                                        makeDeliveryId: { "d-again" }))
            #expect(!again.changed && again.outlet.updatedAt == 2_000)
            let busy = try #require(try await stores.changeOutletState(tenantId: Self.tenant.id, id: "o-1", .busy(true, until: 9_000), at: 4_000,
                                                                       events: events, makeDeliveryId: { "d-busy" }))
            #expect(busy.outlet.isBusy && busy.outlet.busyUntil == 9_000 && busy.outlet.isBusy(at: 8_999) && !busy.outlet.isBusy(at: 9_000))
            #expect(try await stores.changeOutletState(tenantId: Self.otherTenant.id, id: "o-1", .status(.open), at: 5_000, events: events,
                                                       makeDeliveryId: { "d-other" }) == nil)
            #expect(try await stores.outletStatus(tenantId: Self.tenant.id, id: "o-1") == .closed)

            // Both are due, but one outlet's events go to a webhook in emission order: the later waits.
            let claimed = try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "w", expiresAt: 99_000), now: 10_000, limit: 10)
            #expect(claimed.map(\.delivery.id) == ["d-closed"])
            #expect(claimed.allSatisfy { $0.event.type == EventCatalogue.outletUpdated && $0.event.subject == EventSubject(.outlet, id: "o-1") })
            #expect(claimed.first?.event.payload == Array("CLOSED".utf8))
            #expect(try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "w", expiresAt: 99_000), now: 10_000, limit: 10).isEmpty,
                    "the busy event waits while the closed one is being delivered")
        }
    }

    @Test("product sync: full replace per (tenant, provider) — create, update, soft-delete, restore, unchanged by content hash",
          arguments: StoreEngines.all)
    func productSync(_ engine: StoreEngines.Factory) async throws {
        try await Self.withTenants(engine) { stores in
            let tenantId = Self.tenant.id
            let first = try await stores.syncProducts(tenantId: tenantId, provider: "cata", [try Self.product("A"), try Self.product("B"),
                                                                                            try Self.product("C")], at: 1_000, repriced: { _ in nil })
            #expect(first.summary == ProductSyncSummary(created: 3))
            #expect(try await stores.syncProducts(tenantId: tenantId, provider: "cata", [try Self.product("A"), try Self.product("B", price: "12.50"),
                                                                                         try Self.product("C")], at: 2_000, repriced: { _ in nil }).summary
                == ProductSyncSummary(unchanged: 3))
            let second = try await stores.syncProducts(tenantId: tenantId, provider: "cata", [try Self.product("A", price: "13"), try Self.product("C"),
                                                                                             try Self.product("D")], at: 3_000, repriced: { _ in nil })
            #expect(second.summary == ProductSyncSummary(created: 1, updated: 1, deleted: 1, unchanged: 1))
            #expect(second.actions.map { "\($0.itemCode):\($0.action.rawValue)" } == ["A:updated", "C:unchanged", "D:created", "B:deleted"])

            let b = try #require(try await stores.product(tenantId: tenantId, provider: "cata", itemCode: "B"))
            #expect(b.deletedAt == 3_000 && b.updatedAt == 3_000 && b.createdAt == 1_000)
            let a = try #require(try await stores.product(tenantId: tenantId, provider: "cata", itemCode: "A"))
            let expected = try Self.product("A", price: "13")
            #expect(a.document == expected.document && a.contentHash == expected.contentHash)
            #expect(a.document["price"] == .number("13"))

            let live = try await stores.products(tenantId: tenantId, provider: "cata", filter: ProductFilter())
            #expect(live.map(\.itemCode) == ["C", "A", "D"])
            let changed = try await stores.products(tenantId: tenantId, provider: "cata", filter: ProductFilter(updatedSince: 3_000, includeDeleted: true))
            #expect(changed.map(\.itemCode) == ["A", "B", "D"])
            let page = try await stores.products(tenantId: tenantId, provider: "cata",
                                                 filter: ProductFilter(includeDeleted: true, limit: 2, after: ProductCursor(updatedAt: 3_000, itemCode: "A")))
            #expect(page.map(\.itemCode) == ["B", "D"])

            let restored = try await stores.syncProducts(tenantId: tenantId, provider: "cata", [try Self.product("A", price: "13"), try Self.product("B"),
                                                                                               try Self.product("C"), try Self.product("D")], at: 4_000, repriced: { _ in nil })
            #expect(restored.summary == ProductSyncSummary(created: 1, unchanged: 3))
            #expect(try await stores.product(tenantId: tenantId, provider: "cata", itemCode: "B")?.deletedAt == nil)

            // Another provider and another tenant have catalogues of their own.
            #expect(try await stores.syncProducts(tenantId: tenantId, provider: "revel", [try Self.product("A")], at: 5_000, repriced: { _ in nil }).summary
                == ProductSyncSummary(created: 1))
            #expect(try await stores.syncProducts(tenantId: Self.otherTenant.id, provider: "cata", [], at: 5_000, repriced: { _ in nil }).summary == ProductSyncSummary())
            #expect(try await stores.products(tenantId: tenantId, provider: "cata", filter: ProductFilter()).count == 4)
            #expect(try await stores.products(tenantId: tenantId, provider: "revel", filter: ProductFilter()).map(\.itemCode) == ["A"])
            #expect(try await stores.product(tenantId: Self.otherTenant.id, provider: "cata", itemCode: "A") == nil)
        }
    }

    @Test("concurrent syncs of one tenant decide one after the other: no duplicate outlet, and the last full replace wins whole",
          arguments: StoreEngines.all)
    func concurrentSyncs(_ engine: StoreEngines.Factory) async throws {
        try await Self.withTenants(engine) { stores in
            let tenantId = Self.tenant.id
            async let first = stores.syncOutlet(OutletSyncWrite(tenantId: tenantId, provider: "revel", input: Self.input("Orchard", externalId: "77"),
                                                                newId: "c-1", at: 1_000))
            async let second = stores.syncOutlet(OutletSyncWrite(tenantId: tenantId, provider: "revel", input: Self.input("Orchard", externalId: "77"),
                                                                 newId: "c-2", at: 1_000))
            let actions = [try await first.action, try await second.action]
            #expect(actions.sorted { $0.rawValue < $1.rawValue } == [.created, .updated])
            #expect(try await stores.outlets(tenantId: tenantId, provider: nil, limit: 10, after: nil).count == 1)

            let left = try ["A", "B"].map { try Self.product($0) }
            let right = try ["C", "D"].map { try Self.product($0) }
            async let one = stores.syncProducts(tenantId: tenantId, provider: "cata", left, at: 2_000, repriced: { _ in nil })
            async let other = stores.syncProducts(tenantId: tenantId, provider: "cata", right, at: 2_000, repriced: { _ in nil })
            let summaries = [try await one.summary, try await other.summary]
            // Whichever ran second saw the first's products and deleted them.
            #expect(Set(summaries.map(\.deleted)) == [0, 2] && summaries.allSatisfy { $0.created == 2 })
            let live = Set(try await stores.products(tenantId: tenantId, provider: "cata", filter: ProductFilter()).map(\.itemCode))
            #expect(live == ["A", "B"] || live == ["C", "D"])
        }
    }

    @Test("a large sync is written in one transaction, in several statements", arguments: StoreEngines.all)
    func largeSync(_ engine: StoreEngines.Factory) async throws {
        try await Self.withTenants(engine) { stores in
            let products = try (0..<1_234).map { try Self.product(String(format: "P-%05d", $0)) }
            #expect(try await stores.syncProducts(tenantId: Self.tenant.id, provider: "cata", products, at: 1_000, repriced: { _ in nil }).summary == ProductSyncSummary(created: 1_234))
            #expect(try await stores.syncProducts(tenantId: Self.tenant.id, provider: "cata", Array(products.prefix(10)), at: 2_000, repriced: { _ in nil }).summary
                == ProductSyncSummary(deleted: 1_224, unchanged: 10))
            #expect(try await stores.products(tenantId: Self.tenant.id, provider: "cata", filter: ProductFilter(limit: 200)).count == 10)
        }
    }
}
