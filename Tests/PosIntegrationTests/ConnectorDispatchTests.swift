import Foundation
import Hummingbird
import PosDomain
import PosSandbox
import PosStorage
import Testing

/// Dispatch with `builtInTransformer` end to end: the service on a real SQLite file and loopback
/// port, each POS played by its contract-enforcing sandbox double.
@Suite("Built-in transformers end to end")
struct ConnectorDispatchTests {
    static let fast = RetrySchedule(delaysMs: [0, 20, 20, 20])!

    /// The service and the sandboxes, with `tenant` holding the keys.
    struct Rig {
        let service: TestService
        let sandboxes: PosSandboxes
        let origin: String
        let keys: TestService.TenantKeys

        func baseURL(_ slug: String) -> String { "\(origin)/\(slug)" }

        func connect(_ slug: String, apiKey: String? = nil, apiSecret: String = "", config: String = "{}",
                     settings: String? = nil, outletId: String = "store-uuid-123") async throws {
            let key = apiKey ?? ["oktopos": OktoPOSSandbox.defaultToken, "desibits": DesibitsSandbox.defaultToken,
                                 "revel": RevelSandbox.defaultAPIKey][slug]!
            let secret = slug == "revel" && apiSecret.isEmpty ? RevelSandbox.defaultAPISecret : apiSecret
            let saved = try await service.call("PUT", "/api/v1/provider-connections/\(slug)", key: keys.adminKey, json: Array("""
                {"status":"active","apiKey":\(JSONText.quoted(key)),"apiSecret":\(JSONText.quoted(secret)),"webhookUrl":"",\
                "baseUrl":\(JSONText.quoted(baseURL(slug))),"config":\(config)}
                """.utf8))
            #expect(saved.status == 200, "\(saved.text)")
            let mapped = try await service.call("PUT", "/api/v1/outlet-providers/\(outletId)", key: keys.adminKey, json: Array("""
                {"providerSlug":"\(slug)","externalId":"456","settings":\(settings ?? Fixtures.connectorSettings[slug]!)}
                """.utf8))
            #expect(mapped.status == 200, "\(mapped.text)")
        }

        func dispatch(_ slug: String, order: String = Fixtures.richOrder) async throws -> TestService.Reply {
            try await service.dispatch(Array("""
                {"outletId":"store-uuid-123","event":"order.paid","builtInTransformer":"\(slug)","order":\(order)}
                """.utf8), key: keys.internalKey)
        }

        func order(_ id: String) async throws -> [String: Any] {
            try await service.call("GET", "/api/v1/orders/\(id)", key: keys.internalKey).json
        }
    }

    static func withRig(schedule: RetrySchedule = fast, statusPollSchedule: RetrySchedule = .statusPolling,
                        _ body: (Rig) async throws -> Void) async throws {
        let sandboxes = PosSandboxes()
        try await withSandboxServer(sandboxes) { origin in
            try await withTestService(schedule: schedule, statusPollSchedule: statusPollSchedule) { service in
                try await body(Rig(service: service, sandboxes: sandboxes, origin: origin, keys: try await service.tenant("acme")))
            }
        }
    }

    static func deliveries(_ order: [String: Any]) -> [[String: Any]] { order["deliveries"] as? [[String: Any]] ?? [] }

