import Foundation
import Hummingbird
import PosConnectors
import PosDomain
import PosSandbox
import PosServices
import Synchronization
import Testing

/// Order status both ways at the connector level: cancelling and polling against the doubles over
/// loopback HTTP, and reading Revel's signed `order.finalized` webhooks, including ones the Revel
/// double really sends.
@Suite("Order status: connectors and doubles")
struct StatusConnectorTests {
    /// One transport for the suite (an HTTP client must be shut down before it is released; this one never is).
    static let transport = HTTPTransport(timeout: .seconds(10), outboundGuard: nil)
    static let exchange = POSExchange(transport: transport, clock: SystemClock.now)
    static let desibits = DesibitsConnector(exchange: exchange)
    static let oktopos = OktoPOSConnector(exchange: exchange)
    static let revel = RevelConnector(exchange: exchange)

    /// The doubles on a loopback port.
    struct Rig {
        let sandboxes: PosSandboxes
        let origin: String

        static let keys = ["oktopos": OktoPOSSandbox.defaultToken, "desibits": DesibitsSandbox.defaultToken, "revel": RevelSandbox.defaultAPIKey]

        func access(_ slug: String, key: String? = nil) -> ProviderAccess {
            ProviderAccess(baseUrl: "\(origin)/\(slug)", webhookUrl: "", config: .object([]),
                           credentials: StaticCredentialSource(key: key ?? Self.keys[slug]!, secret: slug == "revel" ? RevelSandbox.defaultAPISecret : ""))
        }

        /// Sends the fixture order through `connector`; the POS's id for it.
        func dispatch(_ connector: some OrderDispatching) async throws -> String {
            let outcome = await connector.dispatch(POSDispatch(
                deliveryId: "d-1", attemptNumber: 1, order: ConnectorMappingTests.order, access: access(connector.slug), externalOutletId: "456",
                settings: ConnectorMappingTests.settings(connector.slug), progress: nil, checkpoint: { _ in }))
            #expect(outcome.succeeded, "\(outcome.reason)")
            return try #require(outcome.externalOrderId)
        }

        func reference(_ slug: String, _ externalOrderId: String, key: String? = nil) -> POSOrderReference {
            POSOrderReference(externalOrderId: externalOrderId, orderUUID: ConnectorMappingTests.order.uuid, externalOutletId: "456",
                              access: access(slug, key: key))
        }

        func cancellation(_ slug: String, _ externalOrderId: String, reason: String?, key: String? = nil) -> POSCancellation {
            POSCancellation(deliveryId: "c-1", attemptNumber: 1, order: reference(slug, externalOrderId, key: key), reason: reason,
                            settings: ConnectorMappingTests.settings(slug))
        }

        /// One plain HTTP call to the doubles.
        func call(_ method: String, _ path: String, headers: [(String, String)] = [], json: String? = nil) async throws -> (status: Int, json: JSONValue?) {
            var headers = headers
            if json != nil { headers.append(("Content-Type", "application/json")) }
            let response = try await StatusConnectorTests.transport.send(
                method: .init(rawValue: method), url: origin + path, headers: headers, body: json.map { Array($0.utf8) })
            return (response.status, JSONValue(parsing: String(decoding: response.body, as: UTF8.self)))
        }
    }

