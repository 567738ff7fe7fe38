import Crypto
import Foundation
import PosDomain
import PosServices
import PosStorage
import Testing

@Suite("Dispatch and signed webhook delivery")
struct DispatchDeliveryTests {
    /// An order with odd whitespace, key order, unicode escapes, a huge number and nested arrays.
    static let unusualOrder = """
        {  "zeta" :[ [1,[2, [3]]], {"deep":[{"x":null}]}],\t"uuid":"ord-\\u00e9-1",
          "orderRefNo":"R\\/1","dailyQueueNo":"A1","storeUuid":"s-1","storeName":"Caf\\u00e9 \\ud83c\\udf54",
          "deliveryMethod":"PICKUP","status":"PAID","currency":"SGD","isPreorder":true,
          "bigNumber": 123456789012345678901234567890.123456789e-3,
          "items":[{"modifiers":[],"plu":"P1","name":"Tea","quantity":1,"itemOnlyPrice":3.5,"modifierOnlyPrice":0,
                    "itemPrice":3.50,"itemSubTotal":3.5}],
          "subtotal":3.5,"discountTotal":0,"serviceCharge":0,"deliveryFee":0,"totalPay":3.5,
          "payment":{"method":"CASH","tip":0,"amount":3.5},"createdAt":"2024-12-01T22:30:00.123+08:00"   }
        """

    @Test("the order arrives byte-identical and both signatures verify")
    func byteFidelity() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let webhook = try await service.registerWebhook(outletId: "s-1", url: receiver.url, key: acme.partnerKey)
            let body = Array(#"{"event":"order.paid","order":"#.utf8) + Array(Self.unusualOrder.utf8) + Array(#" , "outletId":"s-1"}"#.utf8)
            let reply = try await service.dispatch(body, key: acme.internalKey)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json["dispatched"] as? Bool == true)
            #expect(reply.json["isSuccess"] as? Bool == true)

            let delivered = try #require(receiver.received.first)
            #expect(receiver.received.count == 1)
            #expect(delivered.body == Array(Self.unusualOrder.utf8))

