import Foundation
import PosDomain
import PosStorage
import Testing

/// The console's half of the store contract: its sessions and its read models over orders and
/// deliveries. Runs on every engine, like ``StoreContractTests``.
@Suite("Store contract: console sessions and operations")
struct OperationsStoreContractTests {
    static let tenant = StoreContractTests.tenant
    static let other = Tenant(id: "00000000-0000-0000-0000-00000000000b", subdomain: "other", name: "Other")

    static func order(_ uuid: String, ref: String, outlet: String = "outlet-1", at: Int64, tenantId: String = tenant.id) -> NewOrder {
        NewOrder(id: "order-\(uuid)", tenantId: tenantId, outletId: outlet, event: "order.paid", orderUUID: uuid, orderRefNo: ref,
                 builtInTransformer: nil, currency: "SGD", totalPayMinor: 1250, payload: Array(#"{"uuid":"x"}"#.utf8), payloadSHA256: uuid,
                 receivedAt: at, firstAttemptLease: DeliveryLease(owner: "dispatcher", expiresAt: at + 500))
    }

    @Test("sessions are found by hash, touched, pointed at a tenant, and expire", arguments: StoreEngines.all)
    func sessions(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            let id = ConsoleSessionId.generate()
            let session = ConsoleSession(idHash: id.hash, holder: .operatorKey(7), actingTenantId: nil, createdAt: 10, lastSeenAt: 10, expiresAt: 100)
            try await stores.createSession(session)
            #expect(try await stores.session(idHash: id.hash) == session)
            #expect(try await stores.session(idHash: ConsoleSessionId.generate().hash) == nil)
            try await stores.touchSession(idHash: id.hash, lastSeenAt: 50, expiresAt: 140)
            try await stores.setActingTenant(idHash: id.hash, tenantId: Self.tenant.id)
            let moved = try #require(try await stores.session(idHash: id.hash))
            #expect(moved.expiresAt == 140 && moved.lastSeenAt == 50 && moved.actingTenantId == Self.tenant.id && moved.holder == .operatorKey(7))
            #expect(try await stores.deleteExpiredSessions(now: 139) == 0)
            #expect(try await stores.deleteExpiredSessions(now: 140) == 1)
            #expect(try await stores.session(idHash: id.hash) == nil)

            let other = ConsoleSessionId.generate()
            try await stores.createSession(ConsoleSession(idHash: other.hash, holder: .tenantKey(3), actingTenantId: nil, createdAt: 1,
                                                          lastSeenAt: 1, expiresAt: 1_000))
            try await stores.deleteSession(idHash: other.hash)
            #expect(try await stores.session(idHash: other.hash) == nil)
        }
    }

