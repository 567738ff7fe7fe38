import Foundation
import PosDomain
import PosServices
import PosStorage
import Testing

@Suite("Retry schedule")
struct RetryScheduleTests {
    @Test("the standard schedule, its jitter bounds and the dead letter after the last attempt")
    func standardSchedule() throws {
        let schedule = RetrySchedule.standard
        #expect(schedule.maxAttempts == 10)
        #expect(schedule.nextAttemptAt(after: 1, failedAt: 0, failure: .init(), jitter: 0) == 5_000)
        #expect(schedule.nextAttemptAt(after: 1, failedAt: 0, failure: .init(), jitter: 1) == 6_000)
        #expect(schedule.nextAttemptAt(after: 1, failedAt: 0, failure: .init(), jitter: -1) == 4_000)
        #expect(schedule.nextAttemptAt(after: 9, failedAt: 0, failure: .init(), jitter: 0) == 86_400_000)
        #expect(schedule.nextAttemptAt(after: 10, failedAt: 0, failure: .init(), jitter: 0) == nil)
        #expect(try #require(RetrySchedule(parsing: "0s,5s,5m,30m,2h,5h,10h,14h,20h,24h")) == schedule)
        #expect(RetrySchedule(parsing: "0s,soon") == nil)
    }

    @Test("429 and timeouts wait at least 60 s; Retry-After is honoured up to twice the scheduled delay")
    func overloadAndRetryAfter() {
        let schedule = RetrySchedule.standard
        #expect(schedule.nextAttemptAt(after: 1, failedAt: 0, failure: .init(overloaded: true), jitter: 0) == 60_000)
        #expect(schedule.nextAttemptAt(after: 2, failedAt: 0, failure: .init(retryAfterMs: 400_000), jitter: 0) == 400_000)
        #expect(schedule.nextAttemptAt(after: 2, failedAt: 0, failure: .init(retryAfterMs: 9_000_000), jitter: 0) == 600_000)
        #expect(schedule.nextAttemptAt(after: 2, failedAt: 0, failure: .init(retryAfterMs: 1_000), jitter: 0) == 300_000)
        let fast = RetrySchedule(delaysMs: [0, 10, 20])!
        #expect(fast.nextAttemptAt(after: 1, failedAt: 0, failure: .init(overloaded: true), jitter: 0) == 20, "floor bounded by the schedule")
    }

    @Test("Retry-After in seconds or as an HTTP date")
    func retryAfterParsing() {
        #expect(RetryAfter.milliseconds("120", now: 0) == 120_000)
        let now = RFC3339.parseMilliseconds("1994-11-06T08:49:00Z")!
        #expect(RetryAfter.milliseconds("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == 37_000)
        #expect(RetryAfter.milliseconds("soon", now: now) == nil)
    }
}

@Suite("Outbox worker")
struct OutboxWorkerTests {
    static let fast = RetrySchedule(delaysMs: [0, 30, 30])!

    @Test("a failed first attempt is retried by the worker until it succeeds, under the same delivery id")
    func retryThenSuccess() async throws {
        let receiver = try await WebhookReceiver.start(statuses: [503])
        defer { Task { await receiver.stop() } }
        try await withTestService(schedule: Self.fast) { service in
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let reply = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            #expect(reply.json["dispatched"] as? Bool == false)
            let delivered = await service.events.first { $0.transition.status == .delivered }
            #expect(delivered?.attempt.attemptNumber == 2)
            #expect(receiver.received.count == 2)
            #expect(Set(receiver.received.compactMap { $0.header("X-Cata-Delivery-ID") }).count == 1)
            let order = try await service.call("GET", "/api/v1/orders/\(reply.json["orderId"] as? String ?? "")", key: acme.internalKey)
            #expect(order.json["dispatchStatus"] as? String == "dispatched")
        }
    }

