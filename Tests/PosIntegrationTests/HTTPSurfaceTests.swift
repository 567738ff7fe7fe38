import Foundation
import PosHTTP
import Testing

@Suite("HTTP surface")
struct HTTPSurfaceTests {
    @Test("health, readiness and request ids")
    func healthAndReady() async throws {
        try await withTestService { service in
            let health = try await service.call("GET", "/health")
            #expect(health.status == 200)
            #expect(health.json["status"] as? String == "healthy")
            #expect(health.header("X-Request-ID")?.isEmpty == false)
            let ready = try await service.call("GET", "/ready", headers: [("X-Request-ID", "trace-123")])
            #expect(ready.status == 200)
            #expect(ready.header("X-Request-ID") == "trace-123")
            let unsafe = try await service.call("GET", "/health", headers: [("X-Request-ID", String(repeating: "x", count: 300))])
            #expect(unsafe.header("X-Request-ID")?.count == 36)
        }
    }

    @Test("/ready answers 503 with the envelope once the database is gone")
    func readyFailsWithoutDatabase() async throws {
        try await withTestService { service in
            await service.stores.shutdown()
            let ready = try await service.call("GET", "/ready")
            #expect(ready.status == 503)
            #expect(ready.error["code"] as? Int == 503)
        }
    }

