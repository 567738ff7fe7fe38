import Foundation
import PosDomain
import PosSandbox
import PosStorage
import Testing

/// Order status end to end: the service on SQLite and loopback, each POS played by its double —
/// cancellations pushed to the POS, statuses polled from it, and its own status webhooks received.
@Suite("Order status with POS systems end to end")
struct StatusFlowTests {
    typealias Rig = ConnectorDispatchTests.Rig

    /// Polls every 40 ms (±20 %) for up to a minute.
    static let quickPolls = RetrySchedule.polling(steps: [40], horizonMs: 60_000)!

    static func dispatched(_ rig: Rig, _ slug: String) async throws -> (orderId: String, externalOrderId: String) {
        let reply = try await rig.dispatch(slug)
        #expect(reply.json["dispatched"] as? Bool == true, "\(reply.text)")
        let orderId = try #require(reply.json["orderId"] as? String)
        let external = try #require(try await rig.order(orderId)["externalOrderId"] as? String)
        return (orderId, external)
    }

    static func delivery(_ order: [String: Any], event: String) -> [String: Any]? {
        ConnectorDispatchTests.deliveries(order).first { $0["event"] as? String == event }
    }

    /// Waits for an attempt of `deliveryId` that `matches`.
    static func attempt(_ rig: Rig, _ deliveryId: String, where matches: @escaping @Sendable (RecordedAttempt) -> Bool) async -> RecordedAttempt? {
        await rig.service.events.first(timeoutSeconds: 20) { $0.attempt.deliveryId == deliveryId && matches($0) }
    }

