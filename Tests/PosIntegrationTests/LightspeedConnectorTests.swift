import Foundation
import PosConnectors
import PosDomain
import PosSandbox
import PosServices
import PosStorage
import Testing

/// The Lightspeed K-Series connector: its pure mapping (golden file), its webhook reading, the OAuth
/// authorization-code flow, and end to end against the double — webhook registration, dispatch,
/// the status webhook, single-use refresh tokens across replicas, reauthorization, a lost answer.
@Suite("Lightspeed K-Series connector")
struct LightspeedConnectorTests {
    /// Maps ``Fixtures/richOrder`` onto the double's SKUs: the free "No onions" is a production
    /// instruction (modifierId), the priced extra cheese a sub-item, the delivery fee a line.
    static let settingsText = #"{"productMap":{"SKU-BURGER-01":"BURGER-01","SKU-FRIES-01":"FRIES-01"},"modifierMap":{"mo-extra-cheese":"CHEESE-01","mo-no-onion":"9001"},"deliveryFeeProductId":"DELIVERY-FEE","businessLocationId":45454545,"paymentMethod":"OOPAYMENT"}"#
    static let redirectUri = "https://pos.example.com/api/v1/oauth/lightspeed/callback"
    static let config = #"{"redirectUri":"\#(redirectUri)"}"#
    static let hookPassword = "ls-hook-password"
    static let order = try! DispatchValidator.order(bytes: Array(Fixtures.richOrder.utf8))

    static func settings(_ text: String = settingsText) throws -> LightspeedConnector.Settings {
        try LightspeedConnector.Settings(JSONValue(parsing: text)!)
    }

    static func orderText(uuid: String) -> String {
        Fixtures.richOrder.replacingOccurrences(of: "ord-7f3d2c1e-0000-4000-8000-000000000042", with: uuid)
    }

    // MARK: Mapping

    @Test("mapping: SKUs, the free option a production instruction, the priced one a sub-item, delivery fee line, tip in paymentAmount")
    func golden() throws {
        let body = try LightspeedConnector.orderBody(Self.order, settings: try Self.settings(), endpointId: "cata-endpoint")
        try ConnectorMappingTests.matchesGolden(body, "lightspeed-order-create")
        guard case .array(let items)? = body["items"] else { throw TestFailure("no items") }
        #expect(items.count == 3, "burger, fries, delivery fee")
        #expect(items[0]["sku"] == .string("BURGER-01") && items[0]["quantity"] == .number("2") && items[0]["customItemPrice"] == .number("12.50"))
        #expect(items[0]["modifiers"] == .array([.object([("modifierId", .string("9001"))])]))
        #expect(items[0]["subItems"] == .array([.object([("quantity", .number("1")), ("sku", .string("CHEESE-01")), ("customItemPrice", .number("1.50"))])]))
        #expect(items[2]["sku"] == .string("DELIVERY-FEE") && items[2]["customItemPrice"] == .number("3.50"))
        #expect(body["payment"]?["paymentAmount"] == .number("38.40"), "36.40 paid plus a 2.00 tip")
        #expect(body["payment"]?["tipAmount"] == .number("2.00") && body["payment"]?["paymentMethod"] == .string("OOPAYMENT"))
        #expect(body["thirdPartyReference"] == .string("ord-7f3d2c1e-0000-4000-8000-000000000042"))
        #expect(body["maxTimeToAttemptOrderDeliverToPos"] == .number("900000"))
        #expect(LightspeedConnector.orderPath("DELIVERY") == "/o/op/1/order/toGo" && LightspeedConnector.orderPath("dine-in") == "/o/op/1/order/local")
    }

