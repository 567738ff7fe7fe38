import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import PosDomain
import PosSandbox
import Testing

/// An HTTP reply from a sandbox double; `json` keeps numbers as their source text.
private struct SandboxReply: Sendable {
    let status: Int
    let contentType: String?
    let text: String

    var json: JSONValue? { JSONValue(parsing: text) }
}

/// Talks to the doubles over real HTTP.
private struct SandboxClient: Sendable {
    let origin: String

    func send(_ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil) async throws -> SandboxReply {
        var request = URLRequest(url: try #require(URL(string: origin + path)))
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body { request.httpBody = Data(body.utf8) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        return SandboxReply(status: http.statusCode, contentType: http.value(forHTTPHeaderField: "Content-Type"),
                            text: String(decoding: data, as: UTF8.self))
    }

    // OktoPOS
    static let okto = ["X-API-Key": OktoPOSSandbox.defaultToken, "Content-Type": "application/json"]
    func okto(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = okto) async throws -> SandboxReply {
        try await send(method, "/oktopos" + path, headers: headers, body: body)
    }

    // desibits
    static let desibits = ["Authorization": "Bearer \(DesibitsSandbox.defaultToken)", "Content-Type": "application/json"]
    func desibits(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = desibits) async throws -> SandboxReply {
        try await send(method, "/desibits/api/v1/pos" + path, headers: headers, body: body)
    }

    // Revel
    static let revel = [
        "API-AUTHENTICATION": "\(RevelSandbox.defaultAPIKey):\(RevelSandbox.defaultAPISecret)", "Content-Type": "text/plain",
        "Accept": "application/json",
    ]
    func revel(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = revel) async throws -> SandboxReply {
        try await send(method, "/revel" + path, headers: headers, body: body)
    }
}

private func withSandboxes(
    _ sandboxes: PosSandboxes = PosSandboxes(), _ body: (PosSandboxes, SandboxClient) async throws -> Void
) async throws {
    let router = Router()
    sandboxes.addRoutes(to: router)
    let server = try await LiveServer.start(router: router)
    do {
        try await body(sandboxes, SandboxClient(origin: "http://127.0.0.1:\(server.port)"))
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
}

/// The first OktoPOS error message's text.
private func oktoText(_ reply: SandboxReply) -> String {
    guard case .array(let messages)? = reply.json?["messages"], let first = messages.first else { return "<no messages: \(reply.text)>" }
    return first["text"]?.stringValue ?? "<no text>"
}

@Suite("POS sandbox doubles")
struct SandboxDoubleTests {
    // MARK: Fixtures

    static func oktoOrder(orderId: String = "order-1", itemPrice: String = #""35.00""#, paymentValue: String = #""39.00""#,
                          firstItem: String? = nil, extra: String = "") -> String {
        let main = firstItem ?? #"{"basketItemId":1,"mainBasketItemId":1,"externalId":101,"name":"Classic Burger","quantity":1,"price":{"value":\#(itemPrice),"currency":"EUR"},"distributionChannel":{"dcId":35,"name":"DELIVERY"},"tax":{"taxRateId":23}}"#
        return #"""
        {"orderId":"\#(orderId)","payment":{"referenceId":"pay-1","paymentMethod":"CREDIT_CARD","price":{"value":\#(paymentValue),"currency":"EUR"},"status":"paid","paymentReceived":"2026-01-18T10:22:12Z"},
         "items":[\#(main),
                  {"basketItemId":2,"mainBasketItemId":1,"productId":"7f1c2a10-0000-4000-8000-000000000201","quantity":1,"price":{"value":"4.00","currency":"EUR"}}],
         "status":"ready","purchaseTime":{"timestamp":"2026-01-18T10:22:12Z","timezone":"Europe/Berlin"},"orderType":"DELIVERY",
         "pickup":{"timestamp":"2026-01-18T11:15:00","timezone":"Europe/Berlin","asapDelivery":false,"pickupToken":"HH01"},
         "tipTransactions":[{"amount":2.50,"type":"PAID","paidWith":"CREDIT_CARD"}],"intermediary":"Cata Food-Platform"\#(extra)}
        """#
    }

    static func desibitsOrder(price: String = "12.99", menuItemId: Int = 15, extra: String = "") -> String {
        #"{"order_type_id":3,"table_id":5,"items":[{"menu_item_id":\#(menuItemId),"quantity":2,"price":\#(price),"note":"No onions"},{"menu_item_id":16,"quantity":1,"price":8.00}]\#(extra)}"#
    }

    static func revelCart(price: String = "5.50", product: Int = 501, transactionId: String = "txn-1", modifier: Int = 3001) -> String {
        #"""
        {"skin":"weborder","establishmentId":456,"customMenuInfo":{"mode":0,"name":""},
         "items":[{"product":\#(product),"quantity":2,"price":\#(price),"special_request":"no onion","product_name_override":"",
                   "modifieritems":[{"modifier":\#(modifier),"product_id":501,"modifier_price":0.75,"qty":1,"qty_type":0,"mod_type":0}],
                   "products_sets":null}],
         "orderInfo":{"dining_option":2,"asap":true,"call_name":"Ann","notes":"","pickup_time":""},
         "paymentInfo":{"type":7,"amount":11.75,"tip":0,"transaction_id":"\#(transactionId)"}}
        """#
    }

    // MARK: OktoPOS

    @Test("OktoPOS accepts a correct order, records it, lists it as ready and takes a status update")
    func oktoposHappyPath() async throws {
        try await withSandboxes { sandboxes, client in
            let created = try await client.okto("POST", "/order/create", body: Self.oktoOrder())
            #expect(created.status == 200, "\(created.text)")
            #expect(created.json == .object([("internalId", .number("12345"))]))
            let orders = sandboxes.oktopos.orders
            #expect(orders.count == 1)
            #expect(orders.first?.orderId == "order-1")
            #expect(orders.first?.body["payment"]?["price"]?["value"] == .string("39.00"))

            let ready = try await client.okto("GET", "/order/ready")
            #expect(ready.status == 200)
            guard case .array(let readyOrders)? = ready.json else { Issue.record("not an array: \(ready.text)"); return }
            #expect(readyOrders.map { $0["orderId"] } == [.string("order-1")])

            let update = try await client.okto("POST", "/order/status", body: #"{"orderId":12345,"status":"done","payload":{"by":"test"}}"#)
            #expect(update.status == 200 && update.json == .object([("success", .bool(true))]), "\(update.text)")
            #expect(sandboxes.oktopos.orders.first?.status == "done")
            let unknown = try await client.okto("POST", "/order/status", body: #"{"orderId":99999,"status":"done"}"#)
            #expect(unknown.status == 404)
            #expect(unknown.json?["success"] == .bool(false))

            let control = try await client.send("GET", "/oktopos/_sandbox/orders")
            #expect(control.status == 200)
            guard case .array(let recorded)? = control.json?["orders"] else { Issue.record("\(control.text)"); return }
            #expect(recorded.first?["internalId"] == .number("12345"))
            #expect(sandboxes.oktopos.requestCount("/order/create") == 1)
        }
    }

    @Test("OktoPOS rejects a missing or wrong token with its error envelope, and reads a configured header name")
    func oktoposAuth() async throws {
        try await withSandboxes { sandboxes, client in
            let missing = try await client.okto("POST", "/order/create", body: Self.oktoOrder(), headers: ["Content-Type": "application/json"])
            #expect(missing.status == 401)
            #expect(missing.json?["success"] == .bool(false))
            #expect(missing.json?["version"] == .string("3.93.4"))
            #expect(oktoText(missing).contains("X-API-Key"))
            let wrong = try await client.okto("POST", "/order/create", body: Self.oktoOrder(), headers: ["X-API-Key": "nope"])
            #expect(wrong.status == 401)
            let ready = try await client.okto("GET", "/order/ready", headers: [:])
            #expect(ready.status == 401)
            #expect(sandboxes.oktopos.orders.isEmpty)
        }
        let custom = PosSandboxes(oktopos: OktoPOSSandbox(token: "t-1", tokenHeader: "X-Okto-Token"))
        try await withSandboxes(custom) { sandboxes, client in
            let old = try await client.okto("POST", "/order/create", body: Self.oktoOrder(), headers: ["X-API-Key": "t-1"])
            #expect(old.status == 401)
            let ok = try await client.okto("POST", "/order/create", body: Self.oktoOrder(), headers: ["X-Okto-Token": "t-1"])
            #expect(ok.status == 200, "\(ok.text)")
            #expect(sandboxes.oktopos.orders.count == 1)
        }
    }

    @Test("OktoPOS names the field at fault: missing fields, money as a JSON number, unknown articles, bad lines and zones")
    func oktoposValidation() async throws {
        try await withSandboxes { sandboxes, client in
            let cases: [(body: String, expected: String)] = [
                (Self.oktoOrder().replacingOccurrences(of: #""orderId":"order-1","#, with: ""), "orderId is required"),
                (Self.oktoOrder(itemPrice: "35.00"), #"items[0].price.value must be a decimal string such as "19.95""#),
                (Self.oktoOrder(paymentValue: "39"), "payment.price.value must be a decimal string"),
                (Self.oktoOrder(itemPrice: #""35.123456""#), "items[0].price.value must be a decimal string"),
                (Self.oktoOrder(firstItem: #"{"basketItemId":1,"mainBasketItemId":1,"externalId":777,"quantity":1,"price":{"value":"35.00","currency":"EUR"}}"#),
                 "items[0].externalId refers to an unknown article"),
                (Self.oktoOrder(firstItem: #"{"basketItemId":1,"mainBasketItemId":1,"quantity":1,"price":{"value":"35.00","currency":"EUR"}}"#),
                 "items[0] must identify its article"),
                (Self.oktoOrder(firstItem: #"{"basketItemId":1,"mainBasketItemId":2,"externalId":101,"quantity":1,"price":{"value":"35.00","currency":"EUR"}}"#),
                 "items[0].mainBasketItemId"),
                (Self.oktoOrder(firstItem: #"{"basketItemId":1,"mainBasketItemId":1,"externalId":101,"quantity":0,"price":{"value":"35.00","currency":"EUR"}}"#),
                 "items[0].quantity must be at least 1"),
                (Self.oktoOrder(firstItem: #"{"basketItemId":1,"mainBasketItemId":1,"externalId":101,"quantity":1,"price":{"value":"35.00","currency":"USD"}}"#),
                 "items[0].price.currency must equal payment.price.currency"),
                (Self.oktoOrder(firstItem: #"{"basketItemId":1,"mainBasketItemId":1,"externalId":101,"quantity":1,"price":{"value":"35.00","currency":"EUR"},"tax":{"taxRateId":99}}"#),
                 "items[0].tax.taxRateId refers to an unknown tax rate"),
                (Self.oktoOrder().replacingOccurrences(of: #""timezone":"Europe/Berlin"},"orderType""#, with: #""timezone":"Mars/Olympus"},"orderType""#),
                 "purchaseTime.timezone must be an IANA time-zone name"),
                (Self.oktoOrder().replacingOccurrences(of: #""orderType":"DELIVERY""#, with: #""orderType":"DRONE""#), "orderType must be one of"),
                (Self.oktoOrder().replacingOccurrences(of: #""amount":2.50"#, with: #""amount":"2.50""#), "tipTransactions[0].amount must be a JSON number"),
                (Self.oktoOrder().replacingOccurrences(of: "Cata Food-Platform", with: "Cata/Food"), "intermediary must match"),
                (Self.oktoOrder().replacingOccurrences(of: "2026-01-18T11:15:00", with: "2026-01-18T11:15:00Z"), "pickup.timestamp must be a local date-time"),
                ("{not json", "body is not valid JSON"),
            ]
            for (index, testCase) in cases.enumerated() {
                let reply = try await client.okto("POST", "/order/create", body: testCase.body)
                #expect(reply.status == 400, "case \(index): \(reply.text)")
                #expect(reply.json?["success"] == .bool(false), "case \(index)")
                #expect(oktoText(reply).contains(testCase.expected), "case \(index): \(oktoText(reply))")
            }
            #expect(sandboxes.oktopos.orders.isEmpty)
            #expect(sandboxes.oktopos.requestCount("/order/create") == cases.count)
            #expect(sandboxes.oktopos.requestCount("GET /order/create") == 0)
        }
    }

    @Test("OktoPOS answers a duplicate orderId with 409 carrying the first order's internalId")
    func oktoposDuplicate() async throws {
        try await withSandboxes { sandboxes, client in
            let first = try await client.okto("POST", "/order/create", body: Self.oktoOrder(orderId: "dup-1"))
            #expect(first.json?["internalId"] == .number("12345"))
            let second = try await client.okto("POST", "/order/create", body: Self.oktoOrder(orderId: "dup-1"))
            #expect(second.status == 409)
            #expect(oktoText(second) == #"order with orderId "dup-1" already exists"#)
            #expect(second.json?["items"] == .array([.object([("internalId", .number("12345"))])]))
            let other = try await client.okto("POST", "/order/create", body: Self.oktoOrder(orderId: "dup-2"))
            #expect(other.json?["internalId"] == .number("12346"))
            #expect(sandboxes.oktopos.orders.map(\.orderId) == ["dup-1", "dup-2"])
        }
    }

    @Test("OktoPOS failNext fails exactly one call, before anything is recorded")
    func oktoposFailNext() async throws {
        try await withSandboxes { sandboxes, client in
            sandboxes.oktopos.failNext("/order/create", status: 503)
            let failed = try await client.okto("POST", "/order/create", body: Self.oktoOrder())
            #expect(failed.status == 503)
            #expect(failed.json?["success"] == .bool(false))
            #expect(sandboxes.oktopos.orders.isEmpty)
            let retried = try await client.okto("POST", "/order/create", body: Self.oktoOrder())
            #expect(retried.status == 200)
            #expect(retried.json?["internalId"] == .number("12345"))
            #expect(sandboxes.oktopos.requestCount("/order/create") == 2)
        }
    }

    // MARK: desibits

    @Test("desibits: order, KOT and payment go through; exactly one order exists, paid, with one KOT")
    func desibitsHappyPath() async throws {
        try await withSandboxes { sandboxes, client in
            let methods = try await client.desibits("GET", "/payment-methods")
            #expect(methods.text == #"{"success":true,"data":[{"id":1,"name":"Cash","code":"cash"},{"id":2,"name":"Card","code":"card"},{"id":3,"name":"UPI","code":"upi"}]}"#)
            let kitchens = try await client.desibits("GET", "/kitchens")
            #expect(kitchens.text.contains(#"{"id":15,"name":"Classic Burger","price":35.00,"sku":"SKU-BURGER-01","category":"Burgers"}"#), "\(kitchens.text)")

            let created = try await client.desibits("POST", "/orders", body: Self.desibitsOrder())
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json?["data"] == .object([
                ("id", .number("123")), ("order_number", .string("ORD-001-123")), ("status", .string("draft")), ("total", .number("33.98")),
            ]))
            let kot = try await client.desibits("POST", "/orders/123/kot")
            #expect(kot.json?["data"] == .object([("kot_number", .string("KOT-001")), ("status", .string("sent_to_kitchen"))]), "\(kot.text)")
            let paid = try await client.desibits(
                "POST", "/orders/123/payment", body: #"{"payment_method":"card","amount":33.98,"transaction_id":"TXN-1","tip_amount":5.00}"#)
            #expect(paid.status == 200, "\(paid.text)")
            #expect(paid.json?["message"] == .string("Payment processed successfully"))
            #expect(paid.json?["data"] == .object([("payment_id", .number("456")), ("status", .string("paid"))]))

            let shown = try await client.desibits("GET", "/orders/123")
            #expect(shown.json?["data"]?["payment_status"] == .string("paid"))
            #expect(shown.json?["data"]?["status"] == .string("kot"))
            let listed = try await client.desibits("GET", "/orders?payment_status=paid")
            guard case .array(let paidOrders)? = listed.json?["data"] else { Issue.record("\(listed.text)"); return }
            #expect(paidOrders.count == 1)

            let orders = sandboxes.desibits.orders
            #expect(orders.count == 1)
            #expect(orders.first?.paymentStatus == "paid")
            #expect(orders.first?.kots.map(\.number) == ["KOT-001"])
            #expect(orders.first?.payments.map(\.transactionId) == ["TXN-1"])
            #expect(orders.first?.payments.first?.tipCents == 500)
            #expect(sandboxes.desibits.requestCount("POST /api/v1/pos/orders") == 1)
            #expect(sandboxes.desibits.requestCount("/api/v1/pos/orders/{id}/payment") == 1)
        }
    }

    @Test("desibits: missing or wrong Bearer token is 401 Unauthenticated")
    func desibitsAuth() async throws {
        try await withSandboxes { sandboxes, client in
            let missing = try await client.desibits("POST", "/orders", body: Self.desibitsOrder(), headers: ["Content-Type": "application/json"])
            #expect(missing.status == 401)
            #expect(missing.text == #"{"success":false,"message":"Unauthenticated."}"#)
            let wrong = try await client.desibits("GET", "/order-types", headers: ["Authorization": "Bearer nope"])
            #expect(wrong.status == 401)
            let basic = try await client.desibits("GET", "/order-types", headers: ["Authorization": DesibitsSandbox.defaultToken])
            #expect(basic.status == 401)
            #expect(sandboxes.desibits.orders.isEmpty)
        }
    }

    @Test("desibits: 422 with Laravel field paths for money as a string, too many decimals, unknown items and missing fields")
    func desibitsValidation() async throws {
        try await withSandboxes { sandboxes, client in
            let cases: [(body: String, field: String, message: String?)] = [
                (Self.desibitsOrder(price: #""12.99""#), "items.0.price", "The items.0.price field must be a number."),
                (Self.desibitsOrder(price: "12.999"), "items.0.price", "The items.0.price field must have 0-2 decimal places."),
                (Self.desibitsOrder(price: "-1.00"), "items.0.price", nil),
                (Self.desibitsOrder(menuItemId: 999), "items.0.menu_item_id", "The selected menu item is invalid."),
                (#"{"items":[{"menu_item_id":15,"quantity":1,"price":1.00}]}"#, "order_type_id", "The order_type_id field is required."),
                (#"{"order_type_id":9,"items":[{"menu_item_id":15,"quantity":1,"price":1.00}]}"#, "order_type_id", nil),
                (#"{"order_type_id":1,"items":[]}"#, "items", nil),
                (Self.desibitsOrder(extra: #","discount_type":"percent""#), "discount_value", nil),
                (Self.desibitsOrder(extra: #","discount_type":"bogus","discount_value":1"#), "discount_type", nil),
            ]
            for (index, testCase) in cases.enumerated() {
                let reply = try await client.desibits("POST", "/orders", body: testCase.body)
                #expect(reply.status == 422, "case \(index): \(reply.text)")
                #expect(reply.json?["message"] == .string("The given data was invalid."), "case \(index)")
                let messages = reply.json?["errors"]?[testCase.field]
                #expect(messages != nil, "case \(index): \(reply.text)")
                if let message = testCase.message { #expect(messages == .array([.string(message)]), "case \(index): \(reply.text)") }
            }
            let malformed = try await client.desibits("POST", "/orders", body: "{")
            #expect(malformed.status == 400)
            #expect(malformed.json?["success"] == .bool(false))
            #expect(sandboxes.desibits.orders.isEmpty)
        }
    }

    @Test("desibits: discounts reduce the total")
    func desibitsDiscount() async throws {
        try await withSandboxes { _, client in
            // 2 × 12.99 + 8.00 = 33.98; 10 % → 3.40 (3.398 rounded); total 30.58.
            let percent = try await client.desibits("POST", "/orders", body: Self.desibitsOrder(extra: #","discount_type":"percent","discount_value":10"#))
            #expect(percent.json?["data"]?["total"] == .number("30.58"), "\(percent.text)")
            let fixed = try await client.desibits("POST", "/orders", body: Self.desibitsOrder(extra: #","discount_type":"fixed","discount_value":3.98"#))
            #expect(fixed.json?["data"]?["total"] == .number("30.00"), "\(fixed.text)")
        }
    }

    @Test("desibits lifecycle: illegal transitions, a second KOT, a second payment and short payments are rejected")
    func desibitsLifecycle() async throws {
        try await withSandboxes { sandboxes, client in
            _ = try await client.desibits("POST", "/orders", body: Self.desibitsOrder())
            let skip = try await client.desibits("PUT", "/orders/123/status", body: #"{"status":"paid"}"#)
            #expect(skip.status == 422)
            #expect(skip.json?["message"] == .string("Illegal status transition from draft to paid"))
            let unknownStatus = try await client.desibits("PUT", "/orders/123/status", body: #"{"status":"eaten"}"#)
            #expect(unknownStatus.status == 422)

            #expect(try await client.desibits("POST", "/orders/123/kot").status == 200)
            let again = try await client.desibits("POST", "/orders/123/kot")
            #expect(again.status == 409)
            #expect(again.json?["message"] == .string("KOT already generated for this order"))
            let back = try await client.desibits("PUT", "/orders/123/status", body: #"{"status":"draft"}"#)
            #expect(back.json?["message"] == .string("Illegal status transition from kot to draft"))
            let billed = try await client.desibits("PUT", "/orders/123/status", body: #"{"status":"billed"}"#)
            #expect(billed.status == 200 && billed.json?["data"]?["status"] == .string("billed"), "\(billed.text)")

            let short = try await client.desibits("POST", "/orders/123/payment", body: #"{"payment_method":"cash","amount":10.00,"transaction_id":"T-0"}"#)
            #expect(short.status == 422)
            #expect(short.json?["errors"]?["amount"] != nil, "\(short.text)")
            let amountAsString = try await client.desibits("POST", "/orders/123/payment", body: #"{"payment_method":"cash","amount":"33.98","transaction_id":"T-0"}"#)
            #expect(amountAsString.json?["errors"]?["amount"] == .array([.string("The amount field must be a number.")]))
            let unknownMethod = try await client.desibits("POST", "/orders/123/payment", body: #"{"payment_method":"CARD","amount":33.98,"transaction_id":"T-0"}"#)
            #expect(unknownMethod.json?["errors"]?["payment_method"] != nil)
            let noTransaction = try await client.desibits("POST", "/orders/123/payment", body: #"{"payment_method":"card","amount":33.98}"#)
            #expect(noTransaction.json?["errors"]?["transaction_id"] != nil)

            let paid = try await client.desibits("POST", "/orders/123/payment", body: #"{"payment_method":"card","amount":33.98,"transaction_id":"T-1"}"#)
            #expect(paid.status == 200)
            let twice = try await client.desibits("POST", "/orders/123/payment", body: #"{"payment_method":"card","amount":33.98,"transaction_id":"T-2"}"#)
            #expect(twice.status == 409)
            #expect(twice.json?["message"] == .string("Order is already paid"))
            let replay = try await client.desibits("POST", "/orders/123/payment", body: #"{"payment_method":"card","amount":33.98,"transaction_id":"T-1"}"#)
            #expect(replay.status == 409)
            #expect(replay.json?["data"] == .object([("order_id", .number("123")), ("payment_id", .number("456"))]), "\(replay.text)")

            // The transaction id is unique across orders, too.
            _ = try await client.desibits("POST", "/orders", body: Self.desibitsOrder())
            let reused = try await client.desibits("POST", "/orders/124/payment", body: #"{"payment_method":"card","amount":33.98,"transaction_id":"T-1"}"#)
            #expect(reused.status == 409 && reused.json?["data"]?["order_id"] == .number("123"))
            let noReason = try await client.desibits("POST", "/orders/124/cancel", body: "{}")
            #expect(noReason.json?["errors"]?["reason"] != nil)
            let cancelled = try await client.desibits("POST", "/orders/124/cancel", body: #"{"reason":"customer left"}"#)
            #expect(cancelled.json?["data"]?["status"] == .string("cancelled"), "\(cancelled.text)")
            let payCancelled = try await client.desibits("POST", "/orders/124/payment", body: #"{"payment_method":"card","amount":33.98,"transaction_id":"T-3"}"#)
            #expect(payCancelled.status == 409)
            let kotCancelled = try await client.desibits("POST", "/orders/124/kot")
            #expect(kotCancelled.status == 422)
            let missing = try await client.desibits("GET", "/orders/999")
            #expect(missing.status == 404 && missing.text == #"{"success":false,"message":"Order not found."}"#)

            let orders = sandboxes.desibits.orders
            #expect(orders.map(\.status) == ["billed", "cancelled"])
            #expect(orders.map(\.paymentStatus) == ["paid", "unpaid"])
            #expect(orders.first?.payments.count == 1)
            #expect(orders.first?.kots.map(\.number) == ["KOT-001"])
            #expect(orders.last?.cancelReason == "customer left")
        }
    }

    @Test("desibits failNext over HTTP fails one payment call and changes nothing")
    func desibitsFailNext() async throws {
        try await withSandboxes { sandboxes, client in
            _ = try await client.desibits("POST", "/orders", body: Self.desibitsOrder())
            let armed = try await client.send("POST", "/desibits/_sandbox/fail-next",
                                              body: #"{"route":"/api/v1/pos/orders/{id}/payment","status":503,"times":1}"#)
            #expect(armed.status == 200, "\(armed.text)")
            let bogus = try await client.send("POST", "/desibits/_sandbox/fail-next", body: #"{"route":"/api/v1/pos/nope","status":503}"#)
            #expect(bogus.status == 400)
            let body = #"{"payment_method":"card","amount":33.98,"transaction_id":"T-1"}"#
            let failed = try await client.desibits("POST", "/orders/123/payment", body: body)
            #expect(failed.status == 503)
            #expect(failed.json?["success"] == .bool(false))
            #expect(sandboxes.desibits.order(id: 123)?.paymentStatus == "unpaid")
            let retried = try await client.desibits("POST", "/orders/123/payment", body: body)
            #expect(retried.status == 200)
            #expect(retried.json?["data"]?["payment_id"] == .number("456"))
            #expect(sandboxes.desibits.requestCount("/api/v1/pos/orders/{id}/payment") == 2)

            let reset = try await client.send("DELETE", "/desibits/_sandbox/orders")
            #expect(reset.status == 200)
            #expect(sandboxes.desibits.orders.isEmpty)
            #expect(sandboxes.desibits.requestCount("/api/v1/pos/orders/{id}/payment") == 0)
        }
    }

    // MARK: Revel

    @Test("Revel accepts a text/plain cart, records it, pages establishments and serves the menu")
    func revelHappyPath() async throws {
        try await withSandboxes { sandboxes, client in
            let submitted = try await client.revel("POST", "/specialresources/cart/submit", body: Self.revelCart())
            #expect(submitted.status == 200, "\(submitted.text)")
            #expect(submitted.text == #"{"status":"OK","orderId":32759}"#)
            let slash = try await client.revel("POST", "/specialresources/cart/submit/", body: Self.revelCart(transactionId: "txn-2"))
            #expect(slash.json?["orderId"] == .number("32760"), "\(slash.text)")
            #expect(sandboxes.revel.orders.map(\.transactionId) == ["txn-1", "txn-2"])
            guard case .array(let items)? = sandboxes.revel.orders.first?.body["items"] else { Issue.record("no items"); return }
            #expect(items.first?["price"] == .number("5.50"))
            #expect(sandboxes.revel.requestCount("/specialresources/cart/submit") == 2)

            let page = try await client.revel("GET", "/enterprise/Establishment/?limit=1&offset=0")
            #expect(page.status == 200)
            #expect(page.json?["meta"] == .object([
                ("limit", .number("1")), ("offset", .number("0")), ("total_count", .number("2")),
                ("next", .string("/revel/enterprise/Establishment/?limit=1&offset=1")), ("previous", .null),
            ]), "\(page.text)")
            #expect(page.json?["objects"] == .array([.object([("id", .number("456")), ("name", .string("Acme Downtown")), ("address", .string("1 Main Street"))])]))
            let all = try await client.revel("GET", "/enterprise/Establishment")
            #expect(all.json?["meta"]?["next"] == .null)

            let menu = try await client.revel("GET", "/weborders/menu/?establishment=456")
            #expect(menu.json?["status"] == .string("OK"))
            #expect(menu.json?["data"]?["modifiers"] == .array([
                .object([("id", .number("3001")), ("name", .string("Extra Cheese"))]), .object([("id", .number("3002")), ("name", .string("Bacon"))]),
                .object([("id", .number("3003")), ("name", .string("No onions"))]),
            ]))
            let noEstablishment = try await client.revel("GET", "/weborders/menu/")
            #expect(noEstablishment.status == 400 && noEstablishment.json?["errorMsg"] == .string("establishment: is required"))
            let unknownEstablishment = try await client.revel("GET", "/weborders/menu/?establishment=1")
            #expect(unknownEstablishment.status == 400)
        }
    }

    @Test("Revel: no credentials is a 401 HTML page, wrong ones a 403 HTML page")
    func revelAuth() async throws {
        try await withSandboxes { sandboxes, client in
            let missing = try await client.revel("POST", "/specialresources/cart/submit", body: Self.revelCart(), headers: ["Content-Type": "text/plain"])
            #expect(missing.status == 401)
            #expect(missing.contentType?.hasPrefix("text/html") == true)
            let wrong = try await client.revel("GET", "/enterprise/Establishment/",
                                               headers: ["API-AUTHENTICATION": "\(RevelSandbox.defaultAPIKey):wrong"])
            #expect(wrong.status == 403)
            #expect(wrong.contentType?.hasPrefix("text/html") == true)
            #expect(sandboxes.revel.orders.isEmpty)
        }
    }

    @Test("Revel: application/json is an Unhandled error; string or over-precise money, unknown ids and missing fields are 400")
    func revelValidation() async throws {
        try await withSandboxes { sandboxes, client in
            var json = SandboxClient.revel
            json["Content-Type"] = "application/json"
            let wrongType = try await client.revel("POST", "/specialresources/cart/submit", body: Self.revelCart(), headers: json)
            #expect(wrongType.status == 500)
            #expect(wrongType.text == #"{"status":"ERROR","errorMsg":"Unhandled error"}"#)

            let cases: [(body: String, expected: String)] = [
                (Self.revelCart(price: #""5.50""#), "items[0].price: must be a JSON number"),
                (Self.revelCart(price: "5.505"), "items[0].price: must have at most 2 decimal places"),
                (Self.revelCart(product: 999), "items[0].product: unknown product 999"),
                (Self.revelCart(modifier: 4), "items[0].modifieritems[0].modifier: unknown modifier 4"),
                (Self.revelCart().replacingOccurrences(of: #""establishmentId":456,"#, with: ""), "establishmentId: is required"),
                (Self.revelCart().replacingOccurrences(of: #""establishmentId":456"#, with: #""establishmentId":9"#), "establishmentId: unknown establishment 9"),
                (Self.revelCart().replacingOccurrences(of: #""quantity":2"#, with: #""quantity":0"#), "items[0].quantity: must be at least 1"),
                (Self.revelCart().replacingOccurrences(of: #""amount":11.75"#, with: #""amount":"11.75""#), "paymentInfo.amount: must be a JSON number"),
                (#"{"establishmentId":456,"items":[]}"#, "items: must not be empty"),
                ("[]", "body must be a JSON object"),
            ]
            for (index, testCase) in cases.enumerated() {
                let reply = try await client.revel("POST", "/specialresources/cart/submit", body: testCase.body)
                #expect(reply.status == 400, "case \(index): \(reply.text)")
                #expect(reply.json?["status"] == .string("ERROR"), "case \(index)")
                #expect(reply.json?["errorMsg"]?.stringValue?.contains(testCase.expected) == true, "case \(index): \(reply.text)")
            }
            #expect(sandboxes.revel.orders.isEmpty)
        }
    }

    @Test("Revel: a repeated transaction_id is 409 with the first orderId; failNext fails one submit and records nothing")
    func revelDuplicateAndFailNext() async throws {
        try await withSandboxes { sandboxes, client in
            let armed = try await client.send("POST", "/revel/_sandbox/fail-next", body: #"{"route":"/specialresources/cart/submit/","status":503}"#)
            #expect(armed.status == 200, "\(armed.text)")
            let failed = try await client.revel("POST", "/specialresources/cart/submit", body: Self.revelCart())
            #expect(failed.status == 503)
            #expect(failed.json?["status"] == .string("ERROR"))
            #expect(sandboxes.revel.orders.isEmpty)

            let first = try await client.revel("POST", "/specialresources/cart/submit", body: Self.revelCart())
            #expect(first.json?["orderId"] == .number("32759"), "\(first.text)")
            let duplicate = try await client.revel("POST", "/specialresources/cart/submit", body: Self.revelCart())
            #expect(duplicate.status == 409)
            #expect(duplicate.text == #"{"status":"ERROR","errorMsg":"Order with transaction_id txn-1 already exists","orderId":32759}"#)
            #expect(sandboxes.revel.orders.count == 1)
            #expect(sandboxes.revel.requestCount("POST /specialresources/cart/submit") == 3)

            let control = try await client.send("GET", "/revel/_sandbox/orders")
            guard case .array(let recorded)? = control.json?["orders"] else { Issue.record("\(control.text)"); return }
            #expect(recorded.count == 1)
            #expect(control.json?["requestCounts"]?["POST /specialresources/cart/submit"] == .number("3"))
        }
    }

    @Test("PosSandboxes mounts the webhook receiver next to the POS doubles")
    func webhookMounted() async throws {
        try await withSandboxes { sandboxes, client in
            let delivered = try await client.send("POST", "/webhook/acme", headers: ["Content-Type": "application/json"], body: "{}")
            #expect(delivered.status == 200)
            #expect(sandboxes.webhook.counts.received == 1)
        }
    }
}