    static func cancel(_ rig: Rig, _ orderId: String, reason: String = "guest left") async throws -> TestService.Reply {
        try await rig.service.call("POST", "/api/v1/orders/\(orderId)/cancel", key: rig.keys.internalKey,
                                   json: Array(#"{"reason":"\#(reason)"}"#.utf8))
    }

    // MARK: Polling

    @Test("desibits: the kitchen's ticket statuses are polled into the order's status; polling ends at a final status")
    func pollDesibits() async throws {
        try await ConnectorDispatchTests.withRig(statusPollSchedule: Self.quickPolls) { rig in
            try await rig.connect("desibits")
            let (orderId, _) = try await Self.dispatched(rig, "desibits")
            let poll = try #require(Self.delivery(try await rig.order(orderId), event: "pos.poll_status"), "a poll job follows the dispatch")
            let pollId = try #require(poll["id"] as? String)
            #expect(poll["connector"] as? String == "desibits")

            // The KOT generated at dispatch is `sent_to_kitchen`.
            #expect(await Self.attempt(rig, pollId) { $0.attempt.responseExcerpt?.contains("order ACCEPTED") == true } != nil)
            let kot = try #require(rig.sandboxes.desibits.orders.first?.kots.first?.number)
            _ = try rig.sandboxes.desibits.updateKOTStatus(kot, to: "food_ready")
            #expect(await Self.attempt(rig, pollId) { $0.attempt.responseExcerpt?.contains("order READY") == true } != nil)
            _ = try rig.sandboxes.desibits.updateKOTStatus(kot, to: "served")
            let last = await Self.attempt(rig, pollId) { $0.transition.status == .delivered }
            #expect(last?.attempt.responseExcerpt == "order is COMPLETED; polling ends")

            let order = try await rig.order(orderId)
            #expect(order["status"] as? String == "COMPLETED")
            let history = try #require(order["statusHistory"] as? [[String: Any]])
            #expect(history.map { $0["status"] as? String } == ["PAID", "ACCEPTED", "READY", "COMPLETED"])
            #expect(history.dropFirst().allSatisfy { $0["source"] as? String == "poll" })
            #expect(Self.delivery(order, event: "pos.poll_status")?["status"] as? String == "delivered")
        }
    }

    @Test("a poll schedule that runs out dead-letters the poll with the reason")
    func pollGivesUp() async throws {
        try await ConnectorDispatchTests.withRig(statusPollSchedule: RetrySchedule.polling(steps: [30], horizonMs: 90)!) { rig in
            try await rig.connect("desibits")
            let (orderId, _) = try await Self.dispatched(rig, "desibits")
            let pollId = try #require(Self.delivery(try await rig.order(orderId), event: "pos.poll_status")?["id"] as? String)
            let dead = await Self.attempt(rig, pollId) { $0.transition.status == .dead }
            #expect(dead?.attempt.error?.contains("order not final after 3 polls; polling ends") == true, "\(String(describing: dead))")
            #expect(try await rig.order(orderId)["status"] as? String == "ACCEPTED")
        }
    }

    // MARK: Cancelling at the POS

    @Test("desibits: a cancel goes through the outbox to the POS with the reason; its answer is a delivery of the order")
    func cancelDesibits() async throws {
        try await ConnectorDispatchTests.withRig { rig in
            try await rig.connect("desibits")
            let (orderId, external) = try await Self.dispatched(rig, "desibits")
            let reply = try await Self.cancel(rig, orderId)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json["cancellationPushedToPOS"] as? Bool == true && reply.json["pos"] as? String == "cancellation queued for desibits")
            #expect((reply.json["order"] as? [String: Any])?["status"] as? String == "CANCELLED")
            let cancelId = try #require(Self.delivery(try await rig.order(orderId), event: "pos.cancel_order")?["id"] as? String)
            #expect(await Self.attempt(rig, cancelId) { $0.transition.status == .delivered } != nil)
            let atPOS = try #require(rig.sandboxes.desibits.orders.first { String($0.id) == external })
            #expect(atPOS.status == "cancelled" && atPOS.cancelReason == "guest left")

            // Cancelling again changes nothing and sends nothing.
            let again = try await Self.cancel(rig, orderId)
            #expect(again.status == 200 && again.json["changed"] as? Bool == false && again.json["cancellationPushedToPOS"] as? Bool == false)
            #expect(ConnectorDispatchTests.deliveries(try await rig.order(orderId)).filter { $0["event"] as? String == "pos.cancel_order" }.count == 1)
        }
    }

    @Test("oktopos: a cancel is the order status update to CANCELLED for its internal id")
    func cancelOktoPOS() async throws {
        try await ConnectorDispatchTests.withRig { rig in
            try await rig.connect("oktopos")
            let (orderId, external) = try await Self.dispatched(rig, "oktopos")
            let reply = try await Self.cancel(rig, orderId, reason: "kitchen closed")
            #expect(reply.json["cancellationPushedToPOS"] as? Bool == true, "\(reply.text)")
            let cancelId = try #require(Self.delivery(try await rig.order(orderId), event: "pos.cancel_order")?["id"] as? String)
            #expect(await Self.attempt(rig, cancelId) { $0.transition.status == .delivered } != nil)
            let update = try #require(rig.sandboxes.oktopos.statusUpdates.first)
            #expect(String(update.internalId) == external && update.status == "CANCELLED")
            #expect(update.payload?["reason"] == .string("kitchen closed"))
        }
    }

    @Test("revel cannot cancel through its API: the response says so and nothing is queued")
    func cancelRevel() async throws {
        try await ConnectorDispatchTests.withRig { rig in
            try await rig.connect("revel")
            let (orderId, _) = try await Self.dispatched(rig, "revel")
            let reply = try await Self.cancel(rig, orderId)
            #expect(reply.status == 200 && reply.json["cancellationPushedToPOS"] as? Bool == false)
            #expect(reply.json["pos"] as? String == "revel cannot cancel orders through its API; cancel it at the POS")
            #expect(Self.delivery(try await rig.order(orderId), event: "pos.cancel_order") == nil)
        }
    }

    // MARK: Inbound status webhooks

    /// Connects Revel with a webhook secret and points the double's webhook at the connection's inbound URL.
    static func connectRevelWebhook(_ rig: Rig, secret: String = "revel-hook-secret") async throws -> String {
        try await rig.connect("revel")
        let put = try await rig.service.call("PUT", "/api/v1/provider-connections/revel", key: rig.keys.adminKey, json: Array("""
            {"apiKey":"\(RevelSandbox.defaultAPIKey)","apiSecret":"\(RevelSandbox.defaultAPISecret)","baseUrl":"\(rig.baseURL("revel"))",\
            "webhookSecret":"\(secret)"}
            """.utf8))
        let connection = try #require(put.json["connection"] as? [String: Any], "\(put.text)")
        #expect(connection["webhookSecret"] as? String == "****")
        let inboundUrl = try #require(connection["inboundUrl"] as? String)
        #expect(inboundUrl.hasPrefix("\(rig.service.baseURL)/api/v1/inbound/revel/order-status/"))
        rig.sandboxes.revel.configureWebhook(url: inboundUrl, secret: secret)
        return inboundUrl
    }

    @Test("revel: a signed order.finalized completes the order; the first ping is answered")
    func revelFinalized() async throws {
        try await ConnectorDispatchTests.withRig { rig in
            _ = try await Self.connectRevelWebhook(rig)
            let ping = try await rig.sandboxes.revel.ping()
            #expect(ping.status == 200 && ping.responseBody.contains("pong"))

            let (orderId, external) = try await Self.dispatched(rig, "revel")
            let sent = try await rig.sandboxes.revel.finalize(orderId: try #require(Int(external)))
            #expect(sent.status == 200, "\(sent.responseBody)")
            let order = try await rig.order(orderId)
            #expect(order["status"] as? String == "COMPLETED")
            let last = try #require((order["statusHistory"] as? [[String: Any]])?.last)
            #expect(last["source"] as? String == "pos:revel" && last["previous"] as? String == "PAID")

            let log = try await rig.service.call("GET", "/api/v1/inbound-requests", key: rig.keys.adminKey)
            let requests = try #require(log.json["requests"] as? [[String: Any]])
            #expect(requests.map { $0["outcome"] as? String } == ["applied", "handshake"])
            let headers = try #require(requests.first?["headers"] as? [String: Any])
            #expect(headers.first { $0.key.lowercased() == "x-revel-signature" }?.value as? String == "****")
            #expect(requests.first?["orderId"] as? String == orderId)
        }
    }

    @Test("revel: a wrong secret or a tampered body is 401 and changes nothing; an unknown order is skipped with 200")
    func revelRefused() async throws {
        try await ConnectorDispatchTests.withRig { rig in
            let inboundUrl = try await Self.connectRevelWebhook(rig)
            let (orderId, external) = try await Self.dispatched(rig, "revel")
            let path = String(inboundUrl.dropFirst(rig.service.baseURL.count))

            rig.sandboxes.revel.configureWebhook(url: inboundUrl, secret: "not-the-secret")
            let wrongSecret = try await rig.sandboxes.revel.finalize(orderId: try #require(Int(external)))
            #expect(wrongSecret.status == 401)
            let sent = try #require(rig.sandboxes.revel.webhookDeliveries.last)
            var tampered = sent.body
            tampered[tampered.count / 2] ^= 0x01
            let goodSignature = RevelSandbox.signature(of: sent.body, secret: "revel-hook-secret")
            let tamperedReply = try await rig.service.call("POST", path, headers: [("X-Revel-Signature", goodSignature),
                                                                                    ("X-Revel-Event-Type", "order.finalized")], json: tampered)
            #expect(tamperedReply.status == 401 && tamperedReply.error["message"] as? String == "signature not verified")
            #expect(try await rig.order(orderId)["status"] as? String == "PAID")

            let unknown = Array(#"{"orderInfo":{"id":987654,"closed":true},"payments":[{"transaction_id":"nobody"}]}"#.utf8)
            let skipped = try await rig.service.call("POST", path, headers: [
                ("X-Revel-Signature", RevelSandbox.signature(of: unknown, secret: "revel-hook-secret")), ("X-Revel-Event-Type", "order.finalized"),
            ], json: unknown)
            #expect(skipped.status == 200 && skipped.json["skipped"] as? Bool == true, "\(skipped.text)")
            #expect((skipped.json["reason"] as? String)?.contains("unknown order") == true)

            // Another connection's token, or another provider's path, is not an inbound endpoint.
            let wrongProvider = path.replacingOccurrences(of: "/inbound/revel/", with: "/inbound/desibits/")
            #expect(try await rig.service.call("POST", wrongProvider, json: unknown).status == 404)
            #expect(try await rig.service.call("POST", "/api/v1/inbound/revel/order-status/guessed", json: unknown).status == 404)

            let outcomes = try #require(try await rig.service.call("GET", "/api/v1/inbound-requests", key: rig.keys.adminKey)
                .json["requests"] as? [[String: Any]]).map { $0["outcome"] as? String }
            #expect(outcomes == ["skipped", "unverified", "unverified"])
            // Another tenant's admin sees none of it.
            let other = try await rig.service.tenant("other")
            #expect((try await rig.service.call("GET", "/api/v1/inbound-requests", key: other.adminKey).json["requests"] as? [Any])?.isEmpty == true)
        }
    }
}
