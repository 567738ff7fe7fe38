import Foundation
import Hummingbird
import PosConnectors
import PosDomain
import PosSandbox
import PosServices
import Testing

/// The loyalty proxy end to end: the service on loopback in front of the loyalty-service double.
@Suite("Loyalty")
struct LoyaltyTests {
    static let customer = LoyaltySandbox.defaultCustomer.uuid
    static let unknownCustomer = "00000000-1111-4222-8333-444444444444"

    /// The service and a loyalty double at `origin/loyalty`; acme's loyalty is configured unless `configure` is false.
    static func withLoyalty(
        timeout: String? = nil, configure: Bool = true, loyalty settings: LoyaltySettings = LoyaltySettings(),
        _ body: (TestService, TestService.TenantKeys, LoyaltySandbox, String) async throws -> Void
    ) async throws {
        let double = LoyaltySandbox()
        let router = Router()
        double.addRoutes(to: router, prefix: "/loyalty")
        let server = try await LiveServer.start(router: router)
        let origin = "http://127.0.0.1:\(server.port)"
        do {
            try await withTestService(loyalty: settings) { service in
                let acme = try await service.tenant("acme")
                if configure {
                    let timeoutField = timeout.map { #","timeout":"\#($0)""# } ?? ""
                    let saved = try await service.call("PUT", "/api/v1/loyalty/config", key: acme.adminKey, json: Array("""
                        {"baseUrl":"\(origin)/loyalty","apiKey":"\(LoyaltySandbox.defaultAPIKey)"\(timeoutField)}
                        """.utf8))
                    try #require(saved.status == 200, "\(saved.text)")
                }
                try await body(service, acme, double, origin)
            }
            await server.stop()
        } catch {
            await server.stop()
            throw error
        }
    }

    static func earn(_ service: TestService, _ key: String, customerUuid: String = customer, points: Int = 25, refCode: String = "sale-1",
                     path: String = "earn-points") async throws -> TestService.Reply {
        try await service.call("POST", "/api/v1/loyalty/\(path)", key: key, json: Array("""
            {"customerUuid":"\(customerUuid)","points":\(points),"refCode":"\(refCode)"}
            """.utf8))
    }

    static func balance(_ service: TestService, _ key: String, _ customerUuid: String = customer) async throws -> TestService.Reply {
        try await service.call("GET", "/api/v1/loyalty/balance?customerUuid=\(customerUuid)", key: key)
    }

    // MARK: Configuration

    @Test("the configuration is admin's: the key sealed at rest and shown masked, defaults from the deployment, baseUrl through the SSRF guard")
    func configuration() async throws {
        try await Self.withLoyalty(configure: false, loyalty: LoyaltySettings(defaultBaseUrl: "http://127.0.0.1:9/loyalty", defaultTimeoutMs: 3_000)) {
            service, acme, _, origin in
            #expect(try await service.call("GET", "/api/v1/loyalty/config", key: acme.adminKey).status == 404)
            let missingKey = try await service.call("PUT", "/api/v1/loyalty/config", key: acme.adminKey, json: Array("{}".utf8))
            #expect(missingKey.status == 400 && missingKey.error["field"] as? String == "apiKey")
            let badTimeout = try await service.call("PUT", "/api/v1/loyalty/config", key: acme.adminKey,
                                                    json: Array(#"{"apiKey":"k","timeout":"2h"}"#.utf8))
            #expect(badTimeout.status == 400 && badTimeout.error["field"] as? String == "timeout")
            let unknown = try await service.call("PUT", "/api/v1/loyalty/config", key: acme.adminKey,
                                                 json: Array(#"{"apiKey":"k","secret":"x"}"#.utf8))
            #expect(unknown.status == 400 && unknown.error["field"] as? String == "secret")

            // Only the key: the URL and timeout are the deployment's.
            let created = try await service.call("PUT", "/api/v1/loyalty/config", key: acme.adminKey,
                                                 json: Array(#"{"apiKey":"tenant-loyalty-key-1234"}"#.utf8))
            #expect(created.status == 200 && created.json["message"] as? String == "loyalty configuration created")
            let shown = try #require(created.json["config"] as? [String: Any])
            #expect(shown["baseUrl"] as? String == "http://127.0.0.1:9/loyalty" && shown["timeout"] as? String == "3s")
            #expect(shown["apiKey"] as? String == "****1234" && shown["inherited"] as? [String] == ["baseUrl", "timeout"])
            #expect(!created.text.contains("tenant-loyalty-key"))
            let stored = try #require(try await service.stores.loyaltyConfig(tenantId: acme.tenant.id))
            #expect(stored.sealedApiKey.hasPrefix("v1:") && !stored.sealedApiKey.contains("tenant-loyalty-key"))
            #expect(try service.secretBox.open(stored.sealedApiKey) == "tenant-loyalty-key-1234")

            // An update without the key keeps it.
            let updated = try await service.call("PUT", "/api/v1/loyalty/config", key: acme.adminKey,
                                                 json: Array(#"{"baseUrl":"\#(origin)/loyalty","timeout":"750ms"}"#.utf8))
            #expect(updated.json["message"] as? String == "loyalty configuration updated")
            let read = try await service.call("GET", "/api/v1/loyalty/config", key: acme.adminKey)
            #expect(read.json["apiKey"] as? String == "****1234" && read.json["timeout"] as? String == "750ms")
            #expect(read.json["baseUrl"] as? String == "\(origin)/loyalty" && read.json["inherited"] as? [String] == [])
            #expect(try await service.call("GET", "/api/v1/loyalty/config", key: acme.partnerKey).status == 403)

            #expect(try await service.call("DELETE", "/api/v1/loyalty/config", key: acme.adminKey).status == 200)
            #expect(try await service.call("DELETE", "/api/v1/loyalty/config", key: acme.adminKey).status == 404)
        }
        // Without POS_LOYALTY_URL the URL is required; the SSRF guard refuses private targets unless allowed.
        try await withTestService(outboundGuard: OutboundGuard()) { service in
            let acme = try await service.tenant("acme")
            let noURL = try await service.call("PUT", "/api/v1/loyalty/config", key: acme.adminKey, json: Array(#"{"apiKey":"k"}"#.utf8))
            #expect(noURL.status == 400 && noURL.error["field"] as? String == "baseUrl")
            let privateTarget = try await service.call("PUT", "/api/v1/loyalty/config", key: acme.adminKey,
                                                       json: Array(#"{"baseUrl":"http://127.0.0.1:8080","apiKey":"k"}"#.utf8))
            #expect(privateTarget.status == 400 && privateTarget.error["field"] as? String == "baseUrl")
            #expect((privateTarget.error["message"] as? String)?.contains("loopback") == true)
        }
    }

    // MARK: Each route against the double

    @Test("balance, earn, use and customer lookup reach the double and answer in its envelope; every call is logged")
    func routes() async throws {
        try await Self.withLoyalty { service, acme, double, _ in
            let before = try await Self.balance(service, acme.partnerKey)
            #expect(before.status == 200, "\(before.text)")
            #expect(before.json["code"] as? Int == 0 && before.json["isSuccess"] as? Bool == true && before.json["message"] as? String == "OK")
            #expect(before.json["balance"] as? Int == 130 && before.json["numOfPointsWillExpire"] as? Int == 10)
            let expiry = try #require(before.json["nearestExpiryDateTimeUTC"] as? String)
            #expect(expiry.hasSuffix("Z") && RFC3339.parseMilliseconds(expiry) != nil)

            let earned = try await Self.earn(service, acme.partnerKey, points: 25, refCode: "sale-1")
            #expect(earned.status == 200 && earned.text == #"{"code":0,"isSuccess":true,"message":"OK"}"#)
            #expect(try await Self.balance(service, acme.partnerKey).json["balance"] as? Int == 155)
            let used = try await Self.earn(service, acme.partnerKey, points: 15, refCode: "redeem-1", path: "use-points")
            #expect(used.status == 200 && used.json["isSuccess"] as? Bool == true)
            #expect(double.balance(Self.customer) == 140)
            // The points that expire first are spent first.
            #expect(try await Self.balance(service, acme.partnerKey).json["numOfPointsWillExpire"] as? Int == 115)

            for identifier in ["customer@example.com", "%2B6281287730000", "CUST01"] {
                let found = try await service.call("GET", "/api/v1/loyalty/customer?identifier=\(identifier)", key: acme.partnerKey)
                #expect(found.status == 200 && found.json["customerUuid"] as? String == Self.customer, "\(identifier): \(found.text)")
            }

            // Only partners: the admin key is refused.
            #expect(try await Self.balance(service, acme.adminKey).status == 403)

            let log = try await service.call("GET", "/api/v1/loyalty/transactions?customerUuid=\(Self.customer)", key: acme.adminKey)
            let calls = try #require(log.json["transactions"] as? [[String: Any]])
            #expect(calls.count == 8, "\(log.text)")
            let earnCall = try #require(calls.first { $0["operation"] as? String == "earn-points" })
            #expect(earnCall["points"] as? Int == 25 && earnCall["refCode"] as? String == "sale-1" && earnCall["upstreamStatus"] as? Int == 200)
            #expect(earnCall["status"] as? Int == 200 && earnCall["outcome"] as? String == "answered" && earnCall["latencyMs"] is Int)
            let lookup = try #require(calls.first { $0["operation"] as? String == "customer" })
            #expect(lookup["customerUuid"] as? String == Self.customer && lookup["refCode"] is NSNull)
            let future = try await service.call("GET", "/api/v1/loyalty/transactions?since=2999-01-01T00:00:00Z", key: acme.adminKey)
            #expect((future.json["transactions"] as? [Any])?.isEmpty == true)
            #expect(try await service.call("GET", "/api/v1/loyalty/transactions?since=yesterday", key: acme.adminKey).error["field"] as? String == "since")
        }
    }

    @Test("invalid requests are refused before anything goes upstream, naming the field")
    func validation() async throws {
        try await Self.withLoyalty { service, acme, double, _ in
            let cases: [(String, String, [UInt8]?, String)] = [
                ("GET", "/api/v1/loyalty/balance", nil, "customerUuid"),
                ("GET", "/api/v1/loyalty/balance?customerUuid=CUST", nil, "customerUuid"),
                ("GET", "/api/v1/loyalty/customer", nil, "identifier"),
                ("GET", "/api/v1/loyalty/customer?identifier=a@b", nil, "identifier"),
                ("GET", "/api/v1/loyalty/customer?identifier=%2B12", nil, "identifier"),
                ("GET", "/api/v1/loyalty/customer?identifier=no%20spaces", nil, "identifier"),
                ("POST", "/api/v1/loyalty/earn-points", Array(#"{"points":1,"refCode":"r"}"#.utf8), "customerUuid"),
                ("POST", "/api/v1/loyalty/earn-points", Array(#"{"customerUuid":"\#(Self.customer)","points":0,"refCode":"r"}"#.utf8), "points"),
                ("POST", "/api/v1/loyalty/earn-points", Array(#"{"customerUuid":"\#(Self.customer)","points":1.5,"refCode":"r"}"#.utf8), "points"),
                ("POST", "/api/v1/loyalty/earn-points",
                 Array(#"{"customerUuid":"\#(Self.customer)","points":99999999999999999999999,"refCode":"r"}"#.utf8), "points"),
                ("POST", "/api/v1/loyalty/earn-points", Array(#"{"customerUuid":"\#(Self.customer)","points":"5","refCode":"r"}"#.utf8), "points"),
                ("POST", "/api/v1/loyalty/earn-points", Array(#"{"customerUuid":"\#(Self.customer)","points":5,"refCode":""}"#.utf8), "refCode"),
                ("POST", "/api/v1/loyalty/earn-points",
                 Array(#"{"customerUuid":"\#(Self.customer)","points":5,"refCode":"\#(String(repeating: "x", count: 65))"}"#.utf8), "refCode"),
                ("POST", "/api/v1/loyalty/earn-points", Array(#"{"customerUuid":"\#(Self.customer)","points":5,"refCode":"tab\there"}"#.utf8), "refCode"),
                ("POST", "/api/v1/loyalty/use-points",
                 Array(#"{"customerUuid":"\#(Self.customer)","points":5,"refCode":"r","displayNotes":"x"}"#.utf8), "displayNotes"),
            ]
            for (method, path, body, field) in cases {
                let reply = try await service.call(method, path, key: acme.partnerKey, json: body)
                #expect(reply.status == 400, "\(path) \(body.map { String(decoding: $0, as: UTF8.self) } ?? ""): \(reply.text)")
                #expect(reply.error["field"] as? String == field, "\(path): \(reply.text)")
            }
            #expect(double.calls.isEmpty, "nothing went upstream")
        }
    }

    // MARK: Errors

    @Test("a tenant without loyalty gets 503 loyalty_not_configured")
    func notConfigured() async throws {
        try await Self.withLoyalty(configure: false) { service, acme, double, _ in
            for reply in [try await Self.balance(service, acme.partnerKey), try await Self.earn(service, acme.partnerKey)] {
                #expect(reply.status == 503 && reply.error["message"] as? String == "loyalty_not_configured", "\(reply.text)")
            }
            #expect(double.calls.isEmpty)
            let log = try await service.call("GET", "/api/v1/loyalty/transactions", key: acme.adminKey)
            #expect((log.json["transactions"] as? [[String: Any]])?.map { $0["outcome"] as? String } == ["not_configured", "not_configured"])
        }
    }

    @Test("a slow upstream is 504 after the configured timeout")
    func slowUpstream() async throws {
        try await Self.withLoyalty(timeout: "300ms") { service, acme, double, _ in
            // The double answers 200 once its delay is over: a 504 is our timeout, not its answer.
            double.failNext(delayMs: 3_000)
            let reply = try await Self.balance(service, acme.partnerKey)
            #expect(reply.status == 504, "\(reply.text)")
            #expect(reply.error["code"] as? Int == 504 && reply.error["details"] as? String == "timeout after 300 ms")
            let logged = try await service.call("GET", "/api/v1/loyalty/transactions", key: acme.adminKey)
            let call = try #require((logged.json["transactions"] as? [[String: Any]])?.first)
            #expect(call["outcome"] as? String == "timeout" && call["status"] as? Int == 504 && call["upstreamStatus"] is NSNull)
        }
    }

    @Test("a 5xx, an unreadable answer, a refused key or no service at all is 502 with the upstream status, never its body")
    func badGateway() async throws {
        try await Self.withLoyalty { service, acme, double, origin in
            double.failNext(status: 500)
            let failed = try await Self.balance(service, acme.partnerKey)
            #expect(failed.status == 502 && failed.error["details"] as? String == "loyalty service status 500", "\(failed.text)")
            #expect(!failed.text.contains("injected"), "the upstream's body is not passed on")

            double.failNext(status: 200)
            let garbage = try await Self.earn(service, acme.partnerKey, refCode: "garbage-1")
            #expect(garbage.status == 502 && (garbage.error["details"] as? String)?.hasPrefix("loyalty service status 200") == true, "\(garbage.text)")
            // The garbage answer did nothing, and was not stored: the retry goes upstream and succeeds.
            #expect(try await Self.earn(service, acme.partnerKey, refCode: "garbage-1").status == 200)
            #expect(double.appliedMoves == 1)

            _ = try await service.call("PUT", "/api/v1/loyalty/config", key: acme.adminKey,
                                       json: Array(#"{"baseUrl":"\#(origin)/loyalty","apiKey":"wrong-key"}"#.utf8))
            let refused = try await Self.balance(service, acme.partnerKey)
            #expect(refused.status == 502 && refused.error["details"] as? String == "loyalty service status 401", "\(refused.text)")
            #expect(!refused.text.contains("wrong-key"))

            _ = try await service.call("PUT", "/api/v1/loyalty/config", key: acme.adminKey,
                                       json: Array(#"{"baseUrl":"http://127.0.0.1:1/loyalty","apiKey":"k"}"#.utf8))
            #expect(try await Self.balance(service, acme.partnerKey).status == 502)
        }
    }

    @Test("business refusals pass through: overspending as 200 isSuccess false, an unknown customer as the upstream's 404")
    func refusals() async throws {
        try await Self.withLoyalty { service, acme, _, _ in
            let overspend = try await Self.earn(service, acme.partnerKey, points: 500, refCode: "big", path: "use-points")
            #expect(overspend.status == 200 && overspend.json["isSuccess"] as? Bool == false && overspend.json["code"] as? Int == 1002,
                    "\(overspend.text)")
            #expect((overspend.json["message"] as? String)?.contains("insufficient points") == true)
            let unknown = try await Self.balance(service, acme.partnerKey, Self.unknownCustomer)
            #expect(unknown.status == 404 && unknown.error["message"] as? String == "customer not found", "\(unknown.text)")
            #expect(unknown.error["details"] as? String == "loyalty service code 1001")
            let lookup = try await service.call("GET", "/api/v1/loyalty/customer?identifier=nobody@example.com", key: acme.partnerKey)
            #expect(lookup.status == 404)
        }
    }

    // MARK: Idempotency

    @Test("a refCode's first answer is replayed without going upstream; the refCode with other points or customer is 422")
    func refCodeReplay() async throws {
        try await Self.withLoyalty { service, acme, double, _ in
            let first = try await Self.earn(service, acme.partnerKey, points: 25, refCode: "sale-7")
            let again = try await Self.earn(service, acme.partnerKey, points: 25, refCode: "sale-7")
            #expect(first.status == 200 && again.status == 200 && again.body == first.body)
            #expect(double.calls.filter { $0.refCode == "sale-7" }.count == 1, "the replay did not go upstream")
            #expect(double.balance(Self.customer) == 155)

            let otherPoints = try await Self.earn(service, acme.partnerKey, points: 26, refCode: "sale-7")
            #expect(otherPoints.status == 422 && otherPoints.error["code"] as? Int == 422, "\(otherPoints.text)")
            let otherCustomer = try await Self.earn(service, acme.partnerKey, customerUuid: Self.unknownCustomer, points: 25, refCode: "sale-7")
            #expect(otherCustomer.status == 422)
            // Use has refCodes of its own.
            #expect(try await Self.earn(service, acme.partnerKey, points: 5, refCode: "sale-7", path: "use-points").status == 200)

            // A refusal is an answer too: replayed, even after the customer could afford it.
            let refused = try await Self.earn(service, acme.partnerKey, points: 1_000, refCode: "big-1", path: "use-points")
            _ = try await Self.earn(service, acme.partnerKey, points: 2_000, refCode: "top-up")
            let replayed = try await Self.earn(service, acme.partnerKey, points: 1_000, refCode: "big-1", path: "use-points")
            #expect(refused.json["isSuccess"] as? Bool == false && replayed.body == refused.body)

            let log = try await service.call("GET", "/api/v1/loyalty/transactions", key: acme.adminKey)
            let outcomes = (log.json["transactions"] as? [[String: Any]])?.compactMap { $0["outcome"] as? String } ?? []
            #expect(outcomes.filter { $0 == "replayed" }.count == 2 && outcomes.filter { $0 == "mismatch" }.count == 2, "\(outcomes)")
        }
    }

    @Test("an earn whose upstream call timed out is retried upstream with the same refCode and grants once")
    func timedOutEarnGrantsOnce() async throws {
        // Long enough for the grant to reach the double even on a loaded machine.
        try await Self.withLoyalty(timeout: "1s") { service, acme, double, origin in
            // The double grants, then answers too late.
            double.failNext(delayMs: 4_000)
            let timedOut = try await Self.earn(service, acme.partnerKey, points: 40, refCode: "sale-42")
            #expect(timedOut.status == 504, "\(timedOut.text)")
            #expect(double.balance(Self.customer) == 170, "the loyalty service did act")
            // The retry is given all the time it needs: what it must show is the same refCode going upstream again.
            let patient = try await service.call("PUT", "/api/v1/loyalty/config", key: acme.adminKey,
                                                 json: Array(#"{"baseUrl":"\#(origin)/loyalty","timeout":"30s"}"#.utf8))
            try #require(patient.status == 200)

            let retried = try await Self.earn(service, acme.partnerKey, points: 40, refCode: "sale-42")
            #expect(retried.status == 200 && retried.json["isSuccess"] as? Bool == true, "\(retried.text)")
            #expect(double.calls.filter { $0.refCode == "sale-42" }.count == 2, "the retry went upstream with the same refCode")
            #expect(double.appliedMoves == 1 && double.balance(Self.customer) == 170, "granted once")
            // From now on the answer is ours to replay.
            #expect(try await Self.earn(service, acme.partnerKey, points: 40, refCode: "sale-42").body == retried.body)
            #expect(double.calls.filter { $0.refCode == "sale-42" }.count == 2)
        }
    }

    // MARK: Tenants

    @Test("two tenants' configurations never cross: each key reaches only its own loyalty service")
    func tenantsApart() async throws {
        let doubleA = LoyaltySandbox(apiKey: "key-of-tenant-a")
        let doubleB = LoyaltySandbox(apiKey: "key-of-tenant-b")
        let router = Router()
        doubleA.addRoutes(to: router, prefix: "/loyalty-a")
        doubleB.addRoutes(to: router, prefix: "/loyalty-b")
        let server = try await LiveServer.start(router: router)
        defer { Task { await server.stop() } }
        try await withTestService { service in
            let a = try await service.tenant("tenant-a")
            let b = try await service.tenant("tenant-b")
            for (keys, name) in [(a, "a"), (b, "b")] {
                let saved = try await service.call("PUT", "/api/v1/loyalty/config", key: keys.adminKey, json: Array("""
                    {"baseUrl":"http://127.0.0.1:\(server.port)/loyalty-\(name)","apiKey":"key-of-tenant-\(name)"}
                    """.utf8))
                try #require(saved.status == 200)
            }
            #expect(try await Self.earn(service, a.partnerKey, points: 70, refCode: "same-ref").status == 200)
            #expect(try await Self.earn(service, b.partnerKey, points: 5, refCode: "same-ref").status == 200, "refCodes are per tenant")
            #expect(try await Self.balance(service, a.partnerKey).json["balance"] as? Int == 200)
            #expect(try await Self.balance(service, b.partnerKey).json["balance"] as? Int == 135)
            for double in [doubleA, doubleB] {
                #expect(double.calls.count == 2 && double.calls.allSatisfy(\.keyAccepted), "\(double.calls)")
            }
            let logA = try await service.call("GET", "/api/v1/loyalty/transactions", key: a.adminKey)
            #expect((logA.json["transactions"] as? [[String: Any]])?.compactMap { $0["points"] as? Int } == [70])
        }
    }

    // MARK: The double

    @Test("the double checks its key, expires points, keeps refCodes, refuses overspending and takes fail-next over HTTP")
    func double() async throws {
        let double = LoyaltySandbox()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let expiring = LoyaltySandbox.Customer(uuid: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", email: "e@example.com", phone: "+6500000000", shortCode: "EXP1")
        double.addCustomer(expiring, lots: [LoyaltySandbox.Lot(points: 50, expiresAt: now - 1), LoyaltySandbox.Lot(points: 7, expiresAt: now + 60_000),
                                            LoyaltySandbox.Lot(points: 3, expiresAt: now + 60_000)])
        try await withSandboxServer(PosSandboxes(loyalty: double)) { origin in
            try await withTestService { service in
                let port = try #require(URL(string: origin)?.port)
                func call(_ method: String, _ path: String, key: String? = LoyaltySandbox.defaultAPIKey, _ body: String? = nil) async throws -> TestService.Reply {
                    try await service.call(method, "/loyalty" + path, headers: key.map { [("X-Api-Key", $0)] } ?? [], json: body.map { Array($0.utf8) }, port: port)
                }
                #expect(try await call("GET", "/v1/h2h/points-balance?customerUuid=\(expiring.uuid)", key: nil).status == 401)
                #expect(try await call("GET", "/v1/h2h/points-balance?customerUuid=\(expiring.uuid)", key: "nope").status == 401)
                let balance = try await call("GET", "/v1/h2h/points-balance?customerUuid=\(expiring.uuid)")
                #expect(balance.json["balance"] as? Int == 10 && balance.json["numOfPointsWillExpire"] as? Int == 10, "expired points do not count")
                let grant = #"{"customerUuid":"\#(expiring.uuid)","points":5,"refCode":"g-1"}"#
                #expect(try await call("POST", "/v1/h2h/grant-points", grant).json["code"] as? Int == 0)
                #expect(try await call("POST", "/v1/h2h/grant-points", grant).json["code"] as? Int == 0)
                #expect(double.balance(expiring.uuid) == 15 && double.appliedMoves == 1, "a refCode grants once")
                let reused = try await call("POST", "/v1/h2h/grant-points", #"{"customerUuid":"\#(expiring.uuid)","points":6,"refCode":"g-1"}"#)
                #expect(reused.status == 409 && reused.json["code"] as? Int == 1003)
                let overspend = try await call("POST", "/v1/h2h/use-points", #"{"customerUuid":"\#(expiring.uuid)","points":16,"refCode":"u-1"}"#)
                #expect(overspend.status == 200 && overspend.json["isSuccess"] as? Bool == false && double.balance(expiring.uuid) == 15)
                let missing = try await call("POST", "/v1/h2h/use-points", #"{"customerUuid":"\#(expiring.uuid)","refCode":"u-2"}"#)
                #expect(missing.status == 400 && (missing.json["message"] as? String)?.hasPrefix("points") == true)
                for identifier in ["E@EXAMPLE.COM", "%2B6500000000", "EXP1"] {
                    #expect(try await call("GET", "/v1/h2h/customer?identifier=\(identifier)").json["customerUuid"] as? String == expiring.uuid)
                }
                #expect(try await call("GET", "/v1/h2h/customer?identifier=ZZZZ").status == 404)

                #expect(try await call("POST", "/_sandbox/fail-next", key: nil, #"{"status":503}"#).status == 200)
                let injected = try await call("GET", "/v1/h2h/points-balance?customerUuid=\(expiring.uuid)")
                #expect(injected.status == 503 && injected.header("Content-Type")?.hasPrefix("text/html") == true)
                #expect(try await call("POST", "/_sandbox/fail-next", key: nil, #"{"times":2}"#).status == 400)
                let state = try await call("GET", "/_sandbox/state", key: nil)
                #expect((state.json["customers"] as? [[String: Any]])?.count == 2)
            }
        }
    }
}
