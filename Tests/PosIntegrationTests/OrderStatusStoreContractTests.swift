import Foundation
import PosDomain
import PosStorage
import Testing

@Suite("Store contract: order status")
struct OrderStatusStoreContractTests {
    static let tenant = StoreContractTests.tenant

    static func change(_ status: OrderStatus, previous: OrderStatus?, at time: Int64, stale: Bool = false, posOrderId: String? = nil) -> OrderStatusChange {
        OrderStatusChange(status: status, previous: previous, source: "partner", reason: nil, posOrderId: posOrderId, occurredAt: time,
                          recordedAt: time, stale: stale)
    }

    @Test("a change lands only at the version it was decided on; history keeps applied and stale reports in order",
          arguments: StoreEngines.all)
    func compareAndSet(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            var new = StoreContractTests.newOrder()
            new.fulfilment = .collection
            _ = try await stores.acceptOrder(new, completionWithoutTargets: StoreContractTests.noTarget(new), makeDeliveryId: { UUID().uuidString })
            let start = try #require(try await stores.order(id: new.id, tenantId: Self.tenant.id)).order
            #expect(start.status == .paid && start.version == 1 && start.fulfilment == .collection && start.statusChangedAt == nil)

            let accepted = try #require(try await stores.recordStatusChange(
                StatusChangeWrite(orderId: new.id, tenantId: Self.tenant.id, expectedVersion: 1,
                                  change: Self.change(.accepted, previous: .paid, at: 2_000, posOrderId: "POS-9")),
                makeDeliveryId: { UUID().uuidString }))
            #expect(accepted.status == .accepted && accepted.version == 2 && accepted.statusChangedAt == 2_000 && accepted.externalOrderId == "POS-9")
            // Decided on version 1, which is gone: nothing is written.
            #expect(try await stores.recordStatusChange(
                StatusChangeWrite(orderId: new.id, tenantId: Self.tenant.id, expectedVersion: 1, change: Self.change(.ready, previous: .paid, at: 3_000)),
                makeDeliveryId: { UUID().uuidString }) == nil)
            // Another tenant cannot write it either.
            #expect(try await stores.recordStatusChange(
                StatusChangeWrite(orderId: new.id, tenantId: "someone-else", expectedVersion: 2, change: Self.change(.ready, previous: .accepted, at: 3_000)),
                makeDeliveryId: { UUID().uuidString }) == nil)
            let stale = try #require(try await stores.recordStatusChange(
                StatusChangeWrite(orderId: new.id, tenantId: Self.tenant.id, expectedVersion: 2,
                                  change: Self.change(.inProgress, previous: .accepted, at: 1_500, stale: true)),
                makeDeliveryId: { UUID().uuidString }))
            #expect(stale.status == .accepted && stale.version == 2)

            let history = try await stores.statusHistory(orderId: new.id, tenantId: Self.tenant.id)
            #expect(history.map(\.status) == [.accepted, .inProgress])
            #expect(history.map(\.stale) == [false, true])
            #expect(try await stores.statusHistory(orderId: new.id, tenantId: "someone-else").isEmpty)
            #expect(try await stores.order(id: new.id, tenantId: Self.tenant.id)?.history == history)
            #expect(try await stores.order(tenantId: Self.tenant.id, externalOrderId: "POS-9")?.id == new.id)
            #expect(try await stores.order(tenantId: Self.tenant.id, orderUUID: new.orderUUID)?.id == new.id)
            #expect(try await stores.order(tenantId: "someone-else", externalOrderId: "POS-9") == nil)
            #expect(try await stores.orderRecord(id: new.id, tenantId: Self.tenant.id) == stale)
            #expect(try await stores.orderRecord(id: new.id, tenantId: "someone-else") == nil)
        }
    }

    @Test("a change publishes its events in the same transaction; cancelling dead-letters a dispatch still waiting",
          arguments: StoreEngines.all)
    func publishesWithTheChange(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            var new = StoreContractTests.newOrder()
            new.builtInTransformer = "desibits"
            guard case .created(_, let planned) = try await stores.acceptOrder(new, completionWithoutTargets: StoreContractTests.noTarget(new),
                                                                                 makeDeliveryId: { "dispatch-1" })
            else { throw TestFailure("not created") }
            #expect(planned.map(\.delivery.id) == ["dispatch-1"])
            // The first attempt failed and waits for its retry.
            try await stores.recordAttempts([RecordedAttempt(
                attempt: DeliveryAttempt(deliveryId: "dispatch-1", attemptNumber: 1, startedAt: 1_000, durationMs: 1, statusCode: 503,
                                         errorClass: "http_status", error: "503", responseExcerpt: nil, signedWith: nil),
                transition: DeliveryTransition(status: .failed, nextAttemptAt: 9_000), at: 1_001)], completion: nil, health: [])
            let job = OutboxEvent(id: "cancel-1", tenantId: Self.tenant.id, type: "pos.cancel_order", subject: EventSubject(.order, id: new.id),
                                  outletId: new.outletId, payload: Array(#"{"reason":"x"}"#.utf8), createdAt: 2_000)
            let written = try await stores.recordStatusChange(
                StatusChangeWrite(orderId: new.id, tenantId: Self.tenant.id, expectedVersion: 1, change: Self.change(.cancelled, previous: .paid, at: 2_000),
                                  publications: [EventPublication(event: job, connector: "desibits")],
                                  deadLetterWaitingDispatch: "order cancelled before it was delivered"),
                makeDeliveryId: { "cancel-delivery" })
            #expect(written?.status == .cancelled)
            let detail = try #require(try await stores.order(id: new.id, tenantId: Self.tenant.id))
            let dispatch = try #require(detail.deliveries.first { $0.id == "dispatch-1" })
            #expect(dispatch.status == .dead && dispatch.lastError == "order cancelled before it was delivered")
            let cancel = try #require(detail.deliveries.first { $0.id == "cancel-delivery" })
            #expect(cancel.event == "pos.cancel_order" && cancel.connector == "desibits" && cancel.status == .pending)
            let claimed = try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "w", expiresAt: 10_000), now: 3_000, limit: 10)
            #expect(claimed.map(\.delivery.id) == ["cancel-delivery"])
            #expect(claimed.first?.event.payload == Array(#"{"reason":"x"}"#.utf8))
        }
    }

    @Test("a job published for later is not claimed before its time", arguments: StoreEngines.all)
    func scheduledPublication(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            let new = StoreContractTests.newOrder()
            _ = try await stores.acceptOrder(new, completionWithoutTargets: StoreContractTests.noTarget(new), makeDeliveryId: { UUID().uuidString })
            let poll = OutboxEvent(id: "poll-1", tenantId: Self.tenant.id, type: "pos.poll_status", subject: EventSubject(.order, id: new.id),
                                   outletId: new.outletId, payload: Array("{}".utf8), createdAt: 5_000)
            try await stores.recordAttempts([], completion: DispatchCompletion(
                orderId: new.id, status: .dispatched, reason: "ok", externalOrderId: "77", response: nil, at: 5_000,
                publications: [EventPublication(event: poll, connector: "desibits", dueAt: 35_000)]), health: [])
            #expect(try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "w", expiresAt: 99_000), now: 34_999, limit: 10).isEmpty)
            let claimed = try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "w", expiresAt: 99_000), now: 35_000, limit: 10)
            #expect(claimed.map(\.event.type) == ["pos.poll_status"])
        }
    }

    @Test("inbound requests are logged per tenant; a connection is found by its token", arguments: StoreEngines.all)
    func inboundLogAndTokens(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            var connection = ProviderStoreContractTests.connection("revel", at: 1)
            connection.sealedWebhookSecret = "v1:webhook"
            _ = try await stores.upsertConnection(connection)
            // An update keeps the token it was created with.
            var changed = connection
            changed.connectionToken = "another-token"
            changed.updatedAt = 2
            #expect(try await stores.upsertConnection(changed).connectionToken == connection.connectionToken)
            #expect(try await stores.connection(token: connection.connectionToken)?.sealedWebhookSecret == "v1:webhook")
            #expect(try await stores.connection(token: "nope") == nil)

            for (index, outcome) in ["applied", "unverified"].enumerated() {
                try await stores.recordInbound(InboundRequestRecord(
                    tenantId: Self.tenant.id, provider: "revel", headers: #"{"X-Revel-Signature":"****"}"#, body: "{}", outcome: outcome,
                    detail: nil, statusCode: outcome == "applied" ? 200 : 401, orderId: nil, receivedAt: Int64(10 + index)))
            }
            let logged = try await stores.inboundRequests(tenantId: Self.tenant.id, limit: 10)
            #expect(logged.map(\.outcome) == ["unverified", "applied"])
            #expect(logged.first?.statusCode == 401)
            #expect(try await stores.inboundRequests(tenantId: "someone-else", limit: 10).isEmpty)
            #expect(try await stores.inboundRequests(tenantId: Self.tenant.id, limit: 1).count == 1)
        }
    }
}
