import Foundation
import NIOCore
import PosConnectors
import PosDomain
import PosSandbox
import PosServices
import PosStorage
import Testing

/// The Deliverect connector (we are the ordering channel): its pure mapping (golden files, a 3-decimal
/// currency), its webhook reading, and end to end against the double — the OAuth token kept across
/// dispatches, 201 = received, the signed status webhook moving the order, cancel, 429, wrong credentials.
@Suite("Deliverect connector")
struct DeliverectConnectorTests {
    static let channelLinkId = DeliverectSandbox.defaultChannelLinkIds[0]
    static let settingsText = #"{"productMap":{"SKU-BURGER-01":"PLU-BURGER","SKU-FRIES-01":"PLU-FRIES"},"modifierMap":{"mo-extra-cheese":"PLU-CHEESE"},"channelLinkId":"\#(channelLinkId)"}"#
    static let config = #"{"channelName":"\#(DeliverectSandbox.defaultChannelName)"}"#
    static let webhookSecret = "deliverect-hook-secret"
    static let order = try! DispatchValidator.order(bytes: Array(Fixtures.richOrder.utf8))

    /// ``Fixtures/richOrder`` in Kuwaiti dinars (three decimal places): 12.5 is 12500 fils.
    static let kwdOrder = try! DispatchValidator.order(bytes: Array(Fixtures.richOrder.replacingOccurrences(of: #""currency":"SGD""#,
                                                                                                            with: #""currency":"KWD""#).utf8))

    static func settings(_ text: String = settingsText) throws -> DeliverectConnector.Settings {
        try DeliverectConnector.Settings(JSONValue(parsing: text)!)
    }

    static let connector = DeliverectConnector(exchange: POSExchange(transport: ConnectorMappingTests.unusedTransport, clock: { 0 }))

    // MARK: Mapping

    @Test("mapping: integer minor units with decimalDigits, PLUs, modifiers as subItems, the free one a remark, tip, delivery cost, orderType")
    func golden() throws {
        let body = try DeliverectConnector.orderBody(Self.order, settings: try Self.settings())
        try ConnectorMappingTests.matchesGolden(body, "deliverect-order-create")
        guard case .array(let items)? = body["items"], case .array(let subs)? = items.first?["subItems"] else { throw TestFailure("no items") }
        #expect(items.count == 2, "the delivery fee is deliveryCost, not a line")
        #expect(items[0]["plu"] == .string("PLU-BURGER") && items[0]["price"] == .number("1250") && items[0]["quantity"] == .number("2"))
        #expect(items[0]["remark"] == .string("No onions"))
        #expect(subs.count == 1 && subs[0]["plu"] == .string("PLU-CHEESE") && subs[0]["price"] == .number("150"))
        #expect(body["decimalDigits"] == .number("2") && body["orderType"] == .number("2"))
        #expect(body["deliveryCost"] == .number("350") && body["tip"] == .number("200") && body["payment"]?["amount"] == .number("3840"),
                "36.40 paid plus a 2.00 tip")
        #expect(body["channelOrderId"] == .string("ord-7f3d2c1e-0000-4000-8000-000000000042") && body["channelOrderDisplayId"] == .string("B07"))
        #expect(body["pickupTime"] == .string("2024-12-01T14:30:00Z"), "ASAP: the time the order was placed, in UTC")
    }

    @Test("mapping: a 3-decimal currency (KWD) is sent in fils with decimalDigits 3")
    func goldenThreeDecimals() throws {
        let body = try DeliverectConnector.orderBody(Self.kwdOrder, settings: try Self.settings())
        try ConnectorMappingTests.matchesGolden(body, "deliverect-order-create-kwd")
        #expect(body["decimalDigits"] == .number("3"))
        guard case .array(let items)? = body["items"] else { throw TestFailure("no items") }
        #expect(items[0]["price"] == .number("12500") && body["payment"]?["amount"] == .number("38400"))
    }

    @Test("orderType from deliveryMethod", arguments: [("DELIVERY", 2), ("PICKUP", 1), ("DINE_IN", 3), ("curbside", 4), ("DRIVE_THRU", 5), ("", 1)])
    func orderTypes(_ method: String, _ expected: Int) {
        #expect(DeliverectConnector.orderType(method) == expected)
    }

    @Test("an unmapped PLU names the field; a discount is sent negative; a discount that cannot be negated is a mapping error, not a trap")
    func refusals() throws {
        var settings = try Self.settings()
        settings.mapping.products["SKU-FRIES-01"] = nil
        #expect(throws: ValidationError(field: "order.items[1].plu", message: "\"SKU-FRIES-01\" has no entry in settings.productMap")) {
            try DeliverectConnector.orderBody(Self.order, settings: settings)
        }
        var discounted = Self.order
        discounted.discountTotal = Money(minorUnits: 100, currency: discounted.currency)
        #expect(try DeliverectConnector.orderBody(discounted, settings: try Self.settings())["discountTotal"] == .number("-100"))
        discounted.discountTotal = Money(minorUnits: .min, currency: discounted.currency)
        #expect(throws: ValidationError.self) { try DeliverectConnector.orderBody(discounted, settings: try Self.settings()) }
        var tipped = Self.order
        tipped.payment.tip = Money(minorUnits: .max, currency: tipped.currency)
        #expect(throws: ValidationError.self) { try DeliverectConnector.orderBody(tipped, settings: try Self.settings()) }
    }

    @Test("settings and config are validated and bad keys are named", arguments: [
        (#"{"productMap":{}}"#, "settings.channelLinkId"),
        (#"{"channelLinkId":"a/b"}"#, "settings.channelLinkId"),
        (#"{"channelLinkId":"abc","productMap":{"SKU-1":15}}"#, "settings.productMap.SKU-1"),
        (#"{"channelLinkId":"abc","deliveryFeeProductId":"X"}"#, "settings.deliveryFeeProductId"),
    ])
    func settingsValidation(_ settings: String, _ field: String) {
        let error = #expect(throws: ValidationError.self) { try Self.connector.validate(settings: JSONValue(parsing: settings)!) }
        #expect(error?.field == field, "\(error?.message ?? "")")
    }

    @Test("config: channelName is required and lowercase; audience optional", arguments: [
        ("{}", "config.channelName"), (#"{"channelName":"MyChannel"}"#, "config.channelName"), (#"{"channelName":"a/b"}"#, "config.channelName"),
        (#"{"channelName":"cata","audience":""}"#, "config.audience"), (#"{"channelName":"cata","colour":"red"}"#, "config.colour"),
    ])
    func configValidation(_ config: String, _ field: String) {
        let error = #expect(throws: ValidationError.self) { try Self.connector.validate(config: JSONValue(parsing: config)!) }
        #expect(error?.field == field, "\(error?.message ?? "")")
    }

    @Test("credentials: JSON client credentials at {baseUrl}/oauth/token, audience defaulting to the base URL")
    func scheme() {
        #expect(Self.connector.credentialScheme(config: JSONValue(parsing: Self.config)!, baseUrl: "https://api.staging.deliverect.com/")
                == .oauth2JSONClientCredentials(tokenURL: "https://api.staging.deliverect.com/oauth/token", audience: "https://api.staging.deliverect.com"))
        #expect(Self.connector.credentialScheme(config: JSONValue(parsing: #"{"channelName":"c","audience":"https://x/api/v2/"}"#)!, baseUrl: "https://x")
                == .oauth2JSONClientCredentials(tokenURL: "https://x/oauth/token", audience: "https://x/api/v2/"))
    }

    // MARK: Inbound webhooks

    static func signed(_ body: String, secret: String = webhookSecret, url: String? = "https://cata.example/in") -> InboundWebhook {
        InboundWebhook(headers: [("X-Server-Authorization-HMAC-SHA256", DeliverectSandbox.signature(of: Array(body.utf8), secret: secret))],
                       body: Array(body.utf8), receivedAt: 0, url: url)
    }

    static let accepted = #"{"orderId":"64a1","status":20,"timeStamp":"2024-12-01T14:31:00Z","receiptId":"R1","reason":"","channelOrderId":"ord-1","location":"l","channelLink":"c"}"#

    @Test("webhooks: hex HMAC-SHA256 of the raw body with webhookSecret; nothing unverified is read")
    func webhookAuth() throws {
        guard case .statusUpdates(let updates) = try Self.connector.readInbound(Self.signed(Self.accepted), webhookSecret: Self.webhookSecret)
        else { throw TestFailure("not read") }
        #expect(updates == [OrderStatusUpdate(externalOrderId: "ord-1", orderUUID: "ord-1", status: .accepted,
                                              posStatus: "20 ACCEPTED (Deliverect order 64a1)", occurredAt: 1_733_063_460_000,
                                              eventId: "ord-1|20|2024-12-01T14:31:00Z")])
        let tampered = InboundWebhook(headers: Self.signed(Self.accepted).headers, body: Array(Self.accepted.replacingOccurrences(of: "20", with: "110").utf8),
                                      receivedAt: 0)
        for (webhook, secret) in [(Self.signed(Self.accepted, secret: "other"), Self.webhookSecret), (tampered, Self.webhookSecret),
                                  (InboundWebhook(headers: [], body: Array(Self.accepted.utf8), receivedAt: 0), Self.webhookSecret),
                                  (Self.signed(Self.accepted), "")] {
            #expect(throws: InboundWebhookRejection.self) { try Self.connector.readInbound(webhook, webhookSecret: secret) }
        }
    }

    @Test("webhooks: statuses map to ours; unknown and unmapped codes are ignored", arguments: [
        (20, OrderStatus?.some(.accepted)), (40, .inProgress), (50, .inProgress), (60, .ready), (70, .ready), (80, .driverPickedUp),
        (90, .completed), (95, .completed), (110, .cancelled), (120, .rejected), (10, nil), (2, nil), (115, nil), (999, nil),
    ])
    func statusMapping(_ code: Int, _ expected: OrderStatus?) throws {
        let body = #"{"orderId":"64a1","status":\#(code),"reason":"out of stock","channelOrderId":"ord-1"}"#
        let reading = try DeliverectConnector.read(Array(body.utf8), url: nil)
        if let expected {
            guard case .statusUpdates(let updates) = reading else { throw TestFailure("not an update: \(reading)") }
            #expect(updates.first?.status == expected)
            #expect(updates.first?.reason == (expected == .rejected || expected == .cancelled ? "out of stock" : nil))
        } else {
            guard case .ignored(let reason) = reading else { throw TestFailure("not ignored: \(reading)") }
            #expect(reason.contains(String(code)))
        }
    }

    @Test("webhooks: the channel registration is answered with our URL; a body without a status is ignored; bad bodies are unreadable")
    func registration() throws {
        let register = #"{"status":"register","channelLocationId":"x","channelLinkId":"5f1e","locationId":"l","channelLinkName":"Cata"}"#
        guard case .handshake(let reply) = try Self.connector.readInbound(Self.signed(register), webhookSecret: Self.webhookSecret)
        else { throw TestFailure("not a handshake") }
        #expect(reply["statusUpdateURL"] == .string("https://cata.example/in"))
        #expect(reply["menuUpdateURL"] == .string("https://cata.example/in"))
        guard case .ignored = try DeliverectConnector.read(Array(#"{"menu":"x"}"#.utf8), url: nil) else { throw TestFailure("not ignored") }
        for body in [#"[1]"#, #"{"status":"twenty","channelOrderId":"o"}"#, #"{"status":20}"#] {
            #expect(throws: InboundWebhookRejection.self) { try DeliverectConnector.read(Array(body.utf8), url: nil) }
        }
    }

    // MARK: End to end

    struct Rig {
        let rig: ConnectorDispatchTests.Rig
        var service: TestService { rig.service }
        var sandbox: DeliverectSandbox { rig.sandboxes.deliverect }

        /// Connects Deliverect and maps the outlet; returns the connection's inbound URL.
        @discardableResult
        func connect(clientSecret: String = DeliverectSandbox.defaultClientSecret, config: String = DeliverectConnectorTests.config)
            async throws -> String {
            let saved = try await service.call("PUT", "/api/v1/provider-connections/deliverect", key: rig.keys.adminKey, json: Array("""
                {"status":"active","apiKey":\(JSONText.quoted(DeliverectSandbox.defaultClientId)),"apiSecret":\(JSONText.quoted(clientSecret)),\
                "webhookUrl":"","baseUrl":\(JSONText.quoted(rig.baseURL("deliverect"))),\
                "webhookSecret":\(JSONText.quoted(DeliverectConnectorTests.webhookSecret)),"config":\(config)}
                """.utf8))
            #expect(saved.status == 200, "\(saved.text)")
            let connection = try #require(saved.json["connection"] as? [String: Any], "\(saved.text)")
            let mapped = try await service.call("PUT", "/api/v1/outlet-providers/store-uuid-123", key: rig.keys.adminKey, json: Array("""
                {"providerSlug":"deliverect","externalId":"\(DeliverectConnectorTests.channelLinkId)","settings":\(DeliverectConnectorTests.settingsText)}
                """.utf8))
            #expect(mapped.status == 200, "\(mapped.text)")
            return try #require(connection["inboundUrl"] as? String)
        }

        func dispatch(uuid: String? = nil) async throws -> TestService.Reply {
            let order = uuid.map { Fixtures.richOrder.replacingOccurrences(of: "ord-7f3d2c1e-0000-4000-8000-000000000042", with: $0) }
            return try await rig.dispatch("deliverect", order: order ?? Fixtures.richOrder)
        }
    }

    static func withRig(_ body: (Rig) async throws -> Void) async throws {
        let sandboxes = PosSandboxes()
        try await withSandboxServer(sandboxes) { origin in
            try await withTestService(schedule: ConnectorDispatchTests.fast) { service in
                let keys = try await service.tenant("acme")
                try await body(Rig(rig: ConnectorDispatchTests.Rig(service: service, sandboxes: sandboxes, origin: origin, keys: keys)))
            }
        }
    }

    @Test("dispatch: 201 {} is received, not accepted; the signed status webhook (after an unknown status) moves the order to ACCEPTED; a forged one changes nothing")
    func endToEnd() async throws {
        try await Self.withRig { rig in
            let inboundUrl = try await rig.connect()
            #expect(inboundUrl.hasPrefix("\(rig.service.baseURL)/api/v1/inbound/deliverect/order-status/"))
            rig.sandbox.configureWebhook(url: inboundUrl, secret: Self.webhookSecret)
            let reply = try await rig.dispatch()
            #expect(reply.json["dispatched"] as? Bool == true, "\(reply.text)")
            let created = try #require(rig.sandbox.orders.first)
            #expect(created.channelOrderId == "ord-7f3d2c1e-0000-4000-8000-000000000042" && created.channelLinkId == Self.channelLinkId)
            #expect(created.body["payment"]?["amount"] == .number("3840") && created.body["decimalDigits"] == .number("2"))
            let orderId = try #require(reply.json["orderId"] as? String)

            // The double answers first and then calls back: wait for its webhooks, not for time.
            let unknown = try #require(await rig.sandbox.delivery { $0.status == DeliverectSandbox.unknownStatus })
            #expect(unknown.responseStatus == 200 && unknown.responseBody.contains("\"skipped\":true"), "\(unknown.responseBody)")
            let accepted = try #require(await rig.sandbox.delivery { $0.status == 20 })
            #expect(accepted.responseStatus == 200, "\(accepted.responseBody)")
            let order = try await rig.rig.order(orderId)
            #expect(order["status"] as? String == "ACCEPTED", "\(order)")
            #expect(rig.sandbox.tokenCalls == 1)

            // Deliverect delivers at least once: the same webhook again is a duplicate and changes nothing.
            let again = try await rig.service.call("POST", String(inboundUrl.dropFirst(rig.service.baseURL.count)),
                                                   headers: [(DeliverectConnector.signatureHeader, DeliverectSandbox.signature(of: accepted.body, secret: Self.webhookSecret))],
                                                   json: accepted.body)
            #expect(again.status == 200 && again.json["message"] as? String == "duplicate event; already received", "\(again.text)")
            #expect(try await rig.rig.order(orderId)["version"] as? Int == order["version"] as? Int)

            // A body signed with another secret is refused and changes nothing.
            let forged = #"{"orderId":"x","status":110,"channelOrderId":"ord-7f3d2c1e-0000-4000-8000-000000000042"}"#
            let refused = try await rig.service.call("POST", String(inboundUrl.dropFirst(rig.service.baseURL.count)),
                                                     headers: [(DeliverectConnector.signatureHeader, DeliverectSandbox.signature(of: Array(forged.utf8), secret: "nope"))],
                                                     json: Array(forged.utf8))
            #expect(refused.status == 401)
            let after = try await rig.rig.order(orderId)
            #expect(after["status"] as? String == "ACCEPTED" && after["version"] as? Int == order["version"] as? Int)

            // The registration webhook is answered with this connection's URL.
            let register = #"{"status":"register","channelLocationId":"x","channelLinkId":"\#(Self.channelLinkId)","locationId":"l","channelLinkName":"Cata"}"#
            let registered = try await rig.service.call("POST", String(inboundUrl.dropFirst(rig.service.baseURL.count)),
                                                        headers: [(DeliverectConnector.signatureHeader, DeliverectSandbox.signature(of: Array(register.utf8), secret: Self.webhookSecret))],
                                                        json: Array(register.utf8))
            #expect(registered.status == 200 && registered.json["statusUpdateURL"] as? String == inboundUrl, "\(registered.text)")

            // Cancel: the same URL with status 100; the double confirms with 110.
            let cancelled = try await rig.service.call("POST", "/api/v1/orders/\(orderId)/cancel", key: rig.rig.keys.internalKey,
                                                       json: Array(#"{"reason":"guest called"}"#.utf8))
            #expect(cancelled.status == 200, "\(cancelled.text)")
            #expect(await rig.sandbox.delivery { $0.status == 110 } != nil)
            #expect(rig.sandbox.orders.first?.cancelRequested == true)
            #expect(try await rig.rig.order(orderId)["status"] as? String == "CANCELLED")
            #expect(!((try await rig.service.call("GET", "/api/v1/inbound-requests", key: rig.rig.keys.adminKey)).text.contains(Self.webhookSecret)))
        }
    }

    @Test("the token is fetched once and kept across 100 dispatches; an expired one (401 token_expired) is replaced once and the call retried")
    func tokenCached() async throws {
        try await Self.withRig { rig in
            try await rig.connect()
            for index in 0..<100 {
                let reply = try await rig.dispatch(uuid: "ord-cache-\(index)")
                #expect(reply.json["dispatched"] as? Bool == true, "\(reply.text)")
            }
            #expect(rig.sandbox.orders.count == 100)
            #expect(rig.sandbox.tokenCalls == 1, "a token per call is what Deliverect forbids")

            rig.sandbox.expireTokens()
            let reply = try await rig.dispatch(uuid: "ord-after-expiry")
            #expect(reply.json["dispatched"] as? Bool == true, "\(reply.text)")
            #expect(rig.sandbox.tokenCalls == 2)
            #expect(rig.sandbox.requestCount("/{channelName}/order/{channelLinkId}") == 102, "the refused call and its one retry")
        }
    }

    @Test("two replicas asking for the first token at once: Deliverect sees one token call, both get the same token",
          arguments: CredentialRefreshTests.pairs)
    func firstTokenAcrossReplicas(_ pair: CredentialRefreshTests.ReplicaPair) async throws {
        let sandboxes = PosSandboxes(deliverect: DeliverectSandbox(tokenLatency: .milliseconds(200)))
        try await withSandboxServer(sandboxes) { origin in
            let (first, second, _, cleanup) = try await pair.make()
            let transport = HTTPTransport(timeout: .seconds(5), outboundGuard: nil)
            do {
                try await first.migrate()
                try await second.migrate()
                try await first.createTenant(CredentialRefreshTests.tenant, createdAt: 1)
                let secretBox = try SecretBox(encodedMasterKey: SecretBox.generateEncodedMasterKey())
                let connection = ProviderConnection(
                    tenantId: CredentialRefreshTests.tenant.id, slug: "deliverect", status: "active",
                    sealedApiKey: try secretBox.seal(DeliverectSandbox.defaultClientId),
                    sealedApiSecret: try secretBox.seal(DeliverectSandbox.defaultClientSecret), webhookUrl: "", baseUrl: origin + "/deliverect",
                    config: Self.config, createdAt: 1, updatedAt: 1, connectionToken: "token-deliverect")
                let scheme = Self.connector.credentialScheme(config: JSONValue(parsing: Self.config)!, baseUrl: connection.baseUrl)
                func access(_ store: any ProviderTokenStore, _ owner: String) throws -> ProviderAccess {
                    try CredentialProvider(secretBox: secretBox, tokens: store, endpoint: OAuthTokenEndpoint(transport: transport), clock: SystemClock.now,
                                           settings: .init(owner: owner, waitMs: 10_000, pollMs: 10)).access(for: connection, scheme: scheme)
                }
                let replicaA = try access(first, "replica-a"), replicaB = try access(second, "replica-b")
                async let fromA = replicaA.credentials.credential()
                async let fromB = replicaB.credentials.credential()
                let (a, b) = try await (fromA, fromB)
                #expect(a == b)
                #expect(a != .accessToken(""))
                #expect(sandboxes.deliverect.tokenCalls == 1)
                // Kept: later calls read the stored token.
                #expect(try await replicaB.credentials.credential() == a)
                #expect(sandboxes.deliverect.tokenCalls == 1)
            } catch {
                await transport.shutdown()
                await cleanup()
                throw error
            }
            await transport.shutdown()
            await cleanup()
        }
    }

    @Test("429 with Retry-After is retried, honouring it")
    func rateLimited() async throws {
        try await Self.withRig { rig in
            try await rig.connect()
            rig.sandbox.failNext("/{channelName}/order/{channelLinkId}", status: 429)
            let reply = try await rig.dispatch()
            #expect(reply.json["dispatched"] as? Bool == false, "\(reply.text)")
            #expect(await rig.service.events.first(timeoutSeconds: 20) { $0.transition.status == .delivered } != nil)
            let order = try await rig.rig.order(try #require(reply.json["orderId"] as? String))
            let attempts = ConnectorDispatchTests.deliveries(order).first?["attempts"] as? [[String: Any]] ?? []
            #expect(attempts.map { $0["statusCode"] as? Int } == [429, 201], "\(attempts)")
            #expect(rig.sandbox.orders.count == 1)
        }
    }

    @Test("wrong client secret: an auth failure at the token endpoint, not retried, the reason visible", arguments: ["wrong-secret"])
    func wrongCredentials(_ secret: String) async throws {
        try await Self.withRig { rig in
            try await rig.connect(clientSecret: secret)
            let reply = try await rig.dispatch()
            #expect(reply.json["dispatched"] as? Bool == false)
            #expect((reply.json["reason"] as? String)?.contains("401") == true, "\(reply.text)")
            #expect(rig.sandbox.orders.isEmpty)
            let orderId = try #require(reply.json["orderId"] as? String)
            let delivery = try #require(ConnectorDispatchTests.deliveries(try await rig.rig.order(orderId)).first)
            #expect(delivery["status"] as? String == "dead")
            let attempts = delivery["attempts"] as? [[String: Any]] ?? []
            #expect(attempts.count == 1 && attempts.first?["errorClass"] as? String == "auth", "\(attempts)")
            #expect(!reply.text.contains(secret))
            let tested = try await rig.service.call("POST", "/api/v1/provider-connections/deliverect/test", key: rig.rig.keys.adminKey)
            #expect(tested.json["success"] as? Bool == false, "\(tested.text)")
        }
    }

    @Test("a channel name the token is not scoped for is a 403: not retried, the reason visible")
    func wrongChannel() async throws {
        try await Self.withRig { rig in
            try await rig.connect(config: #"{"channelName":"someoneelse"}"#)
            let reply = try await rig.dispatch()
            #expect(reply.json["dispatched"] as? Bool == false)
            #expect((reply.json["reason"] as? String)?.contains("not allowed to send in orders") == true, "\(reply.text)")
            let orderId = try #require(reply.json["orderId"] as? String)
            let delivery = try #require(ConnectorDispatchTests.deliveries(try await rig.rig.order(orderId)).first)
            #expect(delivery["status"] as? String == "dead")
        }
    }

    @Test("capabilities: dispatch, cancel, inbound status, connection test")
    func capabilities() {
        let registry = ConnectorRegistry.builtIn(exchange: POSExchange(transport: ConnectorMappingTests.unusedTransport, clock: { 0 }))
        #expect(registry.capabilities("deliverect") == [.dispatchOrder, .cancelOrder, .inboundStatus, .testConnection])
    }

    // MARK: The double

    @Test("the double: token body fields, Bearer, channel link, integer money, orderFieldsErrors, payment sum, dedupe on channelOrderId")
    func doubleEnforces() async throws {
        let sandboxes = PosSandboxes()
        try await withSandboxServer(sandboxes) { origin in
            let base = "\(origin)/deliverect"
            let client = MenuImportConnectorTests.transport
            func post(_ path: String, _ body: JSONValue, headers: [(String, String)]) async throws -> (Int, JSONValue?) {
                let response = try await client.send(method: .POST, url: base + path, headers: headers + [("Content-Type", "application/json")],
                                                     body: body.bytes)
                return (response.status, try? JSONValue(JSONParser.parse(response.body)))
            }
            let tokenBody = JSONValue.object([("client_id", .string(DeliverectSandbox.defaultClientId)), ("client_secret", .string(DeliverectSandbox.defaultClientSecret)),
                                              ("grant_type", .string("client_credentials"))])
            #expect(try await post("/oauth/token", tokenBody, headers: []).0 == 400, "audience is required")
            guard case .object(var members) = tokenBody else { return }
            members.append(("audience", .string(base)))
            let (status, issued) = try await post("/oauth/token", .object(members), headers: [])
            #expect(status == 200 && issued?["expires_at"]?.integerValue != nil)
            let token = try #require(issued?["access_token"]?.stringValue)
            let bearer = [("Authorization", "Bearer \(token)")]
            let good = try DeliverectConnector.orderBody(Self.order, settings: try Self.settings())
            let path = "/\(DeliverectSandbox.defaultChannelName)/order/\(Self.channelLinkId)"
            func replacing(_ key: String, with value: JSONValue) -> JSONValue {
                guard case .object(let members) = good else { return good }
                return .object(members.map { $0.0 == key ? ($0.0, value) : $0 })
            }
            #expect(try await post(path, good, headers: []).0 == 401)
            #expect(try await post("/\(DeliverectSandbox.defaultChannelName)/order/unknown", good, headers: bearer).0 == 403)
            let (money, moneyError) = try await post(path, replacing("tip", with: .number("2.00")), headers: bearer)
            #expect(money == 400 && moneyError?["orderFieldsErrors"]?["tip"] != nil, "\(String(describing: moneyError))")
            let (missing, missingError) = try await post(path, replacing("decimalDigits", with: .null), headers: bearer)
            #expect(missing == 400 && missingError?["orderFieldsErrors"]?["decimalDigits"] != nil)
            let (sum, sumError) = try await post(path, replacing("tip", with: .number("0")), headers: bearer)
            #expect(sum == 400 && sumError?["orderPaymentErrors"]?["payment.amount"] != nil, "\(String(describing: sumError))")
            let (created, answer) = try await post(path, good, headers: bearer)
            #expect(created == 201 && answer == .object([]))
            #expect(try await post(path, good, headers: bearer).0 == 201, "a repeat is received again")
            #expect(sandboxes.deliverect.orders.count == 1 && sandboxes.deliverect.duplicates == 1, "but not stored twice")
            #expect(sandboxes.deliverect.tokenCalls == 2)
        }
    }
}
