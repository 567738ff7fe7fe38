import Foundation
import PosDomain
import PosStorage
import Testing

/// The provider half of the store contract: connections, outlet mappings, and connector deliveries
/// in the outbox. Runs on every engine, like ``StoreContractTests``.
@Suite("Store contract: providers")
struct ProviderStoreContractTests {
    static let tenant = StoreContractTests.tenant

    static func connection(_ slug: String, at time: Int64, baseUrl: String = "https://pos.test") -> ProviderConnection {
        ProviderConnection(tenantId: tenant.id, slug: slug, status: "active", sealedApiKey: "v1:key", sealedApiSecret: "v1:secret",
                           webhookUrl: "", baseUrl: baseUrl, config: "{}", createdAt: time, updatedAt: time,
                           connectionToken: "token-\(slug)")
    }

    @Test("connections upsert keeping createdAt; deleting one removes its outlet mappings", arguments: StoreEngines.all)
    func connections(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            _ = try await stores.upsertConnection(Self.connection("revel", at: 10))
            let updated = try await stores.upsertConnection(Self.connection("revel", at: 20, baseUrl: "https://acme.revelup.com"))
            #expect(updated.createdAt == 10 && updated.updatedAt == 20 && updated.baseUrl == "https://acme.revelup.com")
            _ = try await stores.upsertConnection(Self.connection("oktopos", at: 30))
            #expect(try await stores.connections(tenantId: Self.tenant.id).map(\.slug) == ["oktopos", "revel"])

            let mapping = OutletProvider(tenantId: Self.tenant.id, outletId: "outlet-1", providerSlug: "revel", externalId: "456",
                                         settings: #"{"establishmentId":456}"#, createdAt: 40, updatedAt: 40)
            _ = try await stores.upsertOutletProvider(mapping)
            var remapped = mapping
            remapped.providerSlug = "oktopos"
            remapped.updatedAt = 50
            remapped.createdAt = 50
            let stored = try await stores.upsertOutletProvider(remapped)
            #expect(stored.providerSlug == "oktopos" && stored.createdAt == 40, "one provider per outlet: re-mapping replaces")
            _ = try await stores.upsertOutletProvider(OutletProvider(tenantId: Self.tenant.id, outletId: "outlet-2", providerSlug: "revel",
                                                                     externalId: "457", settings: "{}", createdAt: 60, updatedAt: 60))

            #expect(try await stores.deleteConnection(tenantId: Self.tenant.id, slug: "revel") == 1)
            #expect(try await stores.deleteConnection(tenantId: Self.tenant.id, slug: "revel") == nil)
            #expect(try await stores.outletProvider(tenantId: Self.tenant.id, outletId: "outlet-2") == nil)
            #expect(try await stores.outletProvider(tenantId: Self.tenant.id, outletId: "outlet-1")?.providerSlug == "oktopos")
        }
    }

    @Test("an order for a built-in transformer gets one connector delivery; it is claimed with its outlet and keeps its progress",
          arguments: StoreEngines.all)
    func connectorDelivery(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            var order = StoreContractTests.newOrder()
            order.builtInTransformer = "desibits"
            guard case .created(_, let planned) = try await stores.acceptOrder(
                order, completionWithoutTargets: StoreContractTests.noTarget(order), makeDeliveryId: { "d-connector" }) else {
                Issue.record("expected a new order")
                return
            }
            #expect(planned.count == 1)
            #expect(planned.first?.target == nil && planned.first?.delivery.connector == "desibits")
            #expect(planned.first?.delivery.status == .delivering, "leased to the dispatch request")

            try await stores.saveProgress(deliveryId: "d-connector", progress: #"{"orderId":"123"}"#, at: 1_100)
            let claimed = try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "worker", expiresAt: 9_000), now: 1_600, limit: 10)
            #expect(claimed.count == 1, "the dispatcher's lease ran out")
            #expect(claimed.first?.event.outletId == "outlet-1")
            #expect(claimed.first?.target == nil)
            #expect(claimed.first?.delivery.progress == #"{"orderId":"123"}"#)
            #expect(try await stores.delivery(id: "d-connector", tenantId: Self.tenant.id)?.delivery.progress == #"{"orderId":"123"}"#)
        }
    }
}
