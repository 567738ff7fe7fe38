import Foundation
import PosConnectors
import PosDomain
import PosServices
import PosStorage
import Testing

@Suite("Outbound (SSRF) guard")
struct OutboundGuardTests {
    @Test("address classes", arguments: [
        ("127.0.0.1", IPAddressClass.loopback), ("::1", .loopback), ("::ffff:127.0.0.1", .loopback),
        ("10.1.2.3", .privateNetwork), ("172.16.0.1", .privateNetwork), ("172.31.255.255", .privateNetwork),
        ("192.168.1.1", .privateNetwork), ("fd12:3456::1", .privateNetwork), ("100.64.0.1", .privateNetwork),
        ("169.254.169.254", .linkLocal), ("fe80::1", .linkLocal), ("224.0.0.1", .multicast), ("ff02::1", .multicast),
        ("0.0.0.0", .unspecified), ("::", .unspecified), ("255.255.255.255", .unspecified),
        ("172.32.0.1", .publicAddress), ("8.8.8.8", .publicAddress), ("2001:4860:4860::8888", .publicAddress),
    ])
    func classes(_ address: String, _ expected: IPAddressClass) throws {
        #expect(IPAddressClass(bytes: try #require(OutboundGuard.addressBytes(address))) == expected)
    }

    @Test("refused by default, each class; allowed by POS_ALLOW_PRIVATE_TARGETS or the allowlist")
    func refusalsAndAllowances() async throws {
        let strict = OutboundGuard()
        for url in ["http://127.0.0.1:9/h", "http://[::1]:9/h", "https://10.0.0.5/h", "http://169.254.169.254/latest/meta-data",
                    "http://[fe80::1]/h", "http://224.0.0.1/h", "http://0.0.0.0:80/h", "http://[fd00::1]/h"] {
            await #expect(throws: OutboundGuard.Refusal.self, "\(url)") { try await strict.check(url) }
        }
        do {
            try await strict.check("http://127.0.0.1:8080/hook")
            Issue.record("loopback allowed")
        } catch {
            #expect(error.description.contains("POS_ALLOW_PRIVATE_TARGETS=true"), "tells a developer on localhost what to set")
            #expect(error.description.contains("POS_OUTBOUND_ALLOWLIST"))
        }
        await #expect(throws: OutboundGuard.Refusal.invalidURL("only absolute http and https URLs are allowed")) {
            try await strict.check("ftp://example.com/h")
        }
        try await strict.check("http://8.8.8.8/h")
        try await OutboundGuard(allowPrivateTargets: true).check("http://127.0.0.1:8080/h")

        guard case .success(let allowlist) = OutboundGuard.parseAllowlist("10.0.0.0/8, localhost, fd00::/8") else {
            Issue.record("allowlist did not parse")
            return
        }
        let allowing = OutboundGuard(allowlist: allowlist)
        try await allowing.check("https://10.20.30.40/h")
        try await allowing.check("http://localhost:8080/h")
        try await allowing.check("http://[fd00::5]/h")
        await #expect(throws: OutboundGuard.Refusal.self) { try await allowing.check("http://192.168.0.1/h") }
        guard case .failure(let failure) = OutboundGuard.parseAllowlist("10.0.0.0/99") else {
            Issue.record("a bad CIDR parsed")
            return
        }
        #expect(failure.entry == "10.0.0.0/99")
    }

    @Test("registration refuses a private callbackUrl with a 400 naming callbackUrl")
    func registrationRefused() async throws {
        try await withTestService(outboundGuard: OutboundGuard()) { service in
            let acme = try await service.tenant("acme")
            let reply = try await service.call("POST", "/api/v1/webhooks/register", key: acme.partnerKey, json: Array(
                #"{"outletId":"o","provider":"p","callbackUrl":"http://169.254.169.254/latest","events":["order.paid"]}"#.utf8))
            #expect(reply.status == 400)
            #expect(reply.error["field"] as? String == "callbackUrl")
            #expect((reply.error["message"] as? String)?.contains("link-local") == true)
        }
    }

    @Test("each attempt is checked too: a webhook pointing at loopback is refused and dead-lettered with the reason")
    func attemptRefused() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withTestService(outboundGuard: OutboundGuard()) { service in
            let acme = try await service.tenant("acme")
            // Stored directly, as if it had been allowed when registered.
            _ = try await service.stores.createWebhook(NewWebhook(
                tenantId: acme.tenant.id, outletId: "store-uuid-123", provider: "p", callbackUrl: receiver.url, events: ["order.paid"],
                sealedSecret: try service.secretBox.seal(WebhookSecret.generate().encoded), createdAt: SystemClock.now()))
            let reply = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            #expect(reply.json["dispatched"] as? Bool == false)
            #expect((reply.json["reason"] as? String)?.contains("POS_ALLOW_PRIVATE_TARGETS") == true, "\(reply.text)")
            #expect(receiver.received.isEmpty)
            let order = try await service.call("GET", "/api/v1/orders/\(reply.json["orderId"] as? String ?? "")", key: acme.internalKey)
            let delivery = try #require((order.json["deliveries"] as? [[String: Any]])?.first)
            #expect(delivery["status"] as? String == "dead")
            #expect((delivery["attempts"] as? [[String: Any]])?.first?["errorClass"] as? String == "forbidden_target")
        }
    }
}