    @Test("oktopos: the order arrives with its articles, decimal-string money and queue token; internalId becomes externalOrderId")
    func oktopos() async throws {
        try await Self.withRig { rig in
            try await rig.connect("oktopos")
            let reply = try await rig.dispatch("oktopos")
            #expect(reply.json["dispatched"] as? Bool == true, "\(reply.text)")
            #expect((reply.json["reason"] as? String)?.contains("externalOrderId 12345") == true, "\(reply.text)")
            let accepted = try #require(rig.sandboxes.oktopos.orders.first)
            #expect(rig.sandboxes.oktopos.orders.count == 1)
            #expect(accepted.orderId == "ord-7f3d2c1e-0000-4000-8000-000000000042")
            #expect(accepted.body["payment"]?["price"]?["value"] == .string("36.40"))
            #expect(accepted.body["pickup"]?["pickupToken"] == .string("B07"))
            let order = try await rig.order(try #require(reply.json["orderId"] as? String))
            #expect(order["externalOrderId"] as? String == "12345")
            #expect(Self.deliveries(order).first?["connector"] as? String == "oktopos")
        }
    }

    @Test("a repeated (order.uuid, event) is answered from the first result only when outletId, builtInTransformer and the order all match; otherwise 409 naming each difference")
    func idempotencyCoversTheRequest() async throws {
        try await Self.withRig { rig in
            try await rig.connect("revel")
            let body = { (outletId: String, transformer: String?, order: String) -> [UInt8] in
                Array("""
                    {"outletId":"\(outletId)","event":"order.paid",\(transformer.map { #""builtInTransformer":"\#($0)","# } ?? "")"order":\(order)}
                    """.utf8)
            }
            // First as the outlet's webhook would take it (no transformer): no webhook, so nothing is sent.
            let first = try await rig.service.dispatch(body("store-uuid-123", nil, Fixtures.richOrder), key: rig.keys.internalKey)
            #expect(first.status == 200, "\(first.text)")
            let same = try await rig.service.dispatch(body("store-uuid-123", nil, Fixtures.richOrder), key: rig.keys.internalKey)
            #expect(same.status == 200 && same.json["orderId"] as? String == first.json["orderId"] as? String, "\(same.text)")

            let changedOrder = Fixtures.richOrder.replacingOccurrences(of: "\"dailyQueueNo\":\"B07\"", with: "\"dailyQueueNo\":\"B08\"")
            #expect(changedOrder != Fixtures.richOrder)
            let cases: [(body: [UInt8], fields: [String])] = [
                (body("store-uuid-123", "revel", Fixtures.richOrder), ["builtInTransformer"]),
                (body("store-uuid-999", nil, Fixtures.richOrder), ["outletId"]),
                (body("store-uuid-123", nil, changedOrder), ["order"]),
                (body("store-uuid-999", nil, changedOrder), ["outletId", "order"]),
            ]
            for (request, fields) in cases {
                let reply = try await rig.service.dispatch(request, key: rig.keys.internalKey)
                #expect(reply.status == 409, "\(reply.text)")
                let message = reply.error["message"] as? String ?? ""
                #expect(message.hasSuffix("with a different \(fields.joined(separator: " and "))"), "\(reply.text)")
                let details = reply.error["details"] as? String ?? ""
                #expect(details.contains(first.json["orderId"] as? String ?? "?"), "\(reply.text)")
            }
            #expect(rig.sandboxes.revel.orders.isEmpty, "Revel never receives a replay of an order accepted without it")
            #expect(try await rig.service.stores.orderCount(tenantId: rig.keys.tenant.id) == 1)
        }
    }

    @Test("revel: the cart goes as text/plain with API-AUTHENTICATION; Revel's orderId becomes externalOrderId")
    func revel() async throws {
        try await Self.withRig { rig in
            try await rig.connect("revel")
            let reply = try await rig.dispatch("revel")
            #expect(reply.json["dispatched"] as? Bool == true, "\(reply.text)")
            let accepted = try #require(rig.sandboxes.revel.orders.first)
            #expect(accepted.establishmentId == 456)
            #expect(accepted.transactionId == "ord-7f3d2c1e-0000-4000-8000-000000000042")
            guard case .array(let items)? = accepted.body["items"], case .array(let modifiers)? = items.first?["modifieritems"] else {
                throw TestFailure("no items")
            }
            #expect(items.first?["price"] == .number("12.50"))
            #expect(modifiers.first?["modifier"] == .number("3001"))
            let order = try await rig.order(try #require(reply.json["orderId"] as? String))
            #expect(order["externalOrderId"] as? String == String(accepted.orderId))
        }
    }

    @Test("desibits: a payment failure mid-way is retried from the payment step; the POS ends with one order, paid, one KOT")
    func desibitsResumes() async throws {
        try await Self.withRig { rig in
            try await rig.connect("desibits")
            rig.sandboxes.desibits.failNext("/api/v1/pos/orders/{id}/payment", status: 503)
            let reply = try await rig.dispatch("desibits")
            #expect(reply.json["dispatched"] as? Bool == false, "\(reply.text)")
            #expect((reply.json["reason"] as? String)?.contains("HTTP 503") == true, "\(reply.text)")
            let delivered = await rig.service.events.first { $0.transition.status == .delivered }
            #expect(delivered?.attempt.attemptNumber == 2)

            let orders = rig.sandboxes.desibits.orders
            #expect(orders.count == 1, "the retry must not create a second order")
            #expect(orders.first?.paymentStatus == "paid")
            #expect(orders.first?.status == "kot")
            #expect(orders.first?.kots.count == 1)
            #expect(orders.first?.payments.first?.transactionId == "ord-7f3d2c1e-0000-4000-8000-000000000042")
            #expect(rig.sandboxes.desibits.requestCount("/api/v1/pos/orders") == 1)

            let order = try await rig.order(try #require(reply.json["orderId"] as? String))
            #expect(order["externalOrderId"] as? String == String(orders.first?.id ?? 0))
            let delivery = try #require(Self.deliveries(order).first)
            let attempts = delivery["attempts"] as? [[String: Any]] ?? []
            #expect(attempts.count == 2)
            #expect(attempts.first?["statusCode"] as? Int == 503 && attempts.first?["errorClass"] as? String == "http_status")
            let progress = delivery["progress"] as? [String: Any]
            #expect(progress?["orderNumber"] as? String == orders.first?.orderNumber)
            #expect(progress?["kotNumber"] as? String == "KOT-001")
        }
    }

    @Test("wrong credentials are an auth failure: not retried, dead-lettered, visible in the attempt")
    func wrongAuth() async throws {
        try await Self.withRig { rig in
            try await rig.connect("revel", apiSecret: "wrong-secret")
            let reply = try await rig.dispatch("revel")
            #expect(reply.json["dispatched"] as? Bool == false)
            #expect(rig.sandboxes.revel.orders.isEmpty)
            let orderId = try #require(reply.json["orderId"] as? String)
            let delivery = try #require(Self.deliveries(try await rig.order(orderId)).first)
            #expect(delivery["status"] as? String == "dead")
            let attempt = try #require((delivery["attempts"] as? [[String: Any]])?.first)
            #expect(attempt["errorClass"] as? String == "auth")
            #expect(attempt["statusCode"] as? Int == 403)
        }
    }

    @Test("an unmapped PLU dead-letters with the field named; after fixing the mapping a retry delivers")
    func mappingFixedThenReplayed() async throws {
        try await Self.withRig { rig in
            try await rig.connect("oktopos", settings: #"{"productMap":{"SKU-BURGER-01":101},"modifierMap":{"mo-extra-cheese":201},"distributionChannelId":35,"taxRateId":23,"timezone":"Asia/Singapore"}"#)
            let reply = try await rig.dispatch("oktopos")
            #expect(reply.json["dispatched"] as? Bool == false)
            #expect((reply.json["reason"] as? String)?.contains("order.items[1].plu") == true, "\(reply.text)")
            let orderId = try #require(reply.json["orderId"] as? String)
            let delivery = try #require(Self.deliveries(try await rig.order(orderId)).first)
            #expect(delivery["status"] as? String == "dead")
            #expect((delivery["attempts"] as? [[String: Any]])?.first?["errorClass"] as? String == "mapping")

            try await rig.connect("oktopos")
            let deliveryId = try #require(delivery["id"] as? String)
            let retry = try await rig.service.call("POST", "/api/v1/deliveries/\(deliveryId)/retry", key: rig.keys.internalKey)
            #expect(retry.status == 202)
            #expect(await rig.service.events.first { $0.transition.status == .delivered } != nil)
            #expect(rig.sandboxes.oktopos.orders.count == 1)
        }
    }

    @Test("unknown transformer, missing connection and missing outlet mapping are 400s naming what is missing; nothing is stored")
    func configurationErrors() async throws {
        try await Self.withRig { rig in
            let unknown = try await rig.dispatch("squarepos")
            #expect(unknown.status == 400 && unknown.error["field"] as? String == "builtInTransformer", "\(unknown.text)")
            let noConnection = try await rig.dispatch("revel")
            #expect(noConnection.status == 400 && noConnection.error["field"] as? String == "builtInTransformer")
            #expect((noConnection.error["message"] as? String)?.contains("the revel provider connection") == true, "\(noConnection.text)")
            try await rig.connect("revel", outletId: "another-outlet")
            let unmapped = try await rig.dispatch("revel")
            #expect(unmapped.status == 400 && unmapped.error["field"] as? String == "outletId", "\(unmapped.text)")
            #expect(try await rig.service.stores.orderCount(tenantId: rig.keys.tenant.id) == 0)
        }
    }

    @Test("provider connections: admin only, secrets masked and sealed at rest, real connection tests, Revel's outlets")
    func connections() async throws {
        try await Self.withRig { rig in
            let service = rig.service
            let forbidden = try await service.call("GET", "/api/v1/provider-connections", key: rig.keys.partnerKey)
            #expect(forbidden.status == 403)
            let unknown = try await service.call("PUT", "/api/v1/provider-connections/nope", key: rig.keys.adminKey,
                                                 json: Array(#"{"apiKey":"k","baseUrl":"https://x.test"}"#.utf8))
            #expect(unknown.status == 404)
            let badURL = try await service.call("PUT", "/api/v1/provider-connections/revel", key: rig.keys.adminKey,
                                                json: Array(#"{"apiKey":"k","baseUrl":"ftp://x"}"#.utf8))
            #expect(badURL.status == 400 && badURL.error["field"] as? String == "baseUrl")
            let noConnection = try await service.call("PUT", "/api/v1/outlet-providers/o-1", key: rig.keys.adminKey,
                                                      json: Array(#"{"providerSlug":"revel","externalId":456,"settings":{"establishmentId":456,"diningOption":2}}"#.utf8))
            #expect(noConnection.status == 400 && noConnection.error["field"] as? String == "providerSlug")

            try await rig.connect("revel")
            let listed = try await service.call("GET", "/api/v1/provider-connections", key: rig.keys.adminKey)
            #expect(!listed.text.contains(RevelSandbox.defaultAPISecret) && !listed.text.contains(RevelSandbox.defaultAPIKey), "\(listed.text)")
            let raw = try Data(contentsOf: URL(fileURLWithPath: service.databasePath))
            #expect(raw.range(of: Data(RevelSandbox.defaultAPISecret.utf8)) == nil, "secrets are sealed at rest")

            let badSetting = try await service.call("PUT", "/api/v1/outlet-providers/o-1", key: rig.keys.adminKey,
                                                    json: Array(#"{"providerSlug":"revel","externalId":"456","settings":{"establishmentId":456,"diningOption":2,"colour":"red"}}"#.utf8))
            #expect(badSetting.status == 400 && badSetting.error["field"] as? String == "settings.colour", "\(badSetting.text)")

            let tested = try await service.call("POST", "/api/v1/provider-connections/revel/test", key: rig.keys.adminKey)
            #expect(tested.json["success"] as? Bool == true, "\(tested.text)")
            let outlets = try await service.call("GET", "/api/v1/provider-connections/revel/remote-outlets", key: rig.keys.adminKey)
            #expect((outlets.json["outlets"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["456", "457"], "\(outlets.text)")

            try await rig.connect("desibits", apiKey: "not-the-token")
            let failed = try await service.call("POST", "/api/v1/provider-connections/desibits/test", key: rig.keys.adminKey)
            #expect(failed.json["success"] as? Bool == false && (failed.json["message"] as? String)?.contains("401") == true, "\(failed.text)")
            let unsupported = try await service.call("GET", "/api/v1/provider-connections/desibits/remote-outlets", key: rig.keys.adminKey)
            #expect(unsupported.status == 400)

            let deleted = try await service.call("DELETE", "/api/v1/provider-connections/desibits", key: rig.keys.adminKey)
            #expect(deleted.json["outletMappingsRemoved"] as? Int == 1, "\(deleted.text)")
        }
    }
}