    @Test("after the last attempt the delivery is dead with its last error; a manual retry re-delivers it")
    func deadLetterAndReplay() async throws {
        let receiver = try await WebhookReceiver.start(statuses: [500, 500, 500])
        defer { Task { await receiver.stop() } }
        try await withTestService(schedule: Self.fast) { service in
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let reply = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            let dead = try #require(await service.events.first { $0.transition.status == .dead })
            #expect(dead.attempt.attemptNumber == 3)

            let deliveryId = dead.attempt.deliveryId
            let shown = try await service.call("GET", "/api/v1/deliveries/\(deliveryId)", key: acme.internalKey)
            #expect(shown.status == 200)
            #expect(shown.json["status"] as? String == "dead")
            #expect(shown.json["lastStatusCode"] as? Int == 500)
            #expect((shown.json["attempts"] as? [Any])?.count == 3)
            let order = try await service.call("GET", "/api/v1/orders/\(reply.json["orderId"] as? String ?? "")", key: acme.internalKey)
            #expect((order.json["dispatchReason"] as? String)?.hasPrefix("dead-lettered") == true)

            let retry = try await service.call("POST", "/api/v1/deliveries/\(deliveryId)/retry", key: acme.internalKey)
            #expect(retry.status == 202)
            let redelivered = await service.events.first { $0.transition.status == .delivered }
            #expect(redelivered?.attempt.attemptNumber == 4)
            #expect(receiver.received.count == 4)
            #expect(Set(receiver.received.compactMap { $0.header("webhook-id") }) == [deliveryId])

            let otherTenant = try await service.tenant("globex")
            let peek = try await service.call("GET", "/api/v1/deliveries/\(deliveryId)", key: otherTenant.internalKey)
            #expect(peek.status == 404)
        }
    }

    @Test("a delivery whose lease ran out (its process died mid-attempt) is picked up again")
    func expiredLeaseIsPickedUp() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withTestService(schedule: Self.fast) { service in
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            // What a dispatch leaves behind when its process is killed right after the commit.
            let now = SystemClock.now()
            let order = NewOrder(
                id: UUID().uuidString, tenantId: acme.tenant.id, outletId: "store-uuid-123", event: "order.paid", orderUUID: "o-crash",
                orderRefNo: "R", builtInTransformer: nil, currency: "AED", totalPayMinor: 8500, payload: Array(Fixtures.seedOrder.utf8),
                payloadSHA256: "x", receivedAt: now, firstAttemptLease: DeliveryLease(owner: "killed-process", expiresAt: now + 100))
            let completion = DispatchCompletion(orderId: order.id, status: .noTarget, reason: nil, response: nil, at: now)
            _ = try await service.stores.acceptOrder(order, completionWithoutTargets: completion, makeDeliveryId: { UUID().uuidString })
            let delivered = await service.events.first { $0.transition.status == .delivered }
            #expect(delivered?.attempt.attemptNumber == 2, "the killed process's attempt counts")
            let interrupted = await service.events.first { $0.attempt.attemptNumber == 1 }
            #expect(interrupted?.attempt.errorClass == "interrupted")
            #expect(receiver.received.count == 1)
            #expect(receiver.received.first?.body == Array(Fixtures.seedOrder.utf8))
        }
    }
}

