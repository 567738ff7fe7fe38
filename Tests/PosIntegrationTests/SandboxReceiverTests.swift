import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import PosSandbox
import Testing

@Suite("Sandbox signed-webhook receiver")
struct SandboxReceiverTests {
    static func fields(_ pairs: [(name: String, value: String)]) -> HTTPFields {
        var fields = HTTPFields()
        for pair in pairs { fields[HTTPField.Name(pair.name)!] = pair.value }
        return fields
    }

    @Test("accepts what we sign, rejects tampering, a wrong secret and stale timestamps")
    func verification() {
        let secret = WebhookSecret.generate()
        let receiver = SignedWebhookReceiver(secrets: [secret])
        let body = Array(#"{"uuid":"o-1"}"#.utf8)
        let now: Int64 = 1_800_000_000
        let signed = Self.fields(WebhookSigning.headers(event: "order.paid", deliveryId: "d-1", timestamp: now, body: body, secrets: [secret]))
        #expect(receiver.rejection(headers: signed, body: body, now: now) == nil)
        #expect(receiver.rejection(headers: signed, body: body + [0x20], now: now) != nil)
        #expect(receiver.rejection(headers: signed, body: body, now: now + 301) == "timestamp outside tolerance")
        let forged = Self.fields(WebhookSigning.headers(event: "order.paid", deliveryId: "d-1", timestamp: now, body: body,
                                                        secrets: [WebhookSecret.generate()]))
        #expect(receiver.rejection(headers: forged, body: body, now: now) != nil)
        #expect(receiver.rejection(headers: HTTPFields(), body: body, now: now) == "missing signature headers")
    }

    @Test("a dispatched order verifies at the sandbox receiver")
    func endToEnd() async throws {
        let receiver = SignedWebhookReceiver(secrets: [])
        let router = Router()
        receiver.addRoutes(to: router)
        let sandbox = try await LiveServer.start(router: router)
        defer { Task { await sandbox.stop() } }
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let webhook = try await service.registerWebhook(
                outletId: "store-uuid-123", url: "http://127.0.0.1:\(sandbox.port)/webhook/acme", key: acme.partnerKey)
            receiver.trust(try #require(WebhookSecret(encoded: webhook.secret)))
            let reply = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            #expect(reply.json["dispatched"] as? Bool == true, "\(reply.text)")
            #expect(receiver.counts == .init(received: 1, unique: 1, duplicates: 0, rejected: 0, pings: 1))
        }
    }
}