    @Test("unknown route is 404 and wrong method 405, both with the envelope")
    func notFoundAndMethodNotAllowed() async throws {
        try await withTestService { service in
            let missing = try await service.call("GET", "/api/v1/nothing")
            #expect(missing.status == 404)
            #expect(missing.error["code"] as? Int == 404)
            #expect(missing.error["field"] as? String == "")
            let wrongMethod = try await service.call("DELETE", "/api/v1/orders/dispatch")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.error["code"] as? Int == 405)
            // GET matches too: /api/v1/orders/{orderId} with orderId "dispatch".
            #expect(wrongMethod.header("Allow")?.contains("POST") == true)
            let wrongMethodWithParameter = try await service.call("POST", "/api/v1/orders/some-id")
            #expect(wrongMethodWithParameter.status == 405)
            #expect(wrongMethodWithParameter.header("Allow") == "GET")
        }
    }

    @Test("the OpenAPI document lists exactly the routes the router serves")
    func openAPIMatchesRoutes() async throws {
        try await withTestService { service in
            let reply = try await service.call("GET", "/openapi.json")
            #expect(reply.status == 200)
            #expect(reply.json["openapi"] as? String == "3.1.0")
            let paths = try #require(reply.json["paths"] as? [String: [String: Any]])
            let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options"]
            var documented = Set<String>()
            for (path, operations) in paths {
                for method in operations.keys where methods.contains(method) { documented.insert("\(method.uppercased()) \(path)") }
            }
            let served = Set(service.routes.routes.map { "\($0.method.rawValue) \($0.path)" })
            #expect(documented == served, "undocumented: \(served.subtracting(documented)); not served: \(documented.subtracting(served))")
        }
    }

    @Test("webhook event catalogue needs no key")
    func eventCatalogue() async throws {
        try await withTestService { service in
            let reply = try await service.call("GET", "/api/v1/webhooks/events")
            #expect(reply.status == 200)
            let events = try #require(reply.json["events"] as? [[String: Any]])
            #expect(events.contains { $0["name"] as? String == "order.paid" })
        }
    }

    @Test("wrong content type, oversized, malformed and non-object bodies get their own 4xx")
    func bodyProblems() async throws {
        try await withTestService(maxBodyBytes: 4096) { service in
            let acme = try await service.tenant("acme")
            let wrongType = try await service.call("POST", "/api/v1/orders/dispatch", key: acme.internalKey,
                                                   json: Fixtures.dispatchBody(), contentType: "text/plain")
            #expect(wrongType.status == 415)
            #expect(wrongType.error["code"] as? Int == 415)
            let tooLarge = try await service.dispatch(Array(repeating: UInt8(ascii: " "), count: 5000) + Fixtures.dispatchBody(),
                                                      key: acme.internalKey)
            #expect(tooLarge.status == 413)
            #expect(tooLarge.error["code"] as? Int == 413)
            let malformed = try await service.dispatch(Array(#"{"outletId": "#.utf8), key: acme.internalKey)
            #expect(malformed.status == 400)
            #expect((malformed.error["message"] as? String)?.contains("not valid JSON") == true)
            let array = try await service.dispatch(Array("[]".utf8), key: acme.internalKey)
            #expect(array.status == 400)
            #expect(array.error["message"] as? String == "request body must be a JSON object")
            let invalid = try await service.dispatch(
                Fixtures.encode(ValidationTableTests.apply(.remove, at: ValidationTableTests.parse("order.items[0].modifiers[0].price"),
                                                           to: Fixtures.tree())), key: acme.internalKey)
            #expect(invalid.status == 400)
            #expect(invalid.error["field"] as? String == "order.items[0].modifiers[0].price")
            #expect(try await service.stores.orderCount(tenantId: acme.tenant.id) == 0, "nothing is written for a rejected body")
        }
    }

    @Test("every success envelope is {code, isSuccess, message} beside its payload, code mirroring the status")
    func successEnvelopes() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            func expectEnvelope(_ reply: TestService.Reply, status: Int, message: String, payload: Set<String>,
                                sourceLocation: SourceLocation = #_sourceLocation) {
                #expect(reply.status == status, "\(reply.text)", sourceLocation: sourceLocation)
                #expect(reply.json["code"] as? Int == status, sourceLocation: sourceLocation)
                #expect(reply.json["isSuccess"] as? Bool == true, sourceLocation: sourceLocation)
                #expect(reply.json["message"] as? String == message, sourceLocation: sourceLocation)
                #expect(Set(reply.json.keys) == payload.union(["code", "isSuccess", "message"]), sourceLocation: sourceLocation)
            }

            let notDispatched = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            let orderId = try #require(notDispatched.json["orderId"] as? String)
            #expect(notDispatched.text == #"{"code":200,"dispatched":false,"isSuccess":true,"message":"order persisted; not dispatched","#
                + #""orderId":"\#(orderId)","reason":"no active webhook for outlet"}"#)

            let registered = try await service.call("POST", "/api/v1/webhooks/register", key: acme.partnerKey, json: Array("""
                {"outletId":"o-2","provider":"acme-pos","callbackUrl":"\(receiver.url)","events":["order.paid"]}
                """.utf8))
            expectEnvelope(registered, status: 201, message: "webhook registered", payload: ["webhook", "ping"])
            let webhookId = try #require((registered.json["webhook"] as? [String: Any])?["id"] as? Int)
            let rotated = try await service.call("POST", "/api/v1/webhooks/\(webhookId)/rotate-secret", key: acme.partnerKey)
            expectEnvelope(rotated, status: 200, message: "secret rotated", payload: ["webhook", "secret", "previousSecretValidUntil"])

            let dispatched = try await service.dispatch(Fixtures.dispatchBody(order: Fixtures.order(uuid: "ord-2"), outletId: "o-2"),
                                                        key: acme.internalKey)
            expectEnvelope(dispatched, status: 200, message: "order dispatched", payload: ["orderId", "dispatched", "reason"])
            let order = try await service.call("GET", "/api/v1/orders/\(try #require(dispatched.json["orderId"] as? String))", key: acme.internalKey)
            let deliveryId = try #require((order.json["deliveries"] as? [[String: Any]])?.first?["id"] as? String)
            let retried = try await service.call("POST", "/api/v1/deliveries/\(deliveryId)/retry", key: acme.internalKey)
            expectEnvelope(retried, status: 202, message: "delivery queued for an attempt now", payload: ["delivery"])
            let recovered = try await service.call("POST", "/api/v1/deliveries/recover", key: acme.internalKey,
                                                   json: Array(#"{"since":"2020-01-01T00:00:00Z"}"#.utf8))
            expectEnvelope(recovered, status: 202, message: "deliveries queued for an attempt now", payload: ["requeued"])
            let deleted = try await service.call("DELETE", "/api/v1/webhooks/\(webhookId)", key: acme.partnerKey)
            expectEnvelope(deleted, status: 200, message: "webhook deleted", payload: ["deliveriesDeadLettered"])

            let saved = try await service.call("PUT", "/api/v1/provider-connections/revel", key: acme.adminKey, json: Array("""
                {"apiKey":"revel-key","apiSecret":"revel-secret","baseUrl":"http://127.0.0.1:9/revel"}
                """.utf8))
            expectEnvelope(saved, status: 200, message: "provider connection created", payload: ["connection"])
            let mapped = try await service.call("PUT", "/api/v1/outlet-providers/o-3", key: acme.adminKey, json: Array("""
                {"providerSlug":"revel","externalId":456,"settings":\(Fixtures.connectorSettings["revel"]!)}
                """.utf8))
            expectEnvelope(mapped, status: 200, message: "outlet mapped to revel", payload: ["outletProvider"])
            let removed = try await service.call("DELETE", "/api/v1/provider-connections/revel", key: acme.adminKey)
            expectEnvelope(removed, status: 200, message: "provider connection deleted", payload: ["outletMappingsRemoved"])
        }
    }
}