    @Test("refusals: an unmapped SKU, a reference over 48 characters, an amount paid that overflows")
    func refusals() throws {
        var settings = try Self.settings()
        settings.mapping.products["SKU-FRIES-01"] = nil
        #expect(throws: ValidationError(field: "order.items[1].plu", message: "\"SKU-FRIES-01\" has no entry in settings.productMap")) {
            try LightspeedConnector.orderBody(Self.order, settings: settings, endpointId: "e")
        }
        var long = Self.order
        long.uuid = String(repeating: "x", count: 49)
        #expect(throws: ValidationError.self) { try LightspeedConnector.orderBody(long, settings: try Self.settings(), endpointId: "e") }
        var huge = Self.order
        huge.payment.amount = Money(minorUnits: .max, currency: huge.currency)
        let error = #expect(throws: ValidationError.self) { try LightspeedConnector.orderBody(huge, settings: try Self.settings(), endpointId: "e") }
        #expect(error?.field == "order.payment.tip")
    }

    @Test("settings and config are validated and bad keys are named", arguments: [
        (#"{}"#, "settings.businessLocationId"),
        (#"{"businessLocationId":"x"}"#, "settings.businessLocationId"),
        (#"{"businessLocationId":1,"productMap":{"A":7}}"#, "settings.productMap.A"),
        (#"{"businessLocationId":1,"productMap":{"A":"this-sku-is-far-longer-than-25"}}"#, "settings.productMap.A"),
        (#"{"businessLocationId":1,"colour":"red"}"#, "settings.colour"),
    ])
    func settingsValidation(_ settings: String, _ field: String) {
        let connector = LightspeedConnector(exchange: POSExchange(transport: ConnectorMappingTests.unusedTransport, clock: { 0 }))
        let error = #expect(throws: ValidationError.self) { try connector.validate(settings: JSONValue(parsing: settings)!) }
        #expect(error?.field == field, "\(error?.message ?? "")")
        #expect(throws: ValidationError.self) { try connector.validate(config: JSONValue(parsing: "{}")!) }
        #expect(throws: ValidationError.self) { try connector.validate(config: JSONValue(parsing: #"{"redirectUri":"not a url"}"#)!) }
        #expect(throws: Never.self) { try connector.validate(config: JSONValue(parsing: Self.config)!) }
    }

    // MARK: Inbound webhooks

    static func webhook(_ body: String, headers: [(String, String)] = []) -> InboundWebhook {
        InboundWebhook(headers: headers, body: Array(body.utf8), receivedAt: 0, config: JSONValue(parsing: config)!)
    }

    @Test("webhooks: statuses map to ours, FAILURE carries its reason, amounts are decimal strings, other types are ignored", arguments: [
        ("SUCCESS", OrderStatus?.some(.accepted)), ("FAILURE", .rejected), ("READY_FOR_PICKUP", .ready), ("IN_DELIVERY", .driverPickedUp),
        ("CLOSED", .completed), ("DELIVERED", .completed), ("CANCELLED", .cancelled), ("CHECK_WAS_UPDATED", nil),
    ])
    func statusMapping(_ status: String, _ expected: OrderStatus?) throws {
        let body = #"{"type":"ORDER","status":"\#(status)","thirdPartyReference":"ord-1","businessLocationId":45454545,"ikentooAccountIdentifier":"A17700.3","reason":"POS offline","account":{"paidAmount":"38.40","currentAmount":"0.00"}}"#
        guard case .statusUpdates(let updates) = try LightspeedConnector.read(Array(body.utf8)) else { throw TestFailure("not read") }
        #expect(updates.first?.status == expected && updates.first?.orderUUID == "ord-1" && updates.first?.externalOrderId == "A17700.3")
        #expect(updates.first?.reason == (expected == .rejected || expected == .cancelled ? "POS offline" : nil))
    }

    @Test("webhooks: HTTP Basic when the connection has a webhookSecret (constant-time); none required without one; bad bodies unreadable")
    func webhookAuth() throws {
        let connector = LightspeedConnector(exchange: POSExchange(transport: ConnectorMappingTests.unusedTransport, clock: { 0 }))
        let body = #"{"type":"ORDER","status":"SUCCESS","thirdPartyReference":"ord-1"}"#
        let good = "Basic " + Data("cata:\(Self.hookPassword)".utf8).base64EncodedString()
        _ = try connector.readInbound(Self.webhook(body, headers: [("Authorization", good)]), webhookSecret: Self.hookPassword)
        _ = try connector.readInbound(Self.webhook(body), webhookSecret: nil)
        for headers in [[], [("Authorization", "Basic " + Data("cata:wrong".utf8).base64EncodedString())], [("Authorization", "Bearer \(Self.hookPassword)")]] {
            #expect(throws: InboundWebhookRejection.self) { try connector.readInbound(Self.webhook(body, headers: headers), webhookSecret: Self.hookPassword) }
        }
        #expect(try LightspeedConnector.read(Array(#"{"type":"PAYMENT","status":"SUCCESS"}"#.utf8))
                == .ignored(reason: "Lightspeed PAYMENT notification carries no order status"))
        for bad in [#"{"type":"ORDER","status":"SUCCESS"}"#, #"[1]"#, #"{"type":"ORDER","status":"SUCCESS","thirdPartyReference":"r","account":{"paidAmount":38.4}}"#] {
            #expect(throws: InboundWebhookRejection.self) { try LightspeedConnector.read(Array(bad.utf8)) }
        }
    }

    // MARK: End to end

    struct Rig {
        let rig: ConnectorDispatchTests.Rig
        var service: TestService { rig.service }
        var sandbox: LightspeedSandbox { rig.sandboxes.lightspeed }
        var admin: String { rig.keys.adminKey }
        var sandboxPort: Int { Int(rig.origin.split(separator: ":").last!)! }

        /// Connects Lightspeed (its webhookUrl is the connection's own inboundUrl, with a Basic password)
        /// and maps the outlet; returns the inbound URL.
        @discardableResult
        func connect(secret: String = LightspeedSandbox.defaultClientSecret) async throws -> String {
            func put(_ webhookUrl: String) async throws -> [String: Any] {
                let saved = try await service.call("PUT", "/api/v1/provider-connections/lightspeed", key: admin, json: Array("""
                    {"status":"active","apiKey":\(JSONText.quoted(LightspeedSandbox.defaultClientId)),"apiSecret":\(JSONText.quoted(secret)),\
                    "webhookUrl":\(JSONText.quoted(webhookUrl)),"baseUrl":\(JSONText.quoted(rig.baseURL("lightspeed"))),\
                    "webhookSecret":\(JSONText.quoted(LightspeedConnectorTests.hookPassword)),"config":\(LightspeedConnectorTests.config)}
                    """.utf8))
                #expect(saved.status == 200, "\(saved.text)")
                return try #require(saved.json["connection"] as? [String: Any], "\(saved.text)")
            }
            let inboundUrl = try #require(try await put("")["inboundUrl"] as? String)
            _ = try await put(inboundUrl)
            let mapped = try await service.call("PUT", "/api/v1/outlet-providers/store-uuid-123", key: admin, json: Array("""
                {"providerSlug":"lightspeed","externalId":"45454545","settings":\(LightspeedConnectorTests.settingsText)}
                """.utf8))
            #expect(mapped.status == 200, "\(mapped.text)")
            return inboundUrl
        }

        /// The merchant's round trip: our start → the double's authorize → our callback. Returns the callback's reply.
        @discardableResult
        func authorize() async throws -> TestService.Reply {
            let start = try await service.call("GET", "/api/v1/provider-connections/lightspeed/oauth/start", key: admin)
            #expect(start.status == 302, "\(start.text)")
            let location = try #require(start.header("Location"))
            #expect(location.hasPrefix(rig.baseURL("lightspeed") + "/oauth/authorize?response_type=code&client_id=\(LightspeedSandbox.defaultClientId)"))
            let approved = try await service.call("GET", String(location.dropFirst(rig.origin.count)), port: sandboxPort)
            #expect(approved.status == 302, "\(approved.text)")
            let back = try #require(approved.header("Location"))
            #expect(back.hasPrefix(LightspeedConnectorTests.redirectUri + "?code="))
            return try await callback(String(back.dropFirst(LightspeedConnectorTests.redirectUri.count)))
        }

        func callback(_ query: String) async throws -> TestService.Reply {
            try await service.call("GET", "/api/v1/oauth/lightspeed/callback" + query)
        }

        func connection() async throws -> [String: Any] {
            try await service.call("GET", "/api/v1/provider-connections/lightspeed", key: admin).json
        }

        func history(_ orderId: String) async throws -> [String] {
            Array((try await rig.order(orderId)["statusHistory"] as? [[String: Any]] ?? []).dropFirst()).map { $0["status"] as? String ?? "" }
        }
    }

    static func withRig(_ body: (Rig) async throws -> Void) async throws {
        try await ConnectorDispatchTests.withRig { rig in try await body(Rig(rig: rig)) }
    }

    @Test("OAuth: start redirects with a state bound to the tenant; the callback spends it once; a wrong or replayed state is 400")
    func oauthFlow() async throws {
        try await Self.withRig { rig in
            try await rig.connect()
            #expect(try await rig.service.call("GET", "/api/v1/provider-connections/lightspeed/oauth/start").status == 401)
            #expect(try await rig.service.call("GET", "/api/v1/provider-connections/lightspeed/oauth/start", key: rig.rig.keys.internalKey).status == 403)
            let start = try await rig.service.call("GET", "/api/v1/provider-connections/lightspeed/oauth/start", key: rig.admin)
            let location = try #require(start.header("Location"))
            let state = try #require(URLComponents(string: location)?.queryItems?.first { $0.name == "state" }?.value)
            #expect(state.count == 64)

            let wrong = try await rig.callback("?code=whatever&state=\(String(repeating: "0", count: 64))")
            #expect(wrong.status == 400 && wrong.error["field"] as? String == "state", "\(wrong.text)")
            #expect(try await rig.callback("?code=whatever").status == 400)

            let approved = try await rig.service.call("GET", String(location.dropFirst(rig.rig.origin.count)), port: rig.sandboxPort)
            let query = String(try #require(approved.header("Location")).dropFirst(Self.redirectUri.count))
            let done = try await rig.callback(query)
            #expect(done.status == 200, "\(done.text)")
            #expect(rig.sandbox.stats.authorizationCodeGrants == 1)
            let replay = try await rig.callback(query)
            #expect(replay.status == 400 && replay.error["field"] as? String == "state", "a state is spent once: \(replay.text)")
            #expect(rig.sandbox.stats.authorizationCodeGrants == 1, "a replayed callback never reaches the token endpoint")
            #expect(!done.text.contains("ls-at-") && !done.text.contains("ls-rt-"), "tokens are never shown")

            #expect(try await rig.service.call("GET", "/api/v1/provider-connections/atlas/oauth/start", key: rig.admin).status != 302)
        }
    }

    @Test("end to end: registers the webhook once, the order reaches Lightspeed, status webhooks with Basic auth move it")
    func endToEnd() async throws {
        try await Self.withRig { rig in
            let inboundUrl = try await rig.connect()
            #expect(try await rig.authorize().status == 200)
            let tested = try await rig.service.call("POST", "/api/v1/provider-connections/lightspeed/test", key: rig.admin)
            #expect(tested.json["success"] as? Bool == true, "\(tested.text)")
            let outlets = try await rig.service.call("GET", "/api/v1/provider-connections/lightspeed/remote-outlets", key: rig.admin)
            #expect((outlets.json["outlets"] as? [[String: Any]])?.first?["id"] as? String == "45454545", "\(outlets.text)")

            let reply = try await rig.rig.dispatch("lightspeed")
            #expect(reply.json["dispatched"] as? Bool == true, "\(reply.text)")
            let orderId = try #require(reply.json["orderId"] as? String)
            #expect(rig.sandbox.orders.count == 1 && rig.sandbox.orders[0].path == "/o/op/1/order/toGo")
            let endpoint = try #require(rig.sandbox.endpoints.first)
            #expect(endpoint.url == inboundUrl && endpoint.username == "cata" && endpoint.password == Self.hookPassword)
            let config = try await rig.connection()["config"] as? [String: Any]
            #expect(config?["endpointId"] as? String == endpoint.endpointId, "the endpoint id is kept on the connection")

            let second = try await rig.rig.dispatch("lightspeed", order: Self.orderText(uuid: "ord-second-0000-4000-8000-000000000043"))
            #expect(second.json["dispatched"] as? Bool == true, "\(second.text)")
            #expect(rig.sandbox.stats.webhookRegistrations == 1, "registered once per connection")

            let accepted = try await rig.sandbox.sendWebhook(reference: "ord-7f3d2c1e-0000-4000-8000-000000000042", status: "SUCCESS")
            #expect(accepted.status == 200, "\(accepted.responseBody)")
            #expect(String(decoding: accepted.body, as: UTF8.self).contains(#""paidAmount":"38.40""#))
            #expect(try await rig.rig.order(orderId)["status"] as? String == "ACCEPTED")
            _ = try await rig.sandbox.sendWebhook(reference: "ord-7f3d2c1e-0000-4000-8000-000000000042", status: "IN_DELIVERY")
            _ = try await rig.sandbox.sendWebhook(reference: "ord-7f3d2c1e-0000-4000-8000-000000000042", status: "DELIVERED")
            #expect(try await rig.history(orderId) == ["ACCEPTED", "DRIVER_PICKED_UP", "COMPLETED"])

            let forged = try await rig.service.call("POST", String(inboundUrl.dropFirst(rig.service.baseURL.count)),
                                                    json: Array(#"{"type":"ORDER","status":"CANCELLED","thirdPartyReference":"ord-second-0000-4000-8000-000000000043"}"#.utf8))
            #expect(forged.status == 401, "no Basic credentials: refused")

            rig.sandbox.setReady(false)
            let notReady = try await rig.service.call("POST", "/api/v1/provider-connections/lightspeed/test", key: rig.admin)
            #expect(notReady.json["success"] as? Bool == false && (notReady.json["message"] as? String)?.contains("NOT_READY") == true, "\(notReady.text)")
        }
    }

    @Test("an expired access token is refreshed exactly once, and the new pair is used")
    func expiredAccessToken() async throws {
        try await Self.withRig { rig in
            try await rig.connect()
            try await rig.authorize()
            #expect(try await rig.rig.dispatch("lightspeed").json["dispatched"] as? Bool == true)
            rig.sandbox.expireAccessTokens()
            let reply = try await rig.rig.dispatch("lightspeed", order: Self.orderText(uuid: "ord-after-expiry-4000-8000-000000000044"))
            #expect(reply.json["dispatched"] as? Bool == true, "\(reply.text)")
            let stats = rig.sandbox.stats
            #expect(stats.refreshGrants == 1 && stats.invalidGrants == 0 && stats.unauthorizedCalls == 1, "\(stats)")
            #expect(rig.sandbox.orders.count == 2)
        }
    }

    @Test("a refresh token refused as used: the connection is reauthorization_required (shown, in test), dispatch not retried; approving again heals it")
    func reusedRefreshToken() async throws {
        try await Self.withRig { rig in
            try await rig.connect()
            try await rig.authorize()
            rig.sandbox.revokeRefreshTokens()
            rig.sandbox.expireAccessTokens()
            let reply = try await rig.rig.dispatch("lightspeed")
            #expect(reply.json["dispatched"] as? Bool == false)
            #expect((reply.json["reason"] as? String)?.contains("reauthorization_required") == true, "\(reply.text)")
            let orderId = try #require(reply.json["orderId"] as? String)
            let delivery = try #require(ConnectorDispatchTests.deliveries(try await rig.rig.order(orderId)).first)
            #expect(delivery["status"] as? String == "dead")
            #expect((delivery["attempts"] as? [[String: Any]])?.count == 1 && rig.sandbox.stats.refreshGrants == 1)
            #expect(try await rig.connection()["status"] as? String == "reauthorization_required")
            let tested = try await rig.service.call("POST", "/api/v1/provider-connections/lightspeed/test", key: rig.admin)
            #expect(tested.json["success"] as? Bool == false && (tested.json["message"] as? String)?.contains("reauthorization_required") == true)

            #expect(try await rig.authorize().status == 200)
            #expect(try await rig.connection()["status"] as? String == "active")
            let again = try await rig.rig.dispatch("lightspeed", order: Self.orderText(uuid: "ord-after-reauth-4000-8000-000000000045"))
            #expect(again.json["dispatched"] as? Bool == true, "\(again.text)")
        }
    }

    @Test("wrong credentials: the code exchange is refused visibly; a dispatch without tokens is an auth failure, not retried")
    func wrongCredentials() async throws {
        try await Self.withRig { rig in
            try await rig.connect(secret: "not-the-secret")
            let refused = try await rig.authorize()
            #expect(refused.status == 400 && (refused.error["message"] as? String)?.contains("invalid_client") == true, "\(refused.text)")
            let reply = try await rig.rig.dispatch("lightspeed")
            #expect(reply.json["dispatched"] as? Bool == false)
            let orderId = try #require(reply.json["orderId"] as? String)
            let delivery = try #require(ConnectorDispatchTests.deliveries(try await rig.rig.order(orderId)).first)
            #expect(delivery["status"] as? String == "dead")
            let attempts = delivery["attempts"] as? [[String: Any]] ?? []
            #expect(attempts.count == 1 && attempts.first?["errorClass"] as? String == "auth", "\(attempts)")
            #expect(rig.sandbox.orders.isEmpty && rig.sandbox.stats.orderCalls == 0)
        }
    }

    @Test("a lost answer: the retry gets 409 'reference has already been used' and counts as delivered; Lightspeed has one order")
    func lostAnswer() async throws {
        try await Self.withRig { rig in
            try await rig.connect()
            try await rig.authorize()
            rig.sandbox.loseNextAnswers(times: 1)
            let reply = try await rig.rig.dispatch("lightspeed")
            #expect(reply.json["dispatched"] as? Bool == false, "\(reply.text)")
            #expect(await rig.service.events.first { $0.transition.status == .delivered } != nil)
            #expect(rig.sandbox.orders.count == 1)
            let order = try await rig.rig.order(try #require(reply.json["orderId"] as? String))
            let attempts = ConnectorDispatchTests.deliveries(order).first?["attempts"] as? [[String: Any]] ?? []
            #expect(attempts.map { $0["statusCode"] as? Int } == [504, 409], "\(attempts)")
            #expect((attempts.last?["responseExcerpt"] as? String)?.contains("already had") == true, "\(attempts)")
        }
    }

    // MARK: Two replicas

    @Test("two concurrent dispatches on two store instances sharing one database spend the refresh token once")
    func twoReplicas() async throws {
        let sandboxes = PosSandboxes()
        try await withSandboxServer(sandboxes) { origin in
            let (first, second, _, cleanup) = try await CredentialRefreshTests.sqlite.make()
            do {
                try await first.migrate()
                try await second.migrate()
                let tenant = CredentialRefreshTests.tenant
                try await first.createTenant(tenant, createdAt: 1)
                let secretBox = try SecretBox(encodedMasterKey: SecretBox.generateEncodedMasterKey())
                let transport = MenuImportConnectorTests.transport
                let clock = TestClock(SystemClock.now())
                func provider(_ tokens: any ProviderTokenStore, _ owner: String) -> CredentialProvider {
                    CredentialProvider(secretBox: secretBox, tokens: tokens, endpoint: OAuthTokenEndpoint(transport: transport),
                                       clock: { clock.now }, settings: .init(owner: owner, waitMs: 10_000, pollMs: 10))
                }
                let base = origin + PosSandboxes.lightspeedPrefix
                let connection = ProviderConnection(
                    tenantId: tenant.id, slug: "lightspeed", status: "active", sealedApiKey: try secretBox.seal(LightspeedSandbox.defaultClientId),
                    sealedApiSecret: try secretBox.seal(LightspeedSandbox.defaultClientSecret), webhookUrl: "http://127.0.0.1:9/hook", baseUrl: base,
                    config: Self.config, createdAt: 1, updatedAt: 1, connectionToken: "token-lightspeed")
                let connector = LightspeedConnector(exchange: POSExchange(transport: transport, clock: SystemClock.now))
                let scheme = connector.credentialScheme(config: .object([]), baseUrl: base)
                guard case .oauth2AuthorizationCode(let tokenURL) = scheme else { throw TestFailure("not the authorization-code scheme") }
                let replicaA = provider(first, "replica-a"), replicaB = provider(second, "replica-b")
                try await replicaA.authorize(connection: connection, tokenURL: tokenURL,
                                             code: sandboxes.lightspeed.issueCode(redirectUri: Self.redirectUri), redirectUri: Self.redirectUri)

                func dispatch(_ replica: CredentialProvider, uuid: String) async throws -> ConnectorOutcome {
                    await connector.dispatch(POSDispatch(
                        deliveryId: uuid, attemptNumber: 1, order: try DispatchValidator.order(bytes: Array(Self.orderText(uuid: uuid).utf8)),
                        access: try replica.access(for: connection, scheme: scheme), externalOutletId: "45454545",
                        settings: JSONValue(parsing: Self.settingsText)!, progress: nil, checkpoint: { _ in }))
                }
                clock.advance(byMs: 2 * 3_600_000)  // both replicas find the access token expired
                async let a = dispatch(replicaA, uuid: "ord-replica-a-4000-8000-000000000046")
                async let b = dispatch(replicaB, uuid: "ord-replica-b-4000-8000-000000000047")
                let outcomes = try await [a, b]
                let reasons = outcomes.map { $0.reason }
                #expect(outcomes.allSatisfy { $0.succeeded }, "\(reasons)")
                let stats = sandboxes.lightspeed.stats
                #expect(stats.refreshGrants == 1 && stats.invalidGrants == 0, "one refresh across both replicas: \(stats)")
                #expect(sandboxes.lightspeed.orders.count == 2)
                let stored = try #require(try await second.providerToken(tenantId: tenant.id, slug: "lightspeed"))
                #expect(stored.version == 2 && stored.refreshOwner == nil)
                await cleanup()
            } catch {
                await cleanup()
                throw error
            }
        }
    }

    // MARK: The double

    /// `errors[0].field` of a Spring-style 400.
    static func firstErrorField(_ body: JSONValue?) -> JSONValue? {
        guard case .array(let errors)? = body?["errors"] else { return nil }
        return errors.first?["field"]
    }

    @Test("the double: Bearer required, endpointId registered first, Spring-style 400s, 409 on a reused reference, reused refresh token 400")
    func doubleEnforces() async throws {
        let sandboxes = PosSandboxes()
        try await withSandboxServer(sandboxes) { origin in
            let base = origin + PosSandboxes.lightspeedPrefix
            let client = MenuImportConnectorTests.transport
            let endpoint = OAuthTokenEndpoint(transport: client)
            let issued = try await endpoint.authorizationCode(
                tokenURL: base + "/oauth/token", clientId: LightspeedSandbox.defaultClientId, clientSecret: LightspeedSandbox.defaultClientSecret,
                code: sandboxes.lightspeed.issueCode(redirectUri: Self.redirectUri), redirectUri: Self.redirectUri)
            let refresh = try #require(issued.refreshToken)
            _ = try await endpoint.refresh(tokenURL: base + "/oauth/token", clientId: LightspeedSandbox.defaultClientId,
                                           clientSecret: LightspeedSandbox.defaultClientSecret, refreshToken: refresh)
            let reused = await #expect(throws: CredentialFailure.self) {
                try await endpoint.refresh(tokenURL: base + "/oauth/token", clientId: LightspeedSandbox.defaultClientId,
                                           clientSecret: LightspeedSandbox.defaultClientSecret, refreshToken: refresh)
            }
            #expect(reused?.oauthError == "invalid_grant")
            let token = try await endpoint.authorizationCode(
                tokenURL: base + "/oauth/token", clientId: LightspeedSandbox.defaultClientId, clientSecret: LightspeedSandbox.defaultClientSecret,
                code: sandboxes.lightspeed.issueCode(redirectUri: Self.redirectUri), redirectUri: Self.redirectUri).accessToken

            func post(_ path: String, _ body: JSONValue, method: String = "POST", auth: Bool = true) async throws -> (Int, JSONValue?) {
                let response = try await client.send(method: .init(rawValue: method), url: base + path,
                                                     headers: (auth ? [("Authorization", "Bearer \(token)")] : []) + [("Content-Type", "application/json")],
                                                     body: body.bytes)
                return (response.status, try? JSONValue(JSONParser.parse(response.body)))
            }
            let good = try LightspeedConnector.orderBody(Self.order, settings: try Self.settings(), endpointId: "ep-1")
            #expect(try await post("/o/op/1/order/toGo", good, auth: false).0 == 401)
            let (unregistered, spring) = try await post("/o/op/1/order/toGo", good)
            #expect(unregistered == 400 && Self.firstErrorField(spring) == .string("endpointId") && spring?["error"] == .string("Bad Request"))
            let registration = LightspeedConnector.webhookBody(endpointId: "ep-1", url: "http://127.0.0.1:9/hook", username: "cata", password: nil)
            #expect(try await post("/o/wh/1/webhook", registration, method: "PUT").0 == 200)
            #expect(try await post("/o/wh/1/webhook", registration, method: "PUT").0 == 409)
            #expect(try await post("/o/op/1/order/toGo", good).0 == 200)
            let (duplicate, fail) = try await post("/o/op/1/order/toGo", good)
            #expect(duplicate == 409 && fail?["msg"]?.stringValue?.contains("reference has already been used") == true)
            guard case .object(var members) = good else { throw TestFailure("not an object") }
            members = members.map { $0.0 == "thirdPartyReference" ? ($0.0, .string("other-ref")) : $0 }
            members = members.map { $0.0 == "items" ? ($0.0, .array([.object([("quantity", .number("1")), ("sku", .string("UNKNOWN"))])])) : $0 }
            let (unknown, unknownError) = try await post("/o/op/1/order/toGo", .object(members))
            #expect(unknown == 400 && Self.firstErrorField(unknownError) == .string("items[0].sku"))
            #expect(sandboxes.lightspeed.orders.count == 1)
        }
    }
}

@Suite("Store contract: OAuth authorization states")
struct OAuthStateStoreContractTests {
    @Test("a state is spent once, and not after it expired", arguments: StoreEngines.all)
    func spentOnce(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            let tenant = StoreContractTests.tenant
            try await stores.createTenant(tenant, createdAt: 1)
            let state = OAuthAuthorizationState(stateHash: "h1", tenantId: tenant.id, slug: "lightspeed", redirectUri: "https://x/cb",
                                                expiresAt: 1_000, createdAt: 10)
            try await stores.insertOAuthState(state)
            #expect(try await stores.consumeOAuthState(stateHash: "h1", now: 500) == state)
            #expect(try await stores.consumeOAuthState(stateHash: "h1", now: 500) == nil, "single use")
            #expect(try await stores.consumeOAuthState(stateHash: "unknown", now: 500) == nil)
            var late = state
            late.stateHash = "h2"
            try await stores.insertOAuthState(late)
            #expect(try await stores.consumeOAuthState(stateHash: "h2", now: 1_000) == nil, "expired")
            #expect(try await stores.consumeOAuthState(stateHash: "h2", now: 10) == nil, "an expired state is gone")
            var other = state
            other.stateHash = "h3"
            other.createdAt = 2_000
            other.expiresAt = 3_000
            try await stores.insertOAuthState(other)
            #expect(try await stores.consumeOAuthState(stateHash: "h3", now: 2_500)?.tenantId == tenant.id)
        }
    }
}