@Suite("Delivery listing and recovery")
struct DeliveryListingTests {
    @Test("list filters and pages newest first; recover re-queues dead deliveries in the window")
    func listAndRecover() async throws {
        let receiver = try await WebhookReceiver.start(statuses: [500, 500, 500, 500])
        defer { Task { await receiver.stop() } }
        try await withTestService(schedule: RetrySchedule(delaysMs: [0])!) { service in
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let start = RFC3339.format(milliseconds: SystemClock.now() - 1_000)
            for n in 1...3 {
                let reply = try await service.dispatch(Fixtures.dispatchBody(order: Fixtures.order(uuid: "o-\(n)")), key: acme.internalKey)
                #expect(reply.json["dispatched"] as? Bool == false)
            }
            let dead = try await service.call("GET", "/api/v1/deliveries?status=dead&limit=2", key: acme.internalKey)
            #expect(dead.status == 200)
            let firstPage = try #require(dead.json["deliveries"] as? [[String: Any]])
            #expect(firstPage.count == 2)
            let cursor = try #require(dead.json["nextCursor"] as? String)
            let second = try await service.call("GET", "/api/v1/deliveries?status=dead&limit=2&cursor=\(cursor)", key: acme.internalKey)
            let secondPage = try #require(second.json["deliveries"] as? [[String: Any]])
            #expect(secondPage.count == 1)
            #expect(second.json["nextCursor"] == nil)
            let ids = (firstPage + secondPage).compactMap { $0["id"] as? String }
            #expect(Set(ids).count == 3)

            #expect(try await service.call("GET", "/api/v1/deliveries?status=lost", key: acme.internalKey).error["field"] as? String == "status")
            #expect(try await service.call("GET", "/api/v1/deliveries?since=yesterday", key: acme.internalKey).error["field"] as? String == "since")
            #expect(try await service.call("GET", "/api/v1/deliveries?cursor=%%%", key: acme.internalKey).error["field"] as? String == "cursor")
            let other = try await service.call("GET", "/api/v1/deliveries?outletId=elsewhere", key: acme.internalKey)
            #expect((other.json["deliveries"] as? [Any])?.isEmpty == true)

            let recovered = try await service.call("POST", "/api/v1/deliveries/recover", key: acme.internalKey,
                                                   json: Array(#"{"since":"\#(start)"}"#.utf8))
            #expect(recovered.status == 202)
            #expect(recovered.json["requeued"] as? Int == 3)
            let redelivered = await service.events.first { $0.transition.status == .delivered && $0.attempt.attemptNumber == 2 }
            #expect(redelivered != nil, "the worker re-delivers recovered deliveries")
            let missingSince = try await service.call("POST", "/api/v1/deliveries/recover", key: acme.internalKey, json: Array("{}".utf8))
            #expect(missingSince.error["field"] as? String == "since")
        }
    }
}

@Suite("Endpoint health")
struct EndpointHealthTests {
    static let fast = RetrySchedule(delaysMs: [0, 10, 10, 10, 10, 10])!

    @Test("the circuit opens after repeated failures, holds deliveries without burning attempts, and one probe closes it")
    func circuitBreaker() async throws {
        let receiver = try await WebhookReceiver.start(statuses: [500, 500])
        defer { Task { await receiver.stop() } }
        // A cool-down long enough that a loaded machine still dispatches the held order inside it.
        let cooldownMs: Int64 = 3_000
        let policy = EndpointHealthPolicy(failureThreshold: 2, cooldownMs: cooldownMs, disableAfterMs: 86_400_000)
        try await withTestService(schedule: Self.fast, health: policy) { service in
            let acme = try await service.tenant("acme")
            let webhook = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            _ = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            let secondFailure = try #require(await service.events.first { $0.attempt.attemptNumber == 2 })
            let open = try await service.call("GET", "/api/v1/webhooks/\(webhook.id)", key: acme.partnerKey)
            #expect((open.json["health"] as? [String: Any])?["circuitOpenUntil"] as? String != nil)

            // A new order meanwhile waits for the circuit; it is not attempted and not charged an attempt.
            let held = try await service.dispatch(Fixtures.dispatchBody(order: Fixtures.order(uuid: "held")), key: acme.internalKey)
            #expect(held.json["dispatched"] as? Bool == false)
            #expect((held.json["reason"] as? String)?.contains("circuit open") == true, "\(held.text)")

            let probe = try #require(await service.events.first { $0.transition.status == .delivered })
            #expect(probe.attempt.startedAt - secondFailure.at >= cooldownMs - 10, "no attempt during the cool-down")
            let heldDelivered = await service.events.first {
                $0.transition.status == .delivered && $0.attempt.deliveryId != probe.attempt.deliveryId
            }
            #expect(heldDelivered?.attempt.attemptNumber == 1, "the held delivery kept all its attempts")
            #expect(receiver.received.count == 4)
            let closed = try await service.call("GET", "/api/v1/webhooks/\(webhook.id)", key: acme.partnerKey)
            #expect((closed.json["health"] as? [String: Any])?["consecutiveFailures"] as? Int == 0)
        }
    }

    /// Counts every UPDATE of a webhooks row from now on (`webhook_writes`).
    static func countWebhookWrites(_ stores: SQLStores) async throws {
        _ = try await stores.engine.write { db in
            try db.execute("CREATE TABLE webhook_writes (webhook_id BIGINT NOT NULL)", [])
            switch db.dialect {
            case .sqlite:
                try db.execute("""
                    CREATE TRIGGER webhook_writes AFTER UPDATE ON webhooks BEGIN INSERT INTO webhook_writes VALUES (NEW.id); END
                    """, [])
            case .postgres:
                try db.execute("""
                    CREATE FUNCTION count_webhook_write() RETURNS trigger AS $$
                    BEGIN INSERT INTO webhook_writes VALUES (NEW.id); RETURN NEW; END $$ LANGUAGE plpgsql
                    """, [])
                try db.execute("""
                    CREATE TRIGGER webhook_writes AFTER UPDATE ON webhooks FOR EACH ROW EXECUTE FUNCTION count_webhook_write()
                    """, [])
            }
        }
    }

    static func webhookWrites(_ stores: SQLStores) async throws -> Int {
        try await stores.engine.read { db in try db.query("SELECT webhook_id FROM webhook_writes", []).count }
    }

    @Test("successful deliveries leave the webhook's health row alone; a failure and the recovery after it write it",
          arguments: StoreEngines.all)
    func noHotRow(_ factory: StoreEngines.Factory) async throws {
        let receiver = try await WebhookReceiver.start(statuses: Array(repeating: 200, count: 10) + [500])
        defer { Task { await receiver.stop() } }
        try await DeliveryOrderTests.withReplicas(factory, schedule: Self.fast, receiver: receiver) { services, keys in
            let stores = try #require(services[0].stores as? SQLStores)
            try await Self.countWebhookWrites(stores)
            var last: [String] = []
            for order in 1...10 {
                let planned = try await DeliveryOrderTests.emit(services[0], tenantId: keys.tenant.id, orderId: "ord-\(order)", seq: 1)
                last += planned.map(\.delivery.id)
            }
            for id in last { #expect(await DeliveryOrderTests.finished(id, on: services)) }
            #expect(receiver.received.count == 10)
            #expect(try await Self.webhookWrites(stores) == 0, "ten successes wrote nothing to the webhook's row")

            let failing = try #require(try await DeliveryOrderTests.emit(services[0], tenantId: keys.tenant.id, orderId: "ord-11", seq: 1).first)
            #expect(await DeliveryOrderTests.finished(failing.delivery.id, on: services))
            #expect(try await Self.webhookWrites(stores) == 2, "the failure, then the recovery")
        }
    }

    @Test("a webhook that only fails for POS_DISABLE_AFTER is disabled with a reason; re-enabling resumes its deliveries")
    func autoDisable() async throws {
        let receiver = try await WebhookReceiver.start(statuses: [500, 500])
        defer { Task { await receiver.stop() } }
        let policy = EndpointHealthPolicy(failureThreshold: 100, cooldownMs: 1_000, disableAfterMs: 1)
        try await withTestService(schedule: Self.fast, health: policy) { service in
            let acme = try await service.tenant("acme")
            let webhook = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            _ = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            _ = try #require(await service.events.first { $0.attempt.attemptNumber == 2 })
            let disabled = try await service.call("GET", "/api/v1/webhooks/\(webhook.id)", key: acme.partnerKey)
            #expect(disabled.json["isActive"] as? Bool == false)
            #expect((disabled.json["disabledReason"] as? String)?.contains("re-enable") == true)

            let enabled = try await service.call("PUT", "/api/v1/webhooks/\(webhook.id)", key: acme.partnerKey, json: Array(#"{"isActive":true}"#.utf8))
            #expect(enabled.json["isActive"] as? Bool == true)
            #expect(enabled.json["disabledReason"] == nil)
            let delivered = await service.events.first { $0.transition.status == .delivered }
            #expect(delivered?.attempt.attemptNumber == 3)
        }
    }
}