            let secret = try #require(WebhookSecret(encoded: webhook.secret))
            let key = SymmetricKey(data: secret.bytes)
            let cata = HMAC<SHA256>.authenticationCode(for: delivered.body, using: key)
            #expect(delivered.header("X-Cata-Signature") == "sha256=" + Hex.encode(cata))
            let id = try #require(delivered.header("webhook-id"))
            let timestamp = try #require(delivered.header("webhook-timestamp"))
            let signed = Array("\(id).\(timestamp).".utf8) + delivered.body
            let standard = Data(HMAC<SHA256>.authenticationCode(for: signed, using: key)).base64EncodedString()
            #expect(delivered.header("webhook-signature") == "v1,\(standard)")
            #expect(delivered.header("X-Cata-Delivery-ID") == id)
            #expect(delivered.header("X-Cata-Timestamp") == timestamp)
            #expect(delivered.header("X-Cata-Event") == "order.paid")
            #expect(delivered.header("Content-Type") == "application/json")
            #expect(abs((Int64(timestamp) ?? 0) - SystemClock.now() / 1000) < 60)
        }
    }

    @Test("no webhook: the order is persisted and not dispatched")
    func noWebhook() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let reply = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            #expect(reply.status == 200)
            #expect(reply.json["code"] as? Int == 200)
            #expect(reply.json["dispatched"] as? Bool == false)
            #expect(reply.json["reason"] as? String == "no active webhook for outlet")
            let orderId = try #require(reply.json["orderId"] as? String)
            let order = try await service.call("GET", "/api/v1/orders/\(orderId)", key: acme.partnerKey)
            #expect(order.status == 200)
            #expect(order.json["dispatchStatus"] as? String == "no_target")
            #expect(order.json["orderUuid"] as? String == "ord-550e8400-e29b-41d4-a716-446655440000")
            #expect(order.json["totalPay"] as? String == "85.00")
        }
    }

    @Test("a failing receiver: dispatched false, the reason names the status, the attempt is recorded")
    func failedDelivery() async throws {
        let receiver = try await WebhookReceiver.start(statuses: [503])
        defer { Task { await receiver.stop() } }
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let reply = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            #expect(reply.json["dispatched"] as? Bool == false)
            #expect((reply.json["reason"] as? String)?.contains("HTTP 503") == true, "\(reply.text)")
            let orderId = try #require(reply.json["orderId"] as? String)
            let order = try await service.call("GET", "/api/v1/orders/\(orderId)", key: acme.internalKey)
            #expect(order.json["dispatchStatus"] as? String == "failed")
            let deliveries = try #require(order.json["deliveries"] as? [[String: Any]])
            #expect(deliveries.count == 1)
            #expect(deliveries[0]["status"] as? String == "failed")
            #expect(deliveries[0]["nextAttemptAt"] as? String != nil, "left in the outbox for a retry")
            let attempts = try #require(deliveries[0]["attempts"] as? [[String: Any]])
            #expect(attempts.count == 1)
            #expect(attempts[0]["statusCode"] as? Int == 503)
            #expect(attempts[0]["errorClass"] as? String == "http_status")
        }
    }

    @Test("an unreachable receiver is a network failure, recorded")
    func unreachableReceiver() async throws {
        // A port nothing listens on (discard, never bound in tests): a stopped receiver's port can be
        // taken by another test's server meanwhile, which then answers instead.
        let deadURL = "http://127.0.0.1:9/webhook"
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: deadURL, key: acme.partnerKey)
            let reply = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            #expect(reply.status == 200)
            #expect(reply.json["dispatched"] as? Bool == false)
            #expect((reply.json["reason"] as? String)?.contains("network error") == true, "\(reply.text)")
        }
    }

    @Test("a replay sends nothing and returns the first result; a different order under the same uuid is 409")
    func idempotentReplay() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let first = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            let replay = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            #expect(first.status == 200)
            #expect(replay.status == 200)
            #expect(replay.json["orderId"] as? String == first.json["orderId"] as? String)
            #expect(replay.json["dispatched"] as? Bool == true)
            #expect(replay.json["reason"] as? String == first.json["reason"] as? String)
            #expect(receiver.received.count == 1, "the replay sent nothing")
            let order = try await service.call("GET", "/api/v1/orders/\(first.json["orderId"] as? String ?? "")", key: acme.internalKey)
            #expect(order.json["externalOrderId"] as? String == "POS-1", "the receiver's own id is kept")

            let changed = Fixtures.seedOrder.replacingOccurrences(of: "\"totalPay\":85", with: "\"totalPay\":86")
            let conflict = try await service.dispatch(Fixtures.dispatchBody(order: changed), key: acme.internalKey)
            #expect(conflict.status == 409)
            #expect(conflict.error["code"] as? Int == 409)
            #expect(receiver.received.count == 1)
            #expect(try await service.stores.orderCount(tenantId: acme.tenant.id) == 1)
        }
    }

    @Test("concurrent identical dispatches make one order and one delivery")
    func concurrentDuplicates() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let replies = try await withThrowingTaskGroup(of: TestService.Reply.self) { group in
                for _ in 0..<12 {
                    group.addTask { try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let orderIds = Set(replies.compactMap { $0.json["orderId"] as? String })
            #expect(replies.allSatisfy { $0.status == 200 }, "\(replies.map(\.status))")
            #expect(orderIds.count == 1)
            #expect(receiver.received.count == 1)
            #expect(try await service.stores.orderCount(tenantId: acme.tenant.id) == 1)
            let order = try await service.call("GET", "/api/v1/orders/\(orderIds.first ?? "")", key: acme.internalKey)
            #expect((order.json["deliveries"] as? [Any])?.count == 1)
        }
    }

    @Test("tenant B cannot read A's order nor reach A's outlet webhook")
    func tenantIsolation() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let globex = try await service.tenant("globex")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let acmeOrder = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            let acmeOrderId = try #require(acmeOrder.json["orderId"] as? String)
            #expect(receiver.received.count == 1)

            let peek = try await service.call("GET", "/api/v1/orders/\(acmeOrderId)", key: globex.partnerKey)
            #expect(peek.status == 404)
            #expect(peek.error["code"] as? Int == 404)

            // Same outlet id and order uuid from B: its own order, and A's webhook is not used.
            let globexOrder = try await service.dispatch(Fixtures.dispatchBody(), key: globex.internalKey)
            #expect(globexOrder.status == 200)
            #expect(globexOrder.json["dispatched"] as? Bool == false)
            #expect(globexOrder.json["reason"] as? String == "no active webhook for outlet")
            #expect(globexOrder.json["orderId"] as? String != acmeOrderId)
            #expect(receiver.received.count == 1)
        }
    }

    @Test("unknown builtInTransformer is a 400 naming the field, and nothing is written")
    func unknownTransformer() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            var tree = Fixtures.tree()
            tree["builtInTransformer"] = "nopos"
            let reply = try await service.dispatch(Fixtures.encode(tree), key: acme.internalKey)
            #expect(reply.status == 400)
            #expect(reply.error["field"] as? String == "builtInTransformer")
            #expect(try await service.stores.orderCount(tenantId: acme.tenant.id) == 0)
        }
    }

    @Test("webhook registration validates, shows the secret once, and refuses a second for the same outlet and provider")
    func registration() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let first = try await service.registerWebhook(outletId: "o-1", url: "https://pos.example.com/cata", key: acme.partnerKey)
            #expect(first.secret.hasPrefix("whsec_"))
            #expect(WebhookSecret(encoded: first.secret)?.bytes.count == 32)
            let again = try await service.call("POST", "/api/v1/webhooks/register", key: acme.partnerKey,
                                               json: Array(#"{"outletId":"o-1","provider":"acme-pos","callbackUrl":"https://x.example.com","events":["order.paid"]}"#.utf8))
            #expect(again.status == 409)
            let badURL = try await service.call("POST", "/api/v1/webhooks/register", key: acme.partnerKey,
                                                json: Array(#"{"outletId":"o-2","provider":"p","callbackUrl":"ftp://x","events":["order.paid"]}"#.utf8))
            #expect(badURL.status == 400)
            #expect(badURL.error["field"] as? String == "callbackUrl")
            let badEvent = try await service.call("POST", "/api/v1/webhooks/register", key: acme.partnerKey,
                                                  json: Array(#"{"outletId":"o-2","provider":"p","callbackUrl":"https://x.example.com","events":["order.eaten"]}"#.utf8))
            #expect(badEvent.error["field"] as? String == "events[0]")
            // The stored secret is sealed, never the plain whsec_ value.
            let engine = try SQLiteEngine(path: service.databasePath)  // a second reader of the same file
            let stored = try await engine.read { db in
                try db.query("SELECT secret_sealed FROM webhooks", []).map { row -> String in
                    guard case .string(let sealed) = try row["secret_sealed"] else { return "" }
                    return sealed
                }
            }
            await engine.shutdown()
            #expect(stored.count == 1)
            #expect(stored.allSatisfy { !$0.contains("whsec_") && $0.hasPrefix("v1:") })
        }
    }
}
