import Foundation
import NIOCore
import PosConnectors
import PosDomain
import PosSandbox
import PosStorage
import Testing

/// The Atlas Kitchen connector: its pure mapping (golden file), its time-zone slots, its webhook
/// reading, and end to end against the double — dispatch, the status webhook (delivered twice),
/// a lost answer, wrong credentials, the menu.
@Suite("Atlas Kitchen connector")
struct AtlasConnectorTests {
    /// Maps ``Fixtures/richOrder`` onto the double's default catalogue.
    static let settingsText = #"{"productMap":{"SKU-BURGER-01":7001,"SKU-FRIES-01":7002},"modifierMap":{"mo-extra-cheese":7101},"atlasOutletId":3,"channelId":1,"timezone":"Asia/Singapore"}"#
    static let config = #"{"merchantId":"\#(AtlasSandbox.defaultMerchantId)"}"#
    static let webhookToken = "atlas-hook-token"
    static let order = try! DispatchValidator.order(bytes: Array(Fixtures.richOrder.utf8))
    static let sgd = Currency(code: "SGD")!

    static func settings(_ text: String = settingsText) throws -> AtlasConnector.Settings {
        try AtlasConnector.Settings(JSONValue(parsing: text)!)
    }

    // MARK: Mapping

    @Test("mapping: integer cents, modifiers as sub_items, the free one a note, totals, tip in the payment, the outlet's local slot")
    func golden() throws {
        let body = try AtlasConnector.orderBody(Self.order, settings: try Self.settings())
        try ConnectorMappingTests.matchesGolden(body, "atlas-order-create")
        guard case .array(let items)? = body["order_items"], case .array(let subs)? = items.first?["sub_items"] else {
            throw TestFailure("no order_items")
        }
        #expect(items.count == 2, "the delivery fee is the order's delivery_fee, not a line")
        #expect(items[0]["item_id"] == .number("7001") && items[0]["price_cents"] == .number("1250") && items[0]["quantity"] == .number("2"))
        #expect(items[0]["notes"] == .string("No onions"))
        #expect(subs.count == 1 && subs[0]["item_id"] == .number("7101") && subs[0]["price_cents"] == .number("150"))
        #expect(body["delivery_fee"] == .number("350") && body["total"] == .number("3640") && body["subtotal"] == .number("3290"))
        #expect(body["order_payments"].flatMap { if case .array(let p) = $0 { p.first?["amount"] } else { nil } } == .number("3840"),
                "36.40 paid plus a 2.00 tip")
        // 2024-12-01T22:30:00+08:00 in Asia/Singapore.
        #expect(body["serving_date"] == .string("2024-12-01") && body["timeslot_start"] == .number("81000") && body["timeslot_end"] == .number("82800"))
        #expect(body["external_order_id"] == .string("ord-7f3d2c1e-0000-4000-8000-000000000042"))
        #expect(body["fulfilment_type"] == .string("delivery"))
    }

    static func millis(_ text: String) -> Int64 { RFC3339.parseMilliseconds(text)! }

    @Test("slots: the outlet's local date and wall-clock seconds, across midnight, on a day the clocks change, capped at the day's end")
    func slots() throws {
        let singapore = TimeZone(identifier: "Asia/Singapore")!
        let newYork = TimeZone(identifier: "America/New_York")!
        // 16:30 UTC is already tomorrow 00:30 in Singapore.
        #expect(AtlasConnector.servingSlot(at: Self.millis("2024-12-01T16:30:00Z"), zone: singapore)
                == .init(date: "2024-12-02", start: 1_800, end: 3_600))
        // 2024-03-10: New York skips 02:00–03:00; 15:00 EDT is 54000 as Atlas reads it (wall clock), not 50400 elapsed.
        #expect(AtlasConnector.servingSlot(at: Self.millis("2024-03-10T19:00:00Z"), zone: newYork)
                == .init(date: "2024-03-10", start: 54_000, end: 55_800))
        #expect(AtlasConnector.servingSlot(at: Self.millis("2024-11-03T05:30:00Z"), zone: newYork).start == 3_600 + 1_800,
                "01:30 EST on the day clocks go back")
        #expect(AtlasConnector.servingSlot(at: Self.millis("2024-12-01T15:50:00Z"), zone: singapore)
                == .init(date: "2024-12-01", start: 85_800, end: 86_400))
        // Milliseconds are dropped, before 1970 too.
        #expect(AtlasConnector.servingSlot(at: -1, zone: TimeZone(identifier: "UTC")!) == .init(date: "1969-12-31", start: 86_399, end: 86_400))
    }

    @Test("a currency without two decimal places is refused (Atlas takes cents); an unmapped PLU names the field")
    func refusals() throws {
        var kwd = Self.order
        let dinar = Currency(code: "KWD")!
        kwd.currency = dinar
        kwd.items[0].itemOnlyPrice = Money(minorUnits: 12_500, currency: dinar)
        let error = #expect(throws: ValidationError.self) { try AtlasConnector.orderBody(kwd, settings: try Self.settings()) }
        #expect(error?.field == "order.items[0].itemOnlyPrice" && error?.message.contains("cents") == true, "\(String(describing: error))")

        var settings = try Self.settings()
        settings.mapping.products["SKU-FRIES-01"] = nil
        #expect(throws: ValidationError(field: "order.items[1].plu", message: "\"SKU-FRIES-01\" has no entry in settings.productMap")) {
            try AtlasConnector.orderBody(Self.order, settings: settings)
        }
    }

    @Test("settings and config are validated and bad keys are named", arguments: [
        (#"{"atlasOutletId":3,"channelId":1}"#, "settings.timezone"),
        (#"{"atlasOutletId":3,"channelId":1,"timezone":"Mars/Olympus"}"#, "settings.timezone"),
        (#"{"atlasOutletId":3,"timezone":"UTC"}"#, "settings.channelId"),
        (#"{"atlasOutletId":"three","channelId":1,"timezone":"UTC"}"#, "settings.atlasOutletId"),
        (#"{"atlasOutletId":3,"channelId":1,"timezone":"UTC","productMap":{"SKU-1":"abc"}}"#, "settings.productMap.SKU-1"),
        (#"{"atlasOutletId":3,"channelId":1,"timezone":"UTC","deliveryFeeProductId":9}"#, "settings.deliveryFeeProductId"),
    ])
    func settingsValidation(_ settings: String, _ field: String) {
        let connector = AtlasConnector(exchange: POSExchange(transport: ConnectorMappingTests.unusedTransport, clock: { 0 }))
        let error = #expect(throws: ValidationError.self) { try connector.validate(settings: JSONValue(parsing: settings)!) }
        #expect(error?.field == field, "\(error?.message ?? "")")
    }

    @Test("config: merchantId is required and numeric; webhookHeader must be a header name", arguments: [
        ("{}", "config.merchantId"), (#"{"merchantId":"acme"}"#, "config.merchantId"),
        (#"{"merchantId":1,"webhookHeader":"X Bad"}"#, "config.webhookHeader"), (#"{"merchantId":1,"colour":"red"}"#, "config.colour"),
    ])
    func configValidation(_ config: String, _ field: String) {
        let connector = AtlasConnector(exchange: POSExchange(transport: ConnectorMappingTests.unusedTransport, clock: { 0 }))
        let error = #expect(throws: ValidationError.self) { try connector.validate(config: JSONValue(parsing: config)!) }
        #expect(error?.field == field, "\(error?.message ?? "")")
    }

    // MARK: Inbound webhooks

    static func webhook(_ body: String, headers: [(String, String)], config: String = config) -> InboundWebhook {
        InboundWebhook(headers: headers, body: Array(body.utf8), receivedAt: 0, config: JSONValue(parsing: config)!)
    }

    static let confirmed = #"{"event_type":"order.confirmed","event_at":1733063400,"payload":{"id":9001,"state":"confirmed","fulfilment_type":"delivery","external_order_id":"ord-1"}}"#

    @Test("webhooks: the Bearer token (or the configured header) is compared with webhookSecret; nothing unverified is read")
    func webhookAuth() throws {
        let connector = AtlasConnector(exchange: POSExchange(transport: ConnectorMappingTests.unusedTransport, clock: { 0 }))
        let bearer = [("Authorization", "Bearer \(Self.webhookToken)")]
        guard case .statusUpdates(let updates) = try connector.readInbound(Self.webhook(Self.confirmed, headers: bearer), webhookSecret: Self.webhookToken)
        else { throw TestFailure("not read") }
        #expect(updates == [OrderStatusUpdate(externalOrderId: "9001", orderUUID: "ord-1", status: .accepted, posStatus: "order.confirmed (confirmed)",
                                              occurredAt: 1_733_063_400_000, eventId: "order.confirmed|1733063400|9001|confirmed")])
        for (headers, secret) in [([("Authorization", "Bearer wrong")], Self.webhookToken), ([], Self.webhookToken),
                                  ([("Authorization", Self.webhookToken)], Self.webhookToken), (bearer, "")] {
            #expect(throws: InboundWebhookRejection.self) {
                try connector.readInbound(Self.webhook(Self.confirmed, headers: headers), webhookSecret: secret)
            }
        }
        let custom = #"{"merchantId":"1001","webhookHeader":"X-Atlas-Token"}"#
        _ = try connector.readInbound(Self.webhook(Self.confirmed, headers: [("x-atlas-token", Self.webhookToken)], config: custom),
                                      webhookSecret: Self.webhookToken)
        #expect(throws: InboundWebhookRejection.self) {
            try connector.readInbound(Self.webhook(Self.confirmed, headers: bearer, config: custom), webhookSecret: Self.webhookToken)
        }
    }

    @Test("webhooks: event types and states map to our statuses; other events are ignored; a bad body is unreadable", arguments: [
        ("order.confirmed", "confirmed", "pickup", OrderStatus?.some(.accepted)),
        ("order.dispatched", "dispatched", "delivery", .driverPickedUp),
        ("order.dispatched", "dispatched", "pickup", .ready),
        ("order.completed", "completed", "pickup", .completed),
        ("order.cancelled", "cancelled", "pickup", .cancelled),
        ("order.updated", "preparing", "pickup", .inProgress),
        ("order.updated", "unpaid", "pickup", nil),
        ("order.created", "pending", "pickup", nil),
    ])
    func eventMapping(_ type: String, _ state: String, _ fulfilment: String, _ expected: OrderStatus?) throws {
        let body = #"{"event_type":"\#(type)","event_at":"2024-12-01T14:30:00Z","payload":{"id":9001,"state":"\#(state)","fulfilment_type":"\#(fulfilment)"}}"#
        guard case .statusUpdates(let updates) = try AtlasConnector.read(Array(body.utf8)) else { throw TestFailure("not read") }
        #expect(updates.first?.status == expected && updates.first?.occurredAt == 1_733_063_400_000)
    }

    @Test("webhooks: menu and stock events are ignored; bodies without an order id or with a bad event_at are unreadable")
    func eventEdges() throws {
        #expect(try AtlasConnector.read(Array(#"{"event_type":"stock.updated","event_at":1,"payload":{"item_id":15}}"#.utf8))
                == .ignored(reason: "Atlas event stock.updated carries no order status"))
        for body in [#"{"event_type":"order.confirmed","payload":{"state":"confirmed"}}"#, #"[1]"#,
                     #"{"event_type":"order.confirmed","event_at":true,"payload":{"id":1}}"#, #"{"payload":{"id":1}}"#] {
            #expect(throws: InboundWebhookRejection.self) { try AtlasConnector.read(Array(body.utf8)) }
        }
    }

    // MARK: End to end

    struct Rig {
        let rig: ConnectorDispatchTests.Rig
        var service: TestService { rig.service }
        var sandbox: AtlasSandbox { rig.sandboxes.atlas }

        /// Connects Atlas (with `webhookSecret`) and maps the outlet; returns the connection's inbound URL.
        @discardableResult
        func connect(apiKey: String = AtlasSandbox.defaultAPIKey, config: String = AtlasConnectorTests.config,
                     settings: String = AtlasConnectorTests.settingsText) async throws -> String {
            let saved = try await service.call("PUT", "/api/v1/provider-connections/atlas", key: rig.keys.adminKey, json: Array("""
                {"status":"active","apiKey":\(JSONText.quoted(apiKey)),"webhookUrl":"","baseUrl":\(JSONText.quoted(rig.baseURL("atlas"))),\
                "webhookSecret":\(JSONText.quoted(AtlasConnectorTests.webhookToken)),"config":\(config)}
                """.utf8))
            #expect(saved.status == 200, "\(saved.text)")
            let connection = try #require(saved.json["connection"] as? [String: Any], "\(saved.text)")
            #expect(connection["webhookSecret"] as? String == "****", "\(saved.text)")
            let mapped = try await service.call("PUT", "/api/v1/outlet-providers/store-uuid-123", key: rig.keys.adminKey, json: Array("""
                {"providerSlug":"atlas","externalId":"3","settings":\(settings)}
                """.utf8))
            #expect(mapped.status == 200, "\(mapped.text)")
            return try #require(connection["inboundUrl"] as? String)
        }

        /// The order's status history after the implied PAID entry.
        func history(_ orderId: String) async throws -> [[String: Any]] {
            Array((try await rig.order(orderId)["statusHistory"] as? [[String: Any]] ?? []).dropFirst())
        }
    }

    static func withRig(deliveryTimeout: TimeAmount = .seconds(5), _ body: (Rig) async throws -> Void) async throws {
        let sandboxes = PosSandboxes()
        try await withSandboxServer(sandboxes) { origin in
            try await withTestService(schedule: ConnectorDispatchTests.fast, deliveryTimeout: deliveryTimeout) { service in
                let keys = try await service.tenant("acme")
                try await body(Rig(rig: ConnectorDispatchTests.Rig(service: service, sandboxes: sandboxes, origin: origin, keys: keys)))
            }
        }
    }

    @Test("dispatch: the order reaches Atlas in cents with both headers; the status webhook moves it; its duplicate changes nothing")
    func endToEnd() async throws {
        try await Self.withRig { rig in
            let inboundUrl = try await rig.connect()
            #expect(inboundUrl.hasPrefix("\(rig.service.baseURL)/api/v1/inbound/atlas/order-status/"))
            let reply = try await rig.rig.dispatch("atlas")
            #expect(reply.json["dispatched"] as? Bool == true, "\(reply.text)")
            let created = try #require(rig.sandbox.orders.first)
            #expect(rig.sandbox.orders.count == 1)
            #expect(created.externalOrderId == "ord-7f3d2c1e-0000-4000-8000-000000000042" && created.outletId == 3 && created.channelId == 1)
            #expect(created.body["total"] == .number("3640") && created.body["serving_date"] == .string("2024-12-01"))
            let orderId = try #require(reply.json["orderId"] as? String)
            #expect(try await rig.rig.order(orderId)["externalOrderId"] as? String == String(created.id))

            rig.sandbox.configureWebhook(url: inboundUrl, token: Self.webhookToken)
            let confirmed = try await rig.sandbox.sendEvent(orderId: created.id, eventType: "order.confirmed")
            #expect(confirmed.count == 2 && confirmed.allSatisfy { $0.status == 200 }, "\(confirmed.map(\.responseBody))")
            #expect(confirmed[1].responseBody.contains("duplicate"), "\(confirmed[1].responseBody)")
            var order = try await rig.rig.order(orderId)
            #expect(order["status"] as? String == "ACCEPTED")
            #expect(try await rig.history(orderId).count == 1)

            let dispatched = try await rig.sandbox.sendEvent(orderId: created.id, eventType: "order.dispatched")
            #expect(dispatched.allSatisfy { $0.status == 200 })
            order = try await rig.rig.order(orderId)
            #expect(order["status"] as? String == "DRIVER_PICKED_UP", "a delivery order dispatched is on its way with the driver")
            let history = try await rig.history(orderId)
            #expect(history.map { $0["status"] as? String } == ["ACCEPTED", "DRIVER_PICKED_UP"])
            #expect(history.allSatisfy { $0["source"] as? String == "pos:atlas" })

            // The confirmation arrives once more, late: without dedupe it would be a stale history entry.
            let late = try await rig.service.call("POST", String(inboundUrl.dropFirst(rig.service.baseURL.count)),
                                                  headers: [("Authorization", "Bearer \(Self.webhookToken)")], json: confirmed[0].body)
            #expect(late.status == 200 && late.json["message"] as? String == "duplicate event; already received", "\(late.text)")
            #expect(try await rig.history(orderId).count == 2, "a duplicate adds nothing to history")
            #expect(try await rig.rig.order(orderId)["version"] as? Int == order["version"] as? Int)

            // A wrong token is refused and changes nothing.
            let forged = try await rig.service.call("POST", String(inboundUrl.dropFirst(rig.service.baseURL.count)),
                                                    headers: [("Authorization", "Bearer not-the-token")],
                                                    json: Array(#"{"event_type":"order.cancelled","event_at":1,"payload":{"id":\#(created.id)}}"#.utf8))
            #expect(forged.status == 401)
            #expect(try await rig.rig.order(orderId)["status"] as? String == "DRIVER_PICKED_UP")

            let log = try await rig.service.call("GET", "/api/v1/inbound-requests", key: rig.rig.keys.adminKey)
            let outcomes = (log.json["requests"] as? [[String: Any]] ?? []).map { $0["outcome"] as? String ?? "" }
            #expect(outcomes == ["unverified", "duplicate", "duplicate", "applied", "duplicate", "applied"], "\(outcomes)")
            #expect(!log.text.contains(Self.webhookToken), "the token is masked in the log")
        }
    }

    @Test("lost answer (504 after creating): the retry looks the order up and creates nothing; Atlas has one order")
    func lostAnswer() async throws {
        try await Self.withRig { rig in
            try await rig.connect()
            rig.sandbox.loseNextAnswers(times: 1)
            let reply = try await rig.rig.dispatch("atlas")
            #expect(reply.json["dispatched"] as? Bool == false, "\(reply.text)")
            #expect(await rig.service.events.first { $0.transition.status == .delivered } != nil)
            #expect(rig.sandbox.orders.count == 1, "the retry must not create a second order")
            #expect(rig.sandbox.requestCount("POST /outlets/{outlet_id}/channels/{channel_id}/orders") == 1)
            #expect(rig.sandbox.requestCount("/orders/identifier/{identifier}") == 1)
            let orderId = try #require(reply.json["orderId"] as? String)
            let order = try await rig.rig.order(orderId)
            #expect(order["externalOrderId"] as? String == String(rig.sandbox.orders[0].id))
            let attempts = ConnectorDispatchTests.deliveries(order).first?["attempts"] as? [[String: Any]] ?? []
            #expect(attempts.map { $0["statusCode"] as? Int } == [504, 200])
            #expect((attempts.last?["responseExcerpt"] as? String)?.contains("found by lookup") == true, "\(attempts)")
        }
    }

    @Test("lost answer (no answer before our timeout): the retry looks the order up and creates nothing")
    func timedOut() async throws {
        // Generous against a loaded machine: our timeout must pass well before the double answers, and
        // the retry's own calls must fit in it.
        try await Self.withRig(deliveryTimeout: .milliseconds(1_500)) { rig in
            try await rig.connect()
            rig.sandbox.loseNextAnswers(times: 1, hold: .seconds(4))
            let reply = try await rig.rig.dispatch("atlas")
            #expect(reply.json["dispatched"] as? Bool == false, "\(reply.text)")
            #expect(await rig.service.events.first(timeoutSeconds: 20) { $0.transition.status == .delivered } != nil)
            #expect(rig.sandbox.orders.count == 1, "the retry must not create a second order")
            let order = try await rig.rig.order(try #require(reply.json["orderId"] as? String))
            let attempts = ConnectorDispatchTests.deliveries(order).first?["attempts"] as? [[String: Any]] ?? []
            #expect(attempts.first?["errorClass"] as? String == "timeout", "\(attempts)")
            #expect(attempts.last?["statusCode"] as? Int == 200, "\(attempts)")
        }
    }

    @Test("a retry whose lookup finds nothing creates the order (the earlier attempt never reached Atlas)")
    func lookupFindsNothing() async throws {
        try await Self.withRig { rig in
            try await rig.connect()
            rig.sandbox.failNext("POST /outlets/{outlet_id}/channels/{channel_id}/orders", status: 503)
            let reply = try await rig.rig.dispatch("atlas")
            #expect(reply.json["dispatched"] as? Bool == false)
            #expect(await rig.service.events.first { $0.transition.status == .delivered } != nil)
            #expect(rig.sandbox.orders.count == 1)
            #expect(rig.sandbox.requestCount("/orders/identifier/{identifier}") == 1)
            #expect(rig.sandbox.requestCount("POST /outlets/{outlet_id}/channels/{channel_id}/orders") == 2)
        }
    }

    @Test("wrong credentials (key or merchant) are an auth failure: not retried, dead-lettered, the reason visible", arguments: [
        (AtlasSandbox.defaultAPIKey + "-wrong", AtlasConnectorTests.config),
        (AtlasSandbox.defaultAPIKey, #"{"merchantId":"2002"}"#),
    ])
    func wrongCredentials(_ apiKey: String, _ config: String) async throws {
        try await Self.withRig { rig in
            try await rig.connect(apiKey: apiKey, config: config)
            let reply = try await rig.rig.dispatch("atlas")
            #expect(reply.json["dispatched"] as? Bool == false)
            #expect((reply.json["reason"] as? String)?.contains("valid credentials") == true, "\(reply.text)")
            #expect(rig.sandbox.orders.isEmpty)
            let orderId = try #require(reply.json["orderId"] as? String)
            let delivery = try #require(ConnectorDispatchTests.deliveries(try await rig.rig.order(orderId)).first)
            #expect(delivery["status"] as? String == "dead")
            let attempts = delivery["attempts"] as? [[String: Any]] ?? []
            #expect(attempts.count == 1)
            #expect(attempts.first?["errorClass"] as? String == "auth" && attempts.first?["statusCode"] as? Int == 401)
            let tested = try await rig.service.call("POST", "/api/v1/provider-connections/atlas/test", key: rig.rig.keys.adminKey)
            #expect(tested.json["success"] as? Bool == false && (tested.json["message"] as? String)?.contains("401") == true, "\(tested.text)")
        }
    }

    @Test("the connection test and the capability list")
    func connectionTest() async throws {
        try await Self.withRig { rig in
            try await rig.connect()
            let tested = try await rig.service.call("POST", "/api/v1/provider-connections/atlas/test", key: rig.rig.keys.adminKey)
            #expect(tested.json["success"] as? Bool == true, "\(tested.text)")
            let registry = ConnectorRegistry.builtIn(exchange: POSExchange(transport: ConnectorMappingTests.unusedTransport, clock: { 0 }))
            #expect(registry.capabilities("atlas") == [.dispatchOrder, .inboundStatus, .menuImport, .testConnection])
        }
    }

    // MARK: Menu import

    static func menuRequest(_ origin: String, key: String = AtlasSandbox.defaultAPIKey) -> POSMenuRequest {
        POSMenuRequest(externalOutletId: "3", settings: JSONValue(parsing: settingsText)!,
                       access: ProviderAccess(baseUrl: "\(origin)/atlas", webhookUrl: "", config: JSONValue(parsing: config)!,
                                              credentials: StaticCredentialSource(key: key, secret: "")),
                       currency: sgd)
    }

    @Test("menu import: published menus only, archived products left out, sub-sections as categories, modifier groups with their items")
    func menuImport() async throws {
        let sandboxes = PosSandboxes()
        try await withSandboxServer(sandboxes) { origin in
            let connector = AtlasConnector(exchange: POSExchange(transport: MenuImportConnectorTests.transport, clock: { 0 }))
            let menu = try await connector.importMenu(Self.menuRequest(origin))
            #expect(menu.products.map(\.externalId) == ["7001", "7002", "7003"])
            #expect(menu.products.map(\.category) == ["Burgers", "Sides", "Drinks"])
            #expect(menu.products[0].plu == "SKU-BURGER-01" && menu.products[0].price == Money(minorUnits: 1250, currency: Self.sgd))
            #expect(menu.products[0].modifierGroupIds == ["8101", "8102"])
            #expect(menu.modifierGroups.map(\.externalId) == ["8101", "8102"])
            #expect(menu.modifierGroups[0].options.map(\.externalId) == ["7101"] && menu.modifierGroups[0].maxSelections == 1)
            #expect(menu.modifierGroups[1].maxSelections == nil, "0 is no maximum")
            #expect(sandboxes.atlas.requestCount("/menus/{menu_id}") == 1, "the draft menu is not read")
            // Every id the settings map is imported with its PLU.
            for (plu, id) in try Self.settings().mapping.products {
                #expect(menu.products.first { $0.externalId == id.idText }?.plu == plu)
            }

            let refused = await MenuImportConnectorTests.failure { () async throws(ConnectorFailure) -> ImportedMenu in
                try await connector.importMenu(Self.menuRequest(origin, key: "wrong"))
            }
            #expect(refused?.isAuthFailure == true && refused?.message.contains("401") == true, "\(String(describing: refused))")

            // The golden pair: the double's menu details in, our menu out.
            let detail = AtlasSandbox.menuDetails(AtlasSandbox.defaultCatalogue.menus[0], catalogue: AtlasSandbox.defaultCatalogue)
            try ConnectorMappingTests.matchesGolden(.array([detail]), "atlas-menu-input")
            let pinned = try AtlasConnector.importedMenu(try MenuImportConnectorTests.golden("atlas-menu-input"), currency: Self.sgd)
            #expect(pinned == menu)
            try ConnectorMappingTests.matchesGolden(pinned.json, "atlas-menu")
        }
    }

    // MARK: The double

    @Test("the double: both headers, cent integers, serving_date format, known item_ids, known outlet and channel")
    func doubleEnforces() async throws {
        try await Self.withRig { rig in
            let base = "\(rig.rig.origin)/atlas"
            let client = MenuImportConnectorTests.transport
            let good = try AtlasConnector.orderBody(Self.order, settings: try Self.settings())
            func post(_ body: JSONValue, path: String = "/outlets/3/channels/1/orders",
                      headers: [(String, String)] = [("X-Api-Key", AtlasSandbox.defaultAPIKey), ("X-Merchant-Id", AtlasSandbox.defaultMerchantId)])
            async throws -> (Int, JSONValue?) {
                let response = try await client.send(method: .POST, url: base + path, headers: headers + [("Content-Type", "application/json")],
                                                     body: body.bytes)
                return (response.status, try? JSONValue(JSONParser.parse(response.body)))
            }
            func replacing(_ key: String, with value: JSONValue) -> JSONValue {
                guard case .object(let members) = good else { return good }
                return .object(members.map { $0.0 == key ? ($0.0, value) : $0 })
            }
            #expect(try await post(good, headers: [("X-Api-Key", AtlasSandbox.defaultAPIKey)]).0 == 401)
            let (status, unauthorized) = try await post(good, headers: [("X-Merchant-Id", AtlasSandbox.defaultMerchantId)])
            #expect(status == 401 && unauthorized?["type"] == .string("Unauthorized"))
            let (money, moneyError) = try await post(replacing("total", with: .number("36.40")))
            #expect(money == 422 && moneyError?["error_hash"]?["total"]?.stringValue?.contains("wrong money representation") == true)
            let (date, dateError) = try await post(replacing("serving_date", with: .string("01/12/2024")))
            #expect(date == 422 && dateError?["error_hash"]?["serving_date"] != nil)
            let unknownItem = JSONValue.array([.object([("item_id", .number("999")), ("quantity", .number("1")), ("price_cents", .number("100"))])])
            let (item, itemError) = try await post(replacing("order_items", with: unknownItem))
            #expect(item == 422 && itemError?["error_hash"]?["order_items[0].item_id"] == .string("unknown item 999"))
            #expect(try await post(good, path: "/outlets/4/channels/1/orders").0 == 404)
            #expect(try await post(good, path: "/outlets/3/channels/9/orders").0 == 404)
            #expect(rig.sandbox.orders.isEmpty)
            // No idempotency, as Atlas: the same external_order_id twice is two orders.
            #expect(try await post(good).0 == 201)
            #expect(try await post(good).0 == 201)
            #expect(rig.sandbox.orders.count == 2)
        }
    }
}

@Suite("Store contract: inbound POS events")
struct InboundEventStoreContractTests {
    @Test("an event is recorded once per tenant and provider; the first record wins", arguments: StoreEngines.all)
    func recordOnce(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            let tenant = StoreContractTests.tenant
            try await stores.createTenant(tenant, createdAt: 1)
            #expect(try await stores.inboundEvent(tenantId: tenant.id, provider: "atlas", eventKey: "e1") == nil)
            let first = InboundEventRecord(tenantId: tenant.id, provider: "atlas", eventKey: "e1", outcome: "applied", orderId: "o-1", receivedAt: 10)
            #expect(try await stores.recordInboundEvent(first))
            var again = first
            again.outcome = "unchanged"
            again.receivedAt = 20
            #expect(try await stores.recordInboundEvent(again) == false)
            #expect(try await stores.inboundEvent(tenantId: tenant.id, provider: "atlas", eventKey: "e1") == first)
            #expect(try await stores.inboundEvent(tenantId: tenant.id, provider: "revel", eventKey: "e1") == nil)
            #expect(try await stores.inboundEvent(tenantId: "someone-else", provider: "atlas", eventKey: "e1") == nil)
            var other = first
            other.provider = "revel"
            other.orderId = nil
            #expect(try await stores.recordInboundEvent(other))
            #expect(try await stores.inboundEvent(tenantId: tenant.id, provider: "revel", eventKey: "e1")?.orderId == nil)
        }
    }
}