    @Test("order search: exact lookups by uuid, orderRefNo or id; filters; pages newest first; never another tenant's",
          arguments: StoreEngines.all)
    func orderSearch(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            try await stores.createTenant(Self.other, createdAt: 1)
            for index in 0..<5 {
                let order = Self.order("u-\(index)", ref: "R-\(index)", outlet: index.isMultiple(of: 2) ? "outlet-1" : "outlet-2", at: 1_000 + Int64(index))
                _ = try await stores.acceptOrder(order, completionWithoutTargets: StoreContractTests.noTarget(order), makeDeliveryId: { UUID().uuidString })
            }
            let foreign = Self.order("u-9", ref: "R-1", at: 1_000, tenantId: Self.other.id)
            _ = try await stores.acceptOrder(foreign, completionWithoutTargets: StoreContractTests.noTarget(foreign), makeDeliveryId: { UUID().uuidString })

            #expect(try await stores.searchOrders(tenantId: Self.tenant.id, OrderSearch(text: "R-1")).map(\.id) == ["order-u-1"])
            #expect(try await stores.searchOrders(tenantId: Self.tenant.id, OrderSearch(text: "u-3")).map(\.id) == ["order-u-3"])
            #expect(try await stores.searchOrders(tenantId: Self.tenant.id, OrderSearch(text: "order-u-4")).map(\.id) == ["order-u-4"])
            #expect(try await stores.searchOrders(tenantId: Self.tenant.id, OrderSearch(text: "u-9")).isEmpty, "another tenant's order")
            #expect(try await stores.searchOrders(tenantId: Self.tenant.id, OrderSearch(text: "R-")).isEmpty, "exact, not a prefix")

            let all = try await stores.searchOrders(tenantId: Self.tenant.id, OrderSearch())
            #expect(all.map(\.id) == ["order-u-4", "order-u-3", "order-u-2", "order-u-1", "order-u-0"])
            let firstPage = try await stores.searchOrders(tenantId: Self.tenant.id, OrderSearch(limit: 2))
            let last = try #require(firstPage.last)
            let secondPage = try await stores.searchOrders(tenantId: Self.tenant.id, OrderSearch(limit: 2, after: (last.receivedAt, last.id)))
            #expect(secondPage.map(\.id) == ["order-u-2", "order-u-1"])
            #expect(try await stores.searchOrders(tenantId: Self.tenant.id, OrderSearch(outletId: "outlet-2")).map(\.id) == ["order-u-3", "order-u-1"])
            #expect(try await stores.searchOrders(tenantId: Self.tenant.id, OrderSearch(from: 1_001, until: 1_003)).map(\.id) == ["order-u-2", "order-u-1"])
            #expect(try await stores.searchOrders(tenantId: Self.tenant.id, OrderSearch(status: .paid)).count == 5)
            #expect(try await stores.searchOrders(tenantId: Self.tenant.id, OrderSearch(status: .completed)).isEmpty)
        }
    }

    @Test("activity buckets, the outbox snapshot and dead letters grouped by target and reason", arguments: StoreEngines.all)
    func readModels(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            let planned = try await StoreContractTests.webhookAndOrder(stores)  // one order at 1_000 with a webhook delivery
            try await stores.createTenant(Self.other, createdAt: 1)
            var snapshot = try await stores.outboxSnapshot(tenantId: Self.tenant.id)
            #expect(snapshot.pending == 1 && snapshot.dead == 0)
            // Store-wide (the metrics' gauges): the same counts over every tenant.
            #expect(try await stores.outboxSnapshot() == snapshot)

            let attempt = DeliveryAttempt(deliveryId: planned.delivery.id, attemptNumber: 1, startedAt: 1_100, durationMs: 3, statusCode: 503,
                                          errorClass: "http_status", error: "503", responseExcerpt: nil, signedWith: "current")
            try await stores.recordAttempts([RecordedAttempt(attempt: attempt, transition: DeliveryTransition(status: .dead, nextAttemptAt: nil), at: 1_103)],
                                            completion: nil, health: [])
            snapshot = try await stores.outboxSnapshot(tenantId: Self.tenant.id)
            #expect(snapshot == OutboxSnapshot(pending: 0, oldestDueAt: nil, dead: 1))
            #expect(try await stores.outboxSnapshot(tenantId: Self.other.id) == OutboxSnapshot(pending: 0, oldestDueAt: nil, dead: 0))
            #expect(try await stores.outboxSnapshot() == OutboxSnapshot(pending: 0, oldestDueAt: nil, dead: 1))

            let groups = try await stores.deadLetterGroups(tenantId: Self.tenant.id, limit: 10, sampleSize: 3)
            #expect(groups.count == 1)
            #expect(groups.first?.webhookId == planned.delivery.webhookId)
            #expect(groups.first?.count == 1)
            #expect(groups.first?.sample.map(\.id) == [planned.delivery.id])
            #expect(try await stores.deadLetterGroups(tenantId: Self.other.id, limit: 10, sampleSize: 3).isEmpty)

            // Replaying the target re-queues it; nothing is dead any more.
            #expect(try await stores.recoverDeliveries(tenantId: Self.tenant.id, since: 0, target: .connector("revel"), outletId: nil, now: 2_000) == 0)
            #expect(try await stores.recoverDeliveries(tenantId: Self.tenant.id, since: 0, target: .webhook(planned.delivery.webhookId ?? -1),
                                                       outletId: nil, now: 2_000) == 1)
            #expect(try await stores.deadLetterGroups(tenantId: Self.tenant.id, limit: 10, sampleSize: 3).isEmpty)

            let buckets = try await stores.orderActivity(tenantId: Self.tenant.id, since: 0, bucketMs: 600)
            #expect(buckets == [ActivityBucket(start: 600, orders: 1, delivered: 0, meanTimeToTargetMs: nil)])
            #expect(try await stores.orderActivity(tenantId: Self.tenant.id, since: 2_000, bucketMs: 600).isEmpty)

            // A second order delivered 250 ms after it came: the bucket counts it delivered and times it.
            let second = Self.order("u-2", ref: "R-2", at: 1_100)
            guard case .created(_, let planned2) = try await stores.acceptOrder(second, completionWithoutTargets: StoreContractTests.noTarget(second),
                                                                               makeDeliveryId: { UUID().uuidString }),
                  let delivery = planned2.first?.delivery
            else { throw TestFailure("no delivery planned") }
            let delivered = DeliveryAttempt(deliveryId: delivery.id, attemptNumber: 1, startedAt: 1_300, durationMs: 50, statusCode: 200,
                                            errorClass: nil, error: nil, responseExcerpt: nil, signedWith: "current")
            try await stores.recordAttempts(
                [RecordedAttempt(attempt: delivered, transition: DeliveryTransition(status: .delivered, nextAttemptAt: nil), at: 1_350)],
                completion: DispatchCompletion(orderId: second.id, status: .dispatched, reason: nil, response: "{}", at: 1_350), health: [])
            #expect(try await stores.orderActivity(tenantId: Self.tenant.id, since: 0, bucketMs: 600)
                    == [ActivityBucket(start: 600, orders: 2, delivered: 1, meanTimeToTargetMs: 250)])
        }
    }
}
