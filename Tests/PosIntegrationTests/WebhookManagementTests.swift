import Crypto
import Foundation
import PosDomain
import PosServices
import Testing

@Suite("Webhook management")
struct WebhookManagementTests {
    static func verifies(_ signature: String, id: String, timestamp: String, body: [UInt8], secret: String) -> Bool {
        guard let secret = WebhookSecret(encoded: secret) else { return false }
        return WebhookSigning.standardSignature(id: id, timestamp: Int64(timestamp) ?? 0, body: body, secret: secret) == signature
    }

    @Test("registration pings the endpoint; list and get never show the secret; PUT changes what it says")
    func registerListGetUpdate() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let reply = try await service.call("POST", "/api/v1/webhooks/register", key: acme.partnerKey, json: Array(
                #"{"outletId":"o-1","provider":"acme-pos","callbackUrl":"\#(receiver.url)","events":["order.paid"]}"#.utf8))
            #expect(reply.status == 201)
            #expect((reply.json["ping"] as? [String: Any])?["delivered"] as? Bool == true)
            let ping = try #require(receiver.pings.first)
            #expect(receiver.received.isEmpty)
            #expect(ping.header("X-Cata-Event") == "ping")
            let secret = try #require((reply.json["webhook"] as? [String: Any])?["secret"] as? String)
            #expect(Self.verifies(ping.header("webhook-signature") ?? "", id: ping.header("webhook-id") ?? "",
                                  timestamp: ping.header("webhook-timestamp") ?? "", body: ping.body, secret: secret))
            let id = try #require((reply.json["webhook"] as? [String: Any])?["id"] as? Int)

            let list = try await service.call("GET", "/api/v1/webhooks", key: acme.partnerKey)
            #expect((list.json["webhooks"] as? [[String: Any]])?.count == 1)
            #expect(!list.text.contains("whsec_"))
            let shown = try await service.call("GET", "/api/v1/webhooks/\(id)", key: acme.partnerKey)
            #expect(shown.status == 200)
            #expect(!shown.text.contains("whsec_"))
            #expect((shown.json["lastPing"] as? [String: Any])?["statusCode"] as? Int == 200)

            let updated = try await service.call("PUT", "/api/v1/webhooks/\(id)", key: acme.partnerKey,
                                                 json: Array(#"{"isActive":false,"callbackUrl":"http://127.0.0.1:1/other"}"#.utf8))
            #expect(updated.status == 200)
            #expect(updated.json["isActive"] as? Bool == false)
            #expect(updated.json["callbackUrl"] as? String == "http://127.0.0.1:1/other")
            let empty = try await service.call("PUT", "/api/v1/webhooks/\(id)", key: acme.partnerKey, json: Array("{}".utf8))
            #expect(empty.status == 400)
            let badEvents = try await service.call("PUT", "/api/v1/webhooks/\(id)", key: acme.partnerKey, json: Array(#"{"events":[]}"#.utf8))
            #expect(badEvents.error["field"] as? String == "events")

            let globex = try await service.tenant("globex")
            #expect(try await service.call("GET", "/api/v1/webhooks/\(id)", key: globex.partnerKey).status == 404)
            #expect(try await service.call("DELETE", "/api/v1/webhooks/\(id)", key: globex.partnerKey).status == 404)
            #expect(try await service.call("GET", "/api/v1/webhooks/not-a-number", key: acme.partnerKey).status == 404)
        }
    }

    @Test("rotation: during the overlap both signatures verify and X-Cata-Signature uses the new secret; then only the new one")
    func rotationOverlap() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        let clock = ManualClock(now: SystemClock.now())
        try await withTestService(clock: clock.read, rotationOverlapMs: 60_000) { service in
            let acme = try await service.tenant("acme")
            let old = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let rotated = try await service.call("POST", "/api/v1/webhooks/\(old.id)/rotate-secret", key: acme.partnerKey)
            #expect(rotated.status == 200)
            let new = try #require(rotated.json["secret"] as? String)
            #expect(new != old.secret)

            _ = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            let during = try #require(receiver.received.last)
            let signatures = (during.header("webhook-signature") ?? "").split(separator: " ").map(String.init)
            #expect(signatures.count == 2)
            for secret in [new, old.secret] {
                #expect(signatures.contains { Self.verifies($0, id: during.header("webhook-id") ?? "", timestamp: during.header("webhook-timestamp") ?? "",
                                                            body: during.body, secret: secret) })
            }
            let newKey = SymmetricKey(data: try #require(WebhookSecret(encoded: new)).bytes)
            #expect(during.header("X-Cata-Signature") == "sha256=" + Hex.encode(HMAC<SHA256>.authenticationCode(for: during.body, using: newKey)))

            clock.advance(by: 60_001)
            _ = try await service.dispatch(Fixtures.dispatchBody(order: Fixtures.order(uuid: "after-overlap")), key: acme.internalKey)
            let after = try #require(receiver.received.last)
            let remaining = (after.header("webhook-signature") ?? "").split(separator: " ").map(String.init)
            #expect(remaining.count == 1)
            #expect(Self.verifies(remaining[0], id: after.header("webhook-id") ?? "", timestamp: after.header("webhook-timestamp") ?? "",
                                  body: after.body, secret: new))
        }
    }

    @Test("deleting a webhook dead-letters its waiting deliveries with the reason")
    func deleteDeadLetters() async throws {
        let receiver = try await WebhookReceiver.start(statuses: [503])
        defer { Task { await receiver.stop() } }
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let webhook = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let reply = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            #expect(reply.json["dispatched"] as? Bool == false)
            let deleted = try await service.call("DELETE", "/api/v1/webhooks/\(webhook.id)", key: acme.partnerKey)
            #expect(deleted.status == 200)
            #expect(deleted.json["deliveriesDeadLettered"] as? Int == 1)
            let order = try await service.call("GET", "/api/v1/orders/\(reply.json["orderId"] as? String ?? "")", key: acme.internalKey)
            let delivery = try #require((order.json["deliveries"] as? [[String: Any]])?.first)
            #expect(delivery["status"] as? String == "dead")
            #expect(delivery["lastError"] as? String == "webhook deleted")
            #expect(try await service.call("GET", "/api/v1/webhooks/\(webhook.id)", key: acme.partnerKey).status == 404)
        }
    }
}