    /// A POS id the doubles hand out as an integer.
    static func number(_ id: String) throws -> Int { try #require(Int(id)) }

    static func withRig(_ body: (Rig) async throws -> Void) async throws {
        let sandboxes = PosSandboxes()
        try await withSandboxServer(sandboxes) { origin in try await body(Rig(sandboxes: sandboxes, origin: origin)) }
    }

    @Test("capabilities: desibits cancels and polls, OktoPOS cancels, Revel receives status webhooks")
    func capabilities() {
        #expect(Set(ConnectorCapability.of(Self.desibits)).isSuperset(of: [.dispatchOrder, .cancelOrder, .statusPolling]))
        #expect(ConnectorCapability.of(Self.oktopos).contains(.cancelOrder))
        #expect(!ConnectorCapability.of(Self.oktopos).contains(.statusPolling), "order/ready says nothing about the kitchen")
        #expect(ConnectorCapability.of(Self.revel).contains(.inboundStatus))
        #expect(!ConnectorCapability.of(Self.revel).contains(.cancelOrder))
    }

    // MARK: desibits

    @Test("desibits cancel: the double cancels the order with our reason; a retry of it succeeds; a paid or unknown order is refused")
    func desibitsCancel() async throws {
        try await Self.withRig { rig in
            let id = try await rig.dispatch(Self.desibits)
            let cancelled = await Self.desibits.cancel(rig.cancellation("desibits", id, reason: "customer changed their mind"))
            #expect(cancelled.succeeded && cancelled.statusCode == 200, "\(cancelled.reason)")
            #expect(cancelled.externalOrderId == id)
            let order = try #require(rig.sandboxes.desibits.order(id: try Self.number(id)))
            #expect(order.status == "cancelled")
            #expect(order.cancelReason == "customer changed their mind")

            // Our first answer was lost: the retry finds the order cancelled, which is what it asked for.
            let retried = await Self.desibits.cancel(rig.cancellation("desibits", id, reason: "customer changed their mind"))
            #expect(retried.succeeded, "\(retried.reason)")
            #expect(retried.statusCode == 409)
            #expect(retried.responseExcerpt?.contains("already cancelled") == true, "\(retried.responseExcerpt ?? "")")
            #expect(rig.sandboxes.desibits.requestCount("/api/v1/pos/orders/{id}/cancel") == 2)
            let again = try await rig.call("POST", "/desibits/api/v1/pos/orders/\(id)/cancel",
                                           headers: [("Authorization", "Bearer \(DesibitsSandbox.defaultToken)")], json: #"{"reason":"again"}"#)
            #expect(again.status == 409 && again.json?["message"] == .string("Order is already cancelled"), "\(String(describing: again.json))")
            #expect(again.json?["data"]?["status"] == .string("cancelled") && again.json?["data"]?["cancel_reason"] == .string("customer changed their mind"))

            // No reason given: the API requires one, so the connector sends its own.
            let draft = try await rig.call("POST", "/desibits/api/v1/pos/orders", headers: [("Authorization", "Bearer \(DesibitsSandbox.defaultToken)")],
                                           json: #"{"order_type_id":3,"items":[{"menu_item_id":15,"quantity":1,"price":35.00}]}"#)
            let draftId = try #require(draft.json?["data"]?["id"]?.idText)
            #expect(await Self.desibits.cancel(rig.cancellation("desibits", draftId, reason: nil)).succeeded)
            #expect(rig.sandboxes.desibits.order(id: try Self.number(draftId))?.cancelReason == "Cancelled by Cata")

            // A paid order can no longer be cancelled: refused, and retrying would not change that.
            let paidId = try await Self.paidDesibitsOrder(rig)
            let refused = await Self.desibits.cancel(rig.cancellation("desibits", paidId, reason: "too late"))
            #expect(refused.failureClass == .rejected && !refused.retryable && refused.statusCode == 422, "\(refused.reason)")
            #expect(refused.reason.contains("Illegal status transition from paid to cancelled"), "\(refused.reason)")
            #expect(rig.sandboxes.desibits.order(id: try Self.number(paidId))?.status == "paid")

            let unknown = await Self.desibits.cancel(rig.cancellation("desibits", "999", reason: "x"))
            #expect(unknown.failureClass == .rejected && unknown.statusCode == 404, "\(unknown.reason)")
            let noId = await Self.desibits.cancel(rig.cancellation("desibits", "", reason: "x"))
            #expect(noId.failureClass == .mapping)
        }
    }

    /// An order taken through to `paid` over the API; its id.
    static func paidDesibitsOrder(_ rig: Rig) async throws -> String {
        let auth = [("Authorization", "Bearer \(DesibitsSandbox.defaultToken)")]
        let created = try await rig.call("POST", "/desibits/api/v1/pos/orders", headers: auth,
                                         json: #"{"order_type_id":3,"items":[{"menu_item_id":16,"quantity":1,"price":8.00}]}"#)
        let id = try #require(created.json?["data"]?["id"]?.idText)
        for status in ["kot", "billed", "paid"] {
            let moved = try await rig.call("PUT", "/desibits/api/v1/pos/orders/\(id)/status", headers: auth, json: #"{"status":"\#(status)"}"#)
            #expect(moved.status == 200, "\(String(describing: moved.json))")
        }
        return id
    }

    @Test("desibits cancel with a wrong token is an auth failure, not retried; the order stays as it was")
    func desibitsCancelAuth() async throws {
        try await Self.withRig { rig in
            let id = try await rig.dispatch(Self.desibits)
            let outcome = await Self.desibits.cancel(rig.cancellation("desibits", id, reason: "x", key: "wrong-token"))
            #expect(outcome.failureClass == .auth && !outcome.retryable && outcome.statusCode == 401, "\(outcome.reason)")
            #expect(rig.sandboxes.desibits.order(id: try Self.number(id))?.status == "kot")
        }
    }

    @Test("desibits poll follows the kitchen: each KOT status change (API, control endpoint, in-process) and a cancellation")
    func desibitsPoll() async throws {
        try await Self.withRig { rig in
            let id = try await rig.dispatch(Self.desibits)
            let reference = rig.reference("desibits", id)
            let desibits = rig.sandboxes.desibits
            let kot = try #require(desibits.order(id: try Self.number(id))?.kots.first)
            #expect(kot.number == "KOT-001" && kot.status == "sent_to_kitchen")

            let accepted = try await Self.desibits.status(of: reference)
            #expect(accepted == OrderStatusUpdate(externalOrderId: id, orderUUID: ConnectorMappingTests.order.uuid, status: .accepted,
                                                  posStatus: "kot:sent_to_kitchen", occurredAt: RFC3339.parseMilliseconds(kot.updatedAt)))
            #expect(accepted.occurredAt != nil)

            // The kitchen display moves the ticket through the vendor's API…
            let auth = [("Authorization", "Bearer \(DesibitsSandbox.defaultToken)")]
            let moved = try await rig.call("PUT", "/desibits/api/v1/pos/kot/KOT-001/status", headers: auth, json: #"{"status":"in_kitchen"}"#)
            #expect(moved.status == 200 && moved.json?["data"]?["status"] == .string("in_kitchen"), "\(String(describing: moved.json))")
            let inProgress = try await Self.desibits.status(of: reference)
            #expect(inProgress.status == .inProgress && inProgress.posStatus == "kot:in_kitchen")

            // …a test through the control endpoint (no token)…
            let controlled = try await rig.call("PUT", "/desibits/_sandbox/kot/KOT-001/status", json: #"{"status":"food_ready"}"#)
            #expect(controlled.status == 200, "\(String(describing: controlled.json))")
            let ready = try await Self.desibits.status(of: reference)
            #expect(ready.status == .ready && ready.posStatus == "kot:food_ready")

            // …or in process.
            try desibits.updateKOTStatus("KOT-001", to: "served")
            let completed = try await Self.desibits.status(of: reference)
            #expect(completed.status == .completed && completed.posStatus == "kot:served")

            let cancelledId = try await rig.dispatch(Self.desibits)
            #expect(await Self.desibits.cancel(rig.cancellation("desibits", cancelledId, reason: "no driver")).succeeded)
            let cancelled = try await Self.desibits.status(of: rig.reference("desibits", cancelledId))
            #expect(cancelled.status == .cancelled && cancelled.posStatus == "order:cancelled" && cancelled.reason == "no driver")
            #expect(cancelled.externalOrderId == cancelledId)

            let draft = try await rig.call("POST", "/desibits/api/v1/pos/orders", headers: auth,
                                           json: #"{"order_type_id":3,"items":[{"menu_item_id":15,"quantity":1,"price":35.00}]}"#)
            let draftStatus = try await Self.desibits.status(of: rig.reference("desibits", try #require(draft.json?["data"]?["id"]?.idText)))
            #expect(draftStatus.status == nil && draftStatus.posStatus == "order:draft", "no KOT yet: nothing to report")
        }
    }

    @Test("desibits KOT status: forward only; unknown statuses and backward moves are a 422, an unknown KOT a 404")
    func desibitsKOTStatusRules() async throws {
        try await Self.withRig { rig in
            _ = try await rig.dispatch(Self.desibits)
            let auth = [("Authorization", "Bearer \(DesibitsSandbox.defaultToken)")]
            func put(_ kot: String, _ body: String, headers: [(String, String)] = auth) async throws -> (status: Int, json: JSONValue?) {
                try await rig.call("PUT", "/desibits/api/v1/pos/kot/\(kot)/status", headers: headers, json: body)
            }
            #expect(try await put("KOT-001", #"{"status":"food_ready"}"#).status == 200, "steps may be skipped")
            let back = try await put("KOT-001", #"{"status":"in_kitchen"}"#)
            #expect(back.status == 422)
            #expect(back.json?["errors"]?["status"] == .array([.string("Illegal KOT status transition from food_ready to in_kitchen")]))
            #expect(try await put("KOT-001", #"{"status":"food_ready"}"#).status == 422, "not a step forward")
            let unknown = try await put("KOT-001", #"{"status":"eaten"}"#)
            #expect(unknown.status == 422 && unknown.json?["errors"]?["status"] == .array([.string("The selected status is invalid.")]))
            let missing = try await put("KOT-001", "{}")
            #expect(missing.status == 422 && missing.json?["errors"]?["status"] == .array([.string("The status field is required.")]))
            let noKOT = try await put("KOT-404", #"{"status":"served"}"#)
            #expect(noKOT.status == 404 && noKOT.json?["success"] == .bool(false))
            #expect(try await put("KOT-001", #"{"status":"served"}"#, headers: []).status == 401)
            #expect(rig.sandboxes.desibits.orders.first?.kots.first?.status == "food_ready")

            #expect(throws: DesibitsSandbox.KOTStatusRefusal.notForward(from: "food_ready", to: "sent_to_kitchen")) {
                try rig.sandboxes.desibits.updateKOTStatus("KOT-001", to: "sent_to_kitchen")
            }
            let shown = try await rig.call("GET", "/desibits/api/v1/pos/orders/123", headers: auth)
            guard case .array(let kots)? = shown.json?["data"]?["kots"] else { throw TestFailure("no kots: \(String(describing: shown.json))") }
            #expect(kots.first?["kot_number"] == .string("KOT-001") && kots.first?["status"] == .string("food_ready"))
        }
    }

    @Test("desibits poll failures: a wrong token is an auth failure, an unknown order is not")
    func desibitsPollFailures() async throws {
        try await Self.withRig { rig in
            let id = try await rig.dispatch(Self.desibits)
            let denied = await #expect(throws: ConnectorFailure.self) { try await Self.desibits.status(of: rig.reference("desibits", id, key: "wrong")) }
            #expect(denied?.isAuthFailure == true, "\(denied?.message ?? "")")
            let unknown = await #expect(throws: ConnectorFailure.self) { try await Self.desibits.status(of: rig.reference("desibits", "999")) }
            #expect(unknown?.isAuthFailure == false)
            #expect(unknown?.message.contains("HTTP 404") == true, "\(unknown?.message ?? "")")
        }
    }

    @Test("desibits status mapping: the kitchen's KOT status, cancelled over everything, billing ignored", arguments: [
        ("draft", nil, nil, "order:draft"),
        ("kot", nil, nil, "order:kot"),
        ("paid", nil, nil, "order:paid"),
        ("kot", "sent_to_kitchen", OrderStatus.accepted, "kot:sent_to_kitchen"),
        ("kot", "in_kitchen", .inProgress, "kot:in_kitchen"),
        ("kot", "food_ready", .ready, "kot:food_ready"),
        ("kot", "served", .completed, "kot:served"),
        ("billed", "in_kitchen", .inProgress, "kot:in_kitchen"),
        ("paid", "served", .completed, "kot:served"),
        ("kot", "voided", nil, "kot:voided"),
        ("cancelled", nil, .cancelled, "order:cancelled"),
        ("cancelled", "food_ready", .cancelled, "order:cancelled"),
    ] as [(String, String?, OrderStatus?, String)])
    func desibitsMapping(_ orderStatus: String, _ kotStatus: String?, _ expected: OrderStatus?, _ posStatus: String) {
        let mapped = DesibitsConnector.status(orderStatus: orderStatus, kotStatus: kotStatus)
        #expect(mapped.status == expected)
        #expect(mapped.posStatus == posStatus)
    }

    @Test("desibits order body → update: the latest KOT counts, times are read, a malformed body names the field")
    func desibitsStatusUpdate() throws {
        let reference = POSOrderReference(externalOrderId: "123", orderUUID: "uuid-1", externalOutletId: "456",
                                          access: ProviderAccess(baseUrl: "http://127.0.0.1:9", webhookUrl: "", config: .object([]),
                                                                 credentials: StaticCredentialSource(key: "unused", secret: "")))
        func update(_ json: String) throws(ValidationError) -> OrderStatusUpdate {
            try DesibitsConnector.statusUpdate(JSONValue(parsing: json)!, for: reference)
        }
        let twoTickets = try update(#"""
            {"id":123,"status":"paid","updated_at":"2026-01-01T10:00:00Z","kots":[
             {"kot_number":"KOT-001","status":"served","updated_at":"2026-01-01T10:05:00Z"},
             {"kot_number":"KOT-002","status":"in_kitchen","updated_at":"2026-01-01T10:07:00.250Z"}]}
            """#)
        #expect(twoTickets == OrderStatusUpdate(externalOrderId: "123", orderUUID: "uuid-1", status: .inProgress, posStatus: "kot:in_kitchen",
                                                occurredAt: RFC3339.parseMilliseconds("2026-01-01T10:07:00.250Z")))
        let cancelled = try update(#"{"id":123,"status":"cancelled","updated_at":"2026-01-01T11:00:00+08:00","cancel_reason":"closed","kots":[{"status":"served"}]}"#)
        #expect(cancelled.status == .cancelled && cancelled.reason == "closed")
        #expect(cancelled.occurredAt == RFC3339.parseMilliseconds("2026-01-01T03:00:00Z"))
        #expect(try update(#"{"status":"kot","kots":[{"status":"food_ready","updated_at":"yesterday"}]}"#).occurredAt == nil)
        #expect(throws: ValidationError(field: "data.status", message: "is required")) { try update(#"{"id":123}"#) }
        #expect(throws: ValidationError(field: "data.kots", message: "must be an array")) { try update(#"{"status":"kot","kots":{}}"#) }
        #expect(throws: ValidationError(field: "data.kots[].status", message: "is required")) { try update(#"{"status":"kot","kots":[{}]}"#) }
        #expect(DesibitsConnector.cancelBody(reason: "  ") == .object([("reason", .string("Cancelled by Cata"))]))
        #expect(DesibitsConnector.cancelBody(reason: "sold out") == .object([("reason", .string("sold out"))]))
    }

    // MARK: OktoPOS

    @Test("OktoPOS cancel: order/status with the internalId as an integer, CANCELLED and our reason, recorded by the double")
    func oktoposCancel() async throws {
        try await Self.withRig { rig in
            let id = try await rig.dispatch(Self.oktopos)
            #expect(id == "12345")
            let outcome = await Self.oktopos.cancel(rig.cancellation("oktopos", id, reason: "kitchen closed"))
            #expect(outcome.succeeded && outcome.statusCode == 200, "\(outcome.reason)")
            let update = try #require(rig.sandboxes.oktopos.statusUpdates.first)
            #expect(rig.sandboxes.oktopos.statusUpdates.count == 1)
            #expect(update.internalId == 12345 && update.status == "CANCELLED")
            #expect(update.payload == .object([("reason", .string("kitchen closed"))]))
            #expect(rig.sandboxes.oktopos.orders.first?.status == "CANCELLED")

            let unknown = await Self.oktopos.cancel(rig.cancellation("oktopos", "99999", reason: nil))
            #expect(unknown.failureClass == .rejected && unknown.statusCode == 404 && !unknown.retryable, "\(unknown.reason)")
            #expect(unknown.reason.contains("order with internalId 99999 not found"), "\(unknown.reason)")

            let denied = await Self.oktopos.cancel(rig.cancellation("oktopos", id, reason: nil, key: "wrong"))
            #expect(denied.failureClass == .auth && denied.statusCode == 401, "\(denied.reason)")

            let requests = rig.sandboxes.oktopos.requestCount("/order/status")
            let notAnId = await Self.oktopos.cancel(rig.cancellation("oktopos", "ord-abc", reason: nil))
            #expect(notAnId.failureClass == .mapping && notAnId.reason.hasPrefix("order.externalOrderId"), "\(notAnId.reason)")
            #expect(rig.sandboxes.oktopos.requestCount("/order/status") == requests, "nothing was sent")
        }
        #expect(try OktoPOSConnector.cancelBody(externalOrderId: "12345", reason: nil)
            == .object([("orderId", .number("12345")), ("status", .string("CANCELLED"))]))
    }

    // MARK: Revel, reading webhooks

    static let secret = "revel-shared-secret"

    /// An `order.finalized` body as Revel sends it (OrderAllInOne, trimmed).
    static let finalizedBody = #"""
        {"orderInfo":{"id":32759,"uuid":"b1c2","establishment":"/enterprise/Establishment/456/","created_date":"2026-04-29T14:30:00+08:00",
        "updated_date":"2026-04-29T14:59:40+08:00","closed":true,"web_order":true,"dining_option":2,"notes":"Cata order ORD-2024-042"},
        "items":[{"product":501,"quantity":2,"price":12.50}],
        "paymentInfo":[{"payment_type":7,"amount":36.40,"tip":2.00,"transaction_id":"ord-7f3d2c1e-0000-4000-8000-000000000042"}],
        "orderHistory":[]}
        """#

    static func webhook(_ body: String, signature: String?, event: String? = "order.finalized") -> InboundWebhook {
        var headers: [(String, String)] = [("Content-Type", "application/json"), ("X-Revel-Instance", "acme")]
        if let signature { headers.append(("X-Revel-Signature", signature)) }
        if let event { headers.append(("X-Revel-Event-Type", event)) }
        return InboundWebhook(headers: headers, body: Array(body.utf8), receivedAt: 0)
    }

    static func signed(_ body: String, event: String? = "order.finalized", secret: String = secret) -> InboundWebhook {
        webhook(body, signature: RevelConnector.signature(of: Array(body.utf8), secret: secret), event: event)
    }

    @Test("Revel order.finalized with a good signature is COMPLETED for Revel's order id and our uuid, at Revel's time")
    func revelFinalized() throws {
        let expected = InboundWebhookReading.statusUpdates([OrderStatusUpdate(
            externalOrderId: "32759", orderUUID: "ord-7f3d2c1e-0000-4000-8000-000000000042", status: .completed, posStatus: "order.finalized",
            occurredAt: RFC3339.parseMilliseconds("2026-04-29T06:59:40Z"))])
        #expect(try Self.revel.readInbound(Self.signed(Self.finalizedBody), webhookSecret: Self.secret) == expected)

        let hex = RevelConnector.signature(of: Array(Self.finalizedBody.utf8), secret: Self.secret)
        #expect(hex.count == 40 && hex == hex.lowercased(), "SHA-1 is 20 bytes: 40 lowercase hex digits")
        let prefixed = Self.webhook(Self.finalizedBody, signature: "sha1=" + hex.uppercased())
        #expect(try Self.revel.readInbound(prefixed, webhookSecret: Self.secret) == expected, "a sha1= prefix and upper case are accepted")
        let headerless = Self.signed(Self.finalizedBody, event: nil)
        #expect(try Self.revel.readInbound(headerless, webhookSecret: Self.secret) == expected, "an order body without an event header")
    }

    /// Webhooks that must not be read, and the secret each is checked with.
    enum Unverified: String, CaseIterable, Sendable {
        case tamperedBody, wrongSecret, missingHeader, emptyHeader, truncatedSignature, noSecretSet, emptySecret, garbage

        var webhook: InboundWebhook {
            let body = StatusConnectorTests.finalizedBody
            let good = RevelConnector.signature(of: Array(body.utf8), secret: StatusConnectorTests.secret)
            return switch self {
            case .tamperedBody: StatusConnectorTests.webhook(body.replacingOccurrences(of: "32759", with: "32760"), signature: good)
            case .wrongSecret: StatusConnectorTests.signed(body, secret: "not-the-secret")
            case .missingHeader: StatusConnectorTests.webhook(body, signature: nil)
            case .emptyHeader: StatusConnectorTests.webhook(body, signature: "")
            case .truncatedSignature: StatusConnectorTests.webhook(body, signature: String(good.dropLast()))
            case .noSecretSet: StatusConnectorTests.signed(body)
            case .emptySecret: StatusConnectorTests.signed(body, secret: "")
            case .garbage: StatusConnectorTests.webhook("not json", signature: "00")
            }
        }

        var secret: String? {
            switch self {
            case .noSecretSet: nil
            case .emptySecret: ""
            default: StatusConnectorTests.secret
            }
        }
    }

    @Test("Revel signatures: tampered body, wrong secret, missing header or no secret set are unverified and never read",
          arguments: Unverified.allCases)
    func revelUnverified(_ testCase: Unverified) {
        let rejection = #expect(throws: InboundWebhookRejection.self, "\(testCase)") {
            try Self.revel.readInbound(testCase.webhook, webhookSecret: testCase.secret)
        }
        guard case .unverified? = rejection else {
            Issue.record("\(testCase): \(String(describing: rejection))")
            return
        }
    }

    @Test("Revel: ping is a handshake answered with the same body; other events and open orders are ignored; bad bodies are unreadable")
    func revelOtherBodies() throws {
        #expect(try Self.revel.readInbound(Self.signed(#"{"ping":"pong"}"#, event: nil), webhookSecret: Self.secret)
            == .handshake(reply: .object([("ping", .string("pong"))])))
        #expect(try Self.revel.readInbound(Self.signed(#"{"ping":"pong"}"#, event: "ping"), webhookSecret: Self.secret)
            == .handshake(reply: .object([("ping", .string("pong"))])))
        let customer = try Self.revel.readInbound(Self.signed(#"{"id":7,"first_name":"Ann"}"#, event: "customer.created"), webhookSecret: Self.secret)
        #expect(customer == .ignored(reason: "Revel event customer.created carries no order status"))
        let open = Self.finalizedBody.replacingOccurrences(of: #""closed":true"#, with: #""closed":false"#)
        #expect(try Self.revel.readInbound(Self.signed(open), webhookSecret: Self.secret)
            == .ignored(reason: "Revel order 32759 is not closed yet (closed=false)"))
        guard case .ignored = try Self.revel.readInbound(Self.signed(#"{"id":1}"#, event: nil), webhookSecret: Self.secret) else {
            Issue.record("a body that is no order, without an event type, is ignored")
            return
        }

        let unreadable: [(body: String, field: String)] = [
            ("not json", "body"),
            ("[1,2]", "body"),
            (#"{"items":[]}"#, "orderInfo"),
            (#"{"orderInfo":{"closed":true}}"#, "orderInfo.id"),
            (#"{"orderInfo":"32759"}"#, "orderInfo"),
        ]
        for (body, field) in unreadable {
            let rejection = #expect(throws: InboundWebhookRejection.self) { try Self.revel.readInbound(Self.signed(body), webhookSecret: Self.secret) }
            guard case .unreadable(let error)? = rejection else {
                Issue.record("\(body): \(String(describing: rejection))")
                continue
            }
            #expect(error.field == field, "\(body): \(error)")
        }
        let noPayment = try Self.revel.readInbound(Self.signed(#"{"orderInfo":{"id":"32759","updated_date":"2026-04-29T14:59:40"}}"#),
                                                   webhookSecret: Self.secret)
        #expect(noPayment == .statusUpdates([OrderStatusUpdate(externalOrderId: "32759", orderUUID: nil, status: .completed,
                                                               posStatus: "order.finalized", occurredAt: nil)]),
                "not one of ours as far as the body says; a date without an offset cannot be placed")
    }

    // MARK: Revel, the double sending webhooks

    /// A receiver that reads Revel webhooks with the connector, as the service would, and answers accordingly.
    final class RevelWebhookReceiver: Sendable {
        struct Received: Sendable {
            let webhook: InboundWebhook
            let reading: Result<InboundWebhookReading, InboundWebhookRejection>
        }

        final class Log: Sendable {
            private let entries = Mutex<[Received]>([])

            func append(_ entry: Received) { entries.withLock { $0.append(entry) } }
            var all: [Received] { entries.withLock { $0 } }
        }

        private let server: LiveServer
        private let log: Log

        var url: String { "http://127.0.0.1:\(server.port)/revel-hook" }
        var received: [Received] { log.all }

        private init(server: LiveServer, log: Log) {
            self.server = server
            self.log = log
        }

        static func start(secret: String) async throws -> RevelWebhookReceiver {
            let log = Log()
            let router = Router()
            router.post("/revel-hook") { request, _ -> Response in
                let body = try await request.body.collect(upTo: 1 << 20)
                let webhook = InboundWebhook(headers: request.headers.map { ($0.name.canonicalName, $0.value) },
                                             body: Array(body.readableBytesView), receivedAt: SystemClock.now())
                let reading = Result { () throws(InboundWebhookRejection) -> InboundWebhookReading in
                    try StatusConnectorTests.revel.readInbound(webhook, webhookSecret: secret)
                }
                log.append(Received(webhook: webhook, reading: reading))
                let (status, answer): (Int, JSONValue) = switch reading {
                case .success(.handshake(let reply)): (200, reply)
                case .success(.statusUpdates(let updates)): (200, .object([("applied", .integer(updates.count))]))
                case .success(.ignored(let reason)): (200, .object([("skipped", .bool(true)), ("reason", .string(reason))]))
                case .failure(.unverified(let reason)): (401, .object([("error", .string(reason))]))
                case .failure(.unreadable(let error)): (400, .object([("error", .string("\(error.field) \(error.message)"))]))
                }
                return Response(status: .init(code: status), headers: [.contentType: "application/json"],
                                body: ResponseBody(byteBuffer: ByteBuffer(string: answer.serialized)))
            }
            return RevelWebhookReceiver(server: try await LiveServer.start(router: router), log: log)
        }

        func stop() async { await server.stop() }
    }

    /// The doubles and a receiver that checks signatures with ``secret``.
    static func withReceiver(_ body: (RevelWebhookReceiver, Rig) async throws -> Void) async throws {
        let receiver = try await RevelWebhookReceiver.start(secret: secret)
        do {
            try await withRig { rig in try await body(receiver, rig) }
        } catch {
            await receiver.stop()
            throw error
        }
        await receiver.stop()
    }

    @Test("Revel double: finalize POSTs a signed order.finalized the connector verifies and reads as COMPLETED for our order")
    func revelDoubleFinalize() async throws {
        try await Self.withReceiver { receiver, rig in
            let id = try await rig.dispatch(Self.revel)
            let notConfigured = try await rig.call("POST", "/revel/_sandbox/orders/\(id)/finalize")
            #expect(notConfigured.status == 409, "\(String(describing: notConfigured.json))")

            let configured = try await rig.call("PUT", "/revel/_sandbox/webhook",
                                                json: #"{"url":"\#(receiver.url)","secret":"\#(Self.secret)","instance":"acme"}"#)
            #expect(configured.status == 200, "\(String(describing: configured.json))")
            let finalized = try await rig.call("POST", "/revel/_sandbox/orders/\(id)/finalize")
            #expect(finalized.status == 200, "\(String(describing: finalized.json))")
            #expect(finalized.json?["status"] == .number("200"), "the double reports the receiver's answer")
            #expect(finalized.json?["body"] == .string(#"{"applied":1}"#))

            let received = try #require(receiver.received.first)
            #expect(receiver.received.count == 1)
            #expect(received.webhook.header("X-Revel-Event-Type") == "order.finalized")
            #expect(received.webhook.header("X-Revel-Instance") == "acme")
            #expect(received.webhook.header("X-Revel-Establishment-Id") == "456")
            let order = try #require(rig.sandboxes.revel.order(id: try Self.number(id)))
            let closedAt = try #require(order.finalizedAt.flatMap(RFC3339.parseMilliseconds))
            guard case .success(.statusUpdates(let updates)) = received.reading, let update = updates.first else {
                throw TestFailure("\(received.reading)")
            }
            #expect(updates.count == 1)
            #expect(update.externalOrderId == id)
            #expect(update.orderUUID == ConnectorMappingTests.order.uuid, "the transaction_id our cart sent")
            #expect(update.status == .completed && update.posStatus == "order.finalized")
            #expect(update.occurredAt == closedAt / 1000 * 1000, "Revel's updated_date, to the second")

            // A re-send (Revel's retry) carries the same event id.
            _ = try await rig.call("POST", "/revel/_sandbox/orders/\(id)/finalize")
            #expect(receiver.received.count == 2)
            #expect(receiver.received.map { $0.webhook.header("X-Revel-Event-Id") }.allSatisfy { $0 == order.finalizedEventId })

            let unknown = try await rig.call("POST", "/revel/_sandbox/orders/1/finalize")
            #expect(unknown.status == 404)

            let ping = try await rig.call("POST", "/revel/_sandbox/webhook/ping")
            #expect(ping.status == 200 && ping.json?["body"] == .string(#"{"ping":"pong"}"#), "\(String(describing: ping.json))")
            guard case .success(.handshake)? = receiver.received.last?.reading else { throw TestFailure("ping not read as a handshake") }
        }
    }

    @Test("Revel double signing with another secret than the receiver's is refused by the receiver, and the double says so")
    func revelDoubleWrongSecret() async throws {
        try await Self.withReceiver { receiver, rig in
            let id = try await rig.dispatch(Self.revel)
            rig.sandboxes.revel.configureWebhook(url: receiver.url, secret: "another-secret")
            let delivery = try await rig.sandboxes.revel.finalize(orderId: try Self.number(id))
            #expect(delivery.status == 401)
            #expect(delivery.responseBody.contains("does not match"), "\(delivery.responseBody)")
            guard case .failure(.unverified)? = receiver.received.first?.reading else { throw TestFailure("not refused") }
            #expect(rig.sandboxes.revel.webhookDeliveries.count == 1)
        }
    }
}
