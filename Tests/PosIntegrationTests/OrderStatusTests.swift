import Foundation
import PosDomain
import PosServices
import Testing

@Suite("Order status")
struct OrderStatusTests {
    // MARK: The state machine, every pair

    /// The table written out by hand, separately from the code's path arithmetic: `to` is allowed from `from`.
    static func expected(from: OrderStatus, to: OrderStatus, fulfilment: Fulfilment) -> Bool {
        let rank: [OrderStatus: Int] = [.paid: 0, .accepted: 1, .inProgress: 2, .ready: 3, .driverPickedUp: 4, .completed: 5]
        if from.isFinal || from == to { return false }
        switch to {
        case .cancelled: return true
        case .rejected: return from == .paid || from == .accepted
        case .paid: return false
        case .driverPickedUp where fulfilment == .collection: return false
        default:
            // A driver step on a pickup order moves on like READY.
            let fromRank = from == .driverPickedUp && fulfilment == .collection ? rank[.ready]! : rank[from]!
            return rank[to]! > fromRank
        }
    }

    @Test("the transition table, every pair, for delivery, pickup and orders from before the method was kept",
          arguments: [Fulfilment.delivery, .collection, .unknown])
    func transitionTable(_ fulfilment: Fulfilment) {
        for from in OrderStatus.allCases {
            for to in OrderStatus.allCases {
                #expect(OrderStatusMachine.isAllowed(from: from, to: to, fulfilment: fulfilment) == Self.expected(from: from, to: to, fulfilment: fulfilment),
                        "\(from.rawValue) → \(to.rawValue) (\(fulfilment))")
            }
        }
        #expect(OrderStatusMachine.decide(current: .ready, lastChangeAt: 100, fulfilment: fulfilment, requested: .ready, occurredAt: 50) == .unchanged)
        #expect(OrderStatusMachine.decide(current: .ready, lastChangeAt: 100, fulfilment: fulfilment, requested: .completed, occurredAt: 99) == .stale)
        #expect(OrderStatusMachine.decide(current: .ready, lastChangeAt: 100, fulfilment: fulfilment, requested: .completed, occurredAt: 100) == .apply)
        #expect(OrderStatusMachine.decide(current: .ready, lastChangeAt: 100, fulfilment: fulfilment, requested: .accepted, occurredAt: nil)
            == .forbidden(allowed: OrderStatusMachine.allowedNext(from: .ready, fulfilment: fulfilment)))
        #expect(Fulfilment(deliveryMethod: "DELIVERY") == .delivery)
        #expect(Fulfilment(deliveryMethod: "self_pickup") == .collection)
    }

    // MARK: Partners' reports through the API

    static func statusBody(_ status: String, timestamp: String? = nil, reason: String? = nil, posOrderId: String? = nil) -> [UInt8] {
        var fields = [#""status":"\#(status)""#]
        if let timestamp { fields.append(#""timestamp":"\#(timestamp)""#) }
        if let reason { fields.append(#""reason":"\#(reason)""#) }
        if let posOrderId { fields.append(#""posOrderId":"\#(posOrderId)""#) }
        return Array("{\(fields.joined(separator: ","))}".utf8)
    }

    /// Dispatches the seed order to an outlet with no target; returns its order id.
    static func dispatchedOrder(_ service: TestService, key: String, uuid: String = "ord-status-1", outletId: String = "store-uuid-123") async throws -> String {
        let reply = try await service.dispatch(Fixtures.dispatchBody(order: Fixtures.order(uuid: uuid), outletId: outletId), key: key)
        return try #require(reply.json["orderId"] as? String, "\(reply.status) \(reply.text)")
    }

    @Test("a partner moves an order forward; a repeat changes nothing; going back is 409 naming the allowed next statuses")
    func partnerUpdates() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let orderId = try await Self.dispatchedOrder(service, key: acme.internalKey)
            let path = "/api/v1/orders/\(orderId)/status"

            let accepted = try await service.call("POST", path, key: acme.partnerKey, json: Self.statusBody("ACCEPTED", posOrderId: "POS-77"))
            #expect(accepted.status == 200)
            #expect(accepted.json["changed"] as? Bool == true)
            let order = try #require(accepted.json["order"] as? [String: Any])
            #expect(order["status"] as? String == "ACCEPTED" && order["version"] as? Int == 2 && order["externalOrderId"] as? String == "POS-77")
            #expect(accepted.header("ETag") == "\"2\"")
            #expect(accepted.json["code"] as? Int == 200 && accepted.json["isSuccess"] as? Bool == true)

            let again = try await service.call("POST", path, key: acme.partnerKey, json: Self.statusBody("ACCEPTED"))
            #expect(again.status == 200 && again.json["changed"] as? Bool == false)
            #expect((again.json["order"] as? [String: Any])?["version"] as? Int == 2)

            let skipped = try await service.call("POST", path, key: acme.internalKey, json: Self.statusBody("READY"))
            #expect(skipped.status == 200 && (skipped.json["order"] as? [String: Any])?["status"] as? String == "READY")

            let back = try await service.call("POST", path, key: acme.partnerKey, json: Self.statusBody("IN_PROGRESS"))
            #expect(back.status == 409)
            #expect(back.error["details"] as? String == "allowed next statuses: DRIVER_PICKED_UP, COMPLETED, CANCELLED")
            let rejected = try await service.call("POST", path, key: acme.partnerKey, json: Self.statusBody("REJECTED"))
            #expect(rejected.status == 409, "REJECTED only before IN_PROGRESS")

            let bad = try await service.call("POST", path, key: acme.partnerKey, json: Self.statusBody("COOKING"))
            #expect(bad.status == 400 && bad.error["field"] as? String == "status")
            let badTime = try await service.call("POST", path, key: acme.partnerKey, json: Self.statusBody("COMPLETED", timestamp: "yesterday"))
            #expect(badTime.status == 400 && badTime.error["field"] as? String == "timestamp")

            let detail = try await service.call("GET", "/api/v1/orders/\(orderId)", key: acme.partnerKey)
            #expect(detail.json["status"] as? String == "READY" && detail.json["version"] as? Int == 3)
            #expect(detail.header("ETag") == "\"3\"")
            let history = try #require(detail.json["statusHistory"] as? [[String: Any]])
            #expect(history.map { $0["status"] as? String } == ["PAID", "ACCEPTED", "READY"])
            #expect(history.map { $0["source"] as? String } == ["platform", "partner", "platform"])
            #expect(history[1]["posOrderId"] as? String == "POS-77" && history[2]["previous"] as? String == "ACCEPTED")
        }
    }

    @Test("updates arriving out of order: an older one is kept as stale and changes nothing")
    func staleUpdates() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let orderId = try await Self.dispatchedOrder(service, key: acme.internalKey)
            let path = "/api/v1/orders/\(orderId)/status"
            let ready = try await service.call("POST", path, key: acme.partnerKey, json: Self.statusBody("READY", timestamp: "2026-03-16T15:10:00Z"))
            #expect(ready.status == 200 && ready.json["changed"] as? Bool == true)
            let late = try await service.call("POST", path, key: acme.partnerKey,
                                              json: Self.statusBody("IN_PROGRESS", timestamp: "2026-03-16T15:05:00Z"))
            #expect(late.status == 200)
            #expect(late.json["changed"] as? Bool == false && late.json["stale"] as? Bool == true)
            #expect((late.json["order"] as? [String: Any])?["status"] as? String == "READY")
            let history = try #require(try await service.call("GET", "/api/v1/orders/\(orderId)", key: acme.partnerKey).json["statusHistory"]
                as? [[String: Any]])
            #expect(history.map { $0["status"] as? String } == ["PAID", "READY", "IN_PROGRESS"])
            #expect(history.map { $0["stale"] as? Bool } == [false, false, true])
        }
    }

    @Test("If-Match: the current version applies, a stale one is 412 and changes nothing")
    func optimisticConcurrency() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let orderId = try await Self.dispatchedOrder(service, key: acme.internalKey)
            let path = "/api/v1/orders/\(orderId)/status"
            let first = try await service.call("POST", path, key: acme.partnerKey, headers: [("If-Match", "\"1\"")], json: Self.statusBody("ACCEPTED"))
            #expect(first.status == 200 && first.header("ETag") == "\"2\"")
            let stale = try await service.call("POST", path, key: acme.partnerKey, headers: [("If-Match", "\"1\"")], json: Self.statusBody("READY"))
            #expect(stale.status == 412)
            #expect(stale.error["code"] as? Int == 412)
            let malformed = try await service.call("POST", path, key: acme.partnerKey, headers: [("If-Match", "two")], json: Self.statusBody("READY"))
            #expect(malformed.status == 400 && malformed.error["field"] as? String == "If-Match")
            let detail = try await service.call("GET", "/api/v1/orders/\(orderId)", key: acme.partnerKey)
            #expect(detail.json["status"] as? String == "ACCEPTED" && detail.json["version"] as? Int == 2)
        }
    }

    @Test("another tenant's order is 404 on every status route, and nothing changes")
    func tenantIsolation() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let other = try await service.tenant("other")
            let orderId = try await Self.dispatchedOrder(service, key: acme.internalKey)
            #expect(try await service.call("GET", "/api/v1/orders/\(orderId)", key: other.partnerKey).status == 404)
            #expect(try await service.call("POST", "/api/v1/orders/\(orderId)/status", key: other.partnerKey,
                                           json: Self.statusBody("ACCEPTED")).status == 404)
            #expect(try await service.call("POST", "/api/v1/orders/\(orderId)/cancel", key: other.internalKey,
                                           json: Array(#"{"reason":"guest left"}"#.utf8)).status == 404)
            let detail = try await service.call("GET", "/api/v1/orders/\(orderId)", key: acme.partnerKey)
            #expect(detail.json["status"] as? String == "PAID" && detail.json["version"] as? Int == 1)
        }
    }

    @Test("every applied change goes out as order.status_updated (and order.cancelled), signed with the webhook's secret")
    func statusEventsDelivered() async throws {
        let receiver = try await WebhookReceiver.start()
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            // A second outlet, so dispatching the order itself goes nowhere and the receiver sees only status events.
            let orderId = try await Self.dispatchedOrder(service, key: acme.internalKey, outletId: "outlet-status")
            let body = Array(#"{"outletId":"outlet-status","provider":"acme-pos","callbackUrl":"\#(receiver.url)","events":["order.status_updated","order.cancelled"]}"#.utf8)
            let registered = try await service.call("POST", "/api/v1/webhooks/register", key: acme.adminKey, json: body)
            let secret = try #require((registered.json["webhook"] as? [String: Any])?["secret"] as? String, "\(registered.text)")

            _ = try await service.call("POST", "/api/v1/orders/\(orderId)/status", key: acme.partnerKey,
                                       json: Self.statusBody("ACCEPTED", timestamp: "2026-03-16T15:05:00Z", reason: "kitchen has it"))
            _ = try await service.call("POST", "/api/v1/orders/\(orderId)/status", key: acme.partnerKey, json: Self.statusBody("ACCEPTED"))
            let cancelled = try await service.call("POST", "/api/v1/orders/\(orderId)/cancel", key: acme.internalKey,
                                                   json: Array(#"{"reason":"guest left"}"#.utf8))
            #expect(cancelled.status == 200 && cancelled.json["cancellationPushedToPOS"] as? Bool == false)

            // Three deliveries: ACCEPTED's update, CANCELLED's update and order.cancelled; the repeat sent nothing.
            #expect(await service.events.attempts(ofDifferentDeliveries: 3) { $0.transition.status == .delivered }.count == 3)
            let received = receiver.received
            #expect(received.count == 3)
            let types = received.compactMap { $0.header("X-Cata-Event") }.sorted()
            #expect(types == ["order.cancelled", "order.status_updated", "order.status_updated"])
            let webhookSecret = try #require(WebhookSecret(encoded: secret))
            for request in received {
                #expect(request.header("X-Cata-Signature") == WebhookSigning.cataSignature(body: request.body, secret: webhookSecret))
            }
            let first = try #require(received.map { (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any] }
                .compactMap { $0 }.first { $0["status"] as? String == "ACCEPTED" })
            #expect(first["orderId"] as? String == orderId && first["outletId"] as? String == "outlet-status")
            #expect(first["previousStatus"] as? String == "PAID" && first["source"] as? String == "partner")
            #expect(first["reason"] as? String == "kitchen has it" && first["occurredAt"] as? String == "2026-03-16T15:05:00.000Z")
            #expect(first["version"] as? Int == 2)
        }
        await receiver.stop()
    }
}
