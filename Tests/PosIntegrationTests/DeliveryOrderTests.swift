import Foundation
import PosDomain
import PosServices
import PosStorage
import Testing

/// One subject's events reach one target in the order they were emitted: a later one waits while an
/// earlier one is pending or retrying, and goes once it is delivered or dead. Different subjects
/// stay parallel, across replicas too.
@Suite("Delivery order per subject and target")
struct DeliveryOrderTests {
    /// Services (replicas when more than one) over one fresh store of `factory`, with one tenant
    /// and a webhook for outlet `o-1` subscribed to `order.status_updated` at `receiver`.
    static func withReplicas(_ factory: StoreEngines.Factory, count: Int = 1, schedule: RetrySchedule, receiver: WebhookReceiver,
                             _ body: ([TestService], TestService.TenantKeys) async throws -> Void) async throws {
        let (stores, cleanup) = try await factory.make()
        var services: [TestService] = []
        do {
            try await stores.migrate()
            let secretBox = try SecretBox(encodedMasterKey: SecretBox.generateEncodedMasterKey())
            for _ in 0..<count {
                services.append(try await TestService.start(schedule: schedule, sharedStores: stores, sharedSecretBox: secretBox))
            }
            let first = services[0]
            let keys = try await first.tenant("acme")
            let registered = try await first.call("POST", "/api/v1/webhooks/register", key: keys.partnerKey, json: Array("""
                {"outletId":"o-1","provider":"acme-pos","callbackUrl":"\(receiver.url)","events":["order.status_updated"]}
                """.utf8))
            #expect(registered.status == 201, "\(registered.text)")
            try await body(services, keys)
        } catch {
            for service in services { await service.stop() }
            await cleanup()
            throw error
        }
        for service in services { await service.stop() }
        await cleanup()
    }

    /// Emits `order.status_updated` number `seq` of order `orderId`, as a status change does.
    @discardableResult
    static func emit(_ service: TestService, tenantId: String, orderId: String, seq: Int) async throws -> [PlannedDelivery] {
        let event = OutboxEvent(id: UUID().uuidString.lowercased(), tenantId: tenantId, type: EventCatalogue.orderStatusUpdated,
                                subject: EventSubject(.order, id: orderId), outletId: "o-1",
                                payload: Array(#"{"orderId":"\#(orderId)","seq":\#(seq)}"#.utf8), createdAt: SystemClock.now())
        return try await service.stores.publish(event, connector: nil, makeDeliveryId: { UUID().uuidString.lowercased() })
    }

    /// Waits until `deliveryId` is delivered or dead on any of `services`; false after the timeout.
    static func finished(_ deliveryId: String, on services: [TestService]) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            for service in services {
                group.addTask {
                    await service.events.first(timeoutSeconds: 30) {
                        $0.attempt.deliveryId == deliveryId && [.delivered, .dead].contains($0.transition.status)
                    } != nil
                }
            }
            var any = false
            for await found in group where found {
                any = true
                group.cancelAll()
                break
            }
            return any
        }
    }

    /// (order, seq) of each request the receiver got, in arrival order.
    static func arrivals(_ receiver: WebhookReceiver) -> [(order: String, seq: Int)] {
        receiver.received.compactMap { request in
            guard let json = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
                  let order = json["orderId"] as? String, let seq = json["seq"] as? Int
            else { return nil }
            return (order, seq)
        }
    }

    @Test("20 status events of one order arrive in emission order, the third's failed first attempt retried before the fourth goes",
          arguments: StoreEngines.all)
    func emissionOrder(_ factory: StoreEngines.Factory) async throws {
        let receiver = try await WebhookReceiver.start(statuses: [200, 200, 500])
        defer { Task { await receiver.stop() } }
        try await Self.withReplicas(factory, schedule: RetrySchedule(delaysMs: [0, 30, 30, 30])!, receiver: receiver) { services, keys in
            var last: String?
            for seq in 1...20 {
                last = try await Self.emit(services[0], tenantId: keys.tenant.id, orderId: "ord-1", seq: seq).first?.delivery.id
            }
            #expect(await Self.finished(try #require(last), on: services))
            #expect(Self.arrivals(receiver).map(\.seq) == [1, 2, 3, 3] + Array(4...20))
        }
    }

    @Test("a dead earlier event lets the later ones go", arguments: StoreEngines.all)
    func deadEarlierEvent(_ factory: StoreEngines.Factory) async throws {
        let receiver = try await WebhookReceiver.start(statuses: [500, 500])
        defer { Task { await receiver.stop() } }
        try await Self.withReplicas(factory, schedule: RetrySchedule(delaysMs: [0, 30])!, receiver: receiver) { services, keys in
            let first = try #require(try await Self.emit(services[0], tenantId: keys.tenant.id, orderId: "ord-1", seq: 1).first)
            try await Self.emit(services[0], tenantId: keys.tenant.id, orderId: "ord-1", seq: 2)
            let third = try #require(try await Self.emit(services[0], tenantId: keys.tenant.id, orderId: "ord-1", seq: 3).first)
            #expect(await Self.finished(third.delivery.id, on: services))
            #expect(Self.arrivals(receiver).map(\.seq) == [1, 1, 2, 3])
            let dead = try await services[0].stores.delivery(id: first.delivery.id, tenantId: keys.tenant.id)
            #expect(dead?.delivery.status == .dead)
            // The later delivery notes the dead one it went without.
            let later = try await services[0].call("GET", "/api/v1/deliveries/\(third.delivery.id)", key: keys.internalKey)
            #expect(later.status == 200, "\(later.text)")
            #expect(later.json["deadBefore"] as? [String] == [first.delivery.id], "\(later.text)")
        }
    }

    @Test("three PostgreSQL replicas: each order's events arrive in emission order while different orders interleave")
    func replicasKeepEachOrdersOrder() async throws {
        if PostgresTestDatabase.skipped { return }
        // Every seventh request fails once, so retries are spread over orders and replicas.
        let receiver = try await WebhookReceiver.start(statuses: (1...60).map { $0 % 7 == 0 ? 500 : 200 })
        defer { Task { await receiver.stop() } }
        let orders = (1...10).map { "ord-\($0)" }
        let events = 5
        try await Self.withReplicas(StoreEngines.postgres, count: 3, schedule: RetrySchedule(delaysMs: [0, 30, 30, 30])!,
                                    receiver: receiver) { services, keys in
            var lastOfOrder: [String] = []
            for seq in 1...events {
                for (index, order) in orders.enumerated() {
                    // Emitted through every replica in turn: emission order is the store's, not one process's.
                    let planned = try await Self.emit(services[index % services.count], tenantId: keys.tenant.id, orderId: order, seq: seq)
                    if seq == events, let id = planned.first?.delivery.id { lastOfOrder.append(id) }
                }
            }
            for id in lastOfOrder { #expect(await Self.finished(id, on: services)) }
            let arrivals = Self.arrivals(receiver)
            for order in orders {
                var seqs = arrivals.filter { $0.order == order }.map(\.seq)
                // A retried event arrives twice in a row: that is its retry, not a reordering.
                seqs = seqs.enumerated().filter { $0.offset == 0 || seqs[$0.offset - 1] != $0.element }.map(\.element)
                #expect(seqs == Array(1...events), "\(order): \(seqs)")
            }
            #expect(Set(arrivals.prefix(orders.count).map(\.order)).count > 1, "different orders go in parallel")
        }
    }
}
