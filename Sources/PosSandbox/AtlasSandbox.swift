import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import Synchronization

/// A double of the Atlas Kitchen Admin API endpoints our connector uses: create order, order details
/// (by id and by identifier), menu list and menu details. Every call needs `X-Api-Key` and
/// `X-Merchant-Id`; money is integer cents; `serving_date` is `YYYY-MM-DD`; items must be known.
/// Like Atlas it has **no idempotency**: the same `external_order_id` twice makes two orders.
///
/// It also plays Atlas's webhook sender: once a receiver is configured (``configureWebhook(url:token:header:)``
/// or `PUT {prefix}/_sandbox/webhook`), ``sendEvent(orderId:eventType:state:)`` moves an order and POSTs
/// `{event_type, event_at, payload}` with the token (`Authorization: Bearer …` or a custom header) —
/// **twice**, as Atlas's at-least-once delivery does. And it can lose the answer to a create it carried
/// out (``loseNextAnswers(times:hold:)``), to prove a client does not create the order twice.
public final class AtlasSandbox: Sendable {
    public struct Outlet: Sendable, Hashable {
        public var id: Int
        public var name: String
        public var channelIds: [Int]

        public init(id: Int, name: String, channelIds: [Int]) {
            self.id = id
            self.name = name
            self.channelIds = channelIds
        }
    }

    public struct Product: Sendable, Hashable {
        /// The `item_id` orders name.
        public var id: Int
        public var name: String
        public var sku: String?
        public var priceCents: Int
        public var section: String
        public var subSection: String?
        public var modifierGroupIds: [Int]
        public var archived: Bool

        public init(id: Int, name: String, sku: String?, priceCents: Int, section: String, subSection: String? = nil,
                    modifierGroupIds: [Int] = [], archived: Bool = false) {
            self.id = id
            self.name = name
            self.sku = sku
            self.priceCents = priceCents
            self.section = section
            self.subSection = subSection
            self.modifierGroupIds = modifierGroupIds
            self.archived = archived
        }
    }

    /// A modifier: an item (orderable as a `sub_items` entry) offered in a group.
    public struct Modifier: Sendable, Hashable {
        public var itemId: Int
        public var name: String
        public var sku: String?
        public var priceCents: Int

        public init(itemId: Int, name: String, sku: String?, priceCents: Int) {
            self.itemId = itemId
            self.name = name
            self.sku = sku
            self.priceCents = priceCents
        }
    }

    public struct ModifierGroup: Sendable, Hashable {
        public var id: Int
        public var name: String
        public var minimum: Int
        /// 0: no maximum.
        public var maximum: Int
        public var modifiers: [Modifier]

        public init(id: Int, name: String, minimum: Int = 0, maximum: Int = 0, modifiers: [Modifier]) {
            self.id = id
            self.name = name
            self.minimum = minimum
            self.maximum = maximum
            self.modifiers = modifiers
        }
    }

    public struct Menu: Sendable, Hashable {
        public var id: Int
        public var name: String
        /// `published` or `draft`.
        public var state: String
        public var productIds: [Int]

        public init(id: Int, name: String, state: String, productIds: [Int]) {
            self.id = id
            self.name = name
            self.state = state
            self.productIds = productIds
        }
    }

    public struct Catalogue: Sendable, Hashable {
        public var products: [Product]
        public var modifierGroups: [ModifierGroup]
        public var menus: [Menu]

        public init(products: [Product], modifierGroups: [ModifierGroup], menus: [Menu]) {
            self.products = products
            self.modifierGroups = modifierGroups
            self.menus = menus
        }

        /// Every `item_id` an order may name: products and modifier items.
        var itemIds: Set<Int> {
            Set(products.map(\.id)).union(modifierGroups.flatMap { $0.modifiers.map(\.itemId) })
        }

        func itemName(_ id: Int) -> String? {
            products.first { $0.id == id }?.name ?? modifierGroups.lazy.flatMap(\.modifiers).first { $0.itemId == id }?.name
        }
    }

    /// An order the double created.
    public struct Order: Sendable {
        public let id: Int
        public let outletId: Int
        public let channelId: Int
        public let externalOrderId: String?
        /// The create body as parsed (numbers keep their source text).
        public let body: JSONValue
        public internal(set) var state: String
        public let createdAt: Int64
        public internal(set) var updatedAt: Int64
    }

    /// Where webhooks go and how they are authenticated.
    public struct WebhookTarget: Sendable, Equatable {
        public var url: String
        public var token: String
        /// A custom header carrying `token` as is; nil: `Authorization: Bearer <token>`.
        public var header: String?

        public init(url: String, token: String, header: String? = nil) {
            self.url = url
            self.token = token
            self.header = header
        }
    }

    /// One POST of a webhook (`event` is its `event_type`) and the receiver's answer.
    public typealias WebhookDelivery = SandboxWebhookDelivery

    public typealias WebhookFailure = SandboxWebhookFailure

    // Sandbox credentials, not secrets.
    public static let defaultAPIKey = "atlas-sandbox-key"
    public static let defaultMerchantId = "1001"
    public static let defaultOutlets = [Outlet(id: 3, name: "Atlas Cafe Downtown", channelIds: [1, 2])]
    public static let defaultCurrency = "SGD"
    public static let firstOrderId = 9001
    /// Atlas's at-least-once delivery, made visible: every event is POSTed this many times.
    public static let deliveriesPerEvent = 2
    /// The default catalogue: the fixture orders' PLUs are the SKUs here.
    public static let defaultCatalogue = Catalogue(
        products: [
            Product(id: 7001, name: "Classic Burger", sku: "SKU-BURGER-01", priceCents: 1250, section: "Food", subSection: "Burgers",
                    modifierGroupIds: [8101, 8102]),
            Product(id: 7002, name: "Fries", sku: "SKU-FRIES-01", priceCents: 490, section: "Food", subSection: "Sides"),
            Product(id: 7003, name: "Cola", sku: "SKU-COLA-01", priceCents: 280, section: "Drinks"),
            Product(id: 7004, name: "Seasonal Pie", sku: "SKU-PIE-01", priceCents: 650, section: "Food", subSection: "Desserts", archived: true),
        ],
        modifierGroups: [
            ModifierGroup(id: 8101, name: "Cheese", minimum: 0, maximum: 1,
                          modifiers: [Modifier(itemId: 7101, name: "Extra Cheese", sku: "mo-extra-cheese", priceCents: 150)]),
            ModifierGroup(id: 8102, name: "Extras", minimum: 0, maximum: 0, modifiers: [
                Modifier(itemId: 7102, name: "Bacon", sku: "mo-bacon", priceCents: 200),
                Modifier(itemId: 7103, name: "No onions", sku: "mo-no-onion", priceCents: 0),
            ]),
        ],
        menus: [
            Menu(id: 501, name: "All Day", state: "published", productIds: [7001, 7002, 7003, 7004]),
            Menu(id: 502, name: "Next Season", state: "draft", productIds: [7001]),
        ])

    static let createRoute = SandboxRoute(.post, "/outlets/{outlet_id}/channels/{channel_id}/orders")
    static let orderRoute = SandboxRoute(.get, "/orders/{order_id}")
    static let identifierRoute = SandboxRoute(.get, "/orders/identifier/{identifier}")
    static let menusRoute = SandboxRoute(.get, "/menus")
    static let menuRoute = SandboxRoute(.get, "/menus/{menu_id}")

    public let apiKey: String
    public let merchantId: String
    public let outlets: [Outlet]
    public let currency: String

    private let ledger = RouteLedger(routes: [createRoute, orderRoute, identifierRoute, menusRoute, menuRoute])
    private let state = Mutex(State())
    private let currentCatalogue: Mutex<Catalogue>

    struct State {
        var nextOrderId = AtlasSandbox.firstOrderId
        var orders: [Order] = []
        var webhook: WebhookTarget?
        var deliveries: [WebhookDelivery] = []
        /// Creates whose answer is lost: how many more, and how long to hold before answering 504.
        var lose: (times: Int, holdMs: Int64) = (0, 0)
    }

    public init(apiKey: String = AtlasSandbox.defaultAPIKey, merchantId: String = AtlasSandbox.defaultMerchantId,
                outlets: [Outlet] = AtlasSandbox.defaultOutlets, catalogue: Catalogue = AtlasSandbox.defaultCatalogue,
                currency: String = AtlasSandbox.defaultCurrency, webhook: WebhookTarget? = nil) {
        self.apiKey = apiKey
        self.merchantId = merchantId
        self.outlets = outlets
        self.currency = currency
        currentCatalogue = Mutex(catalogue)
        state.withLock { $0.webhook = webhook }
    }

    // MARK: In-process access

    public var catalogue: Catalogue { currentCatalogue.withLock { $0 } }

    /// Replaces what orders are checked against and menus show; ``reset()`` keeps it.
    public func replaceCatalogue(_ catalogue: Catalogue) {
        currentCatalogue.withLock { $0 = catalogue }
    }

    /// Orders created, oldest first.
    public var orders: [Order] { state.withLock { $0.orders } }

    public func order(id: Int) -> Order? { state.withLock { $0.orders.first { $0.id == id } } }

    /// Requests that reached `route` (`"/menus"`, `"POST /outlets/{outlet_id}/channels/{channel_id}/orders"`),
    /// including rejected and failed ones.
    public func requestCount(_ route: String) -> Int { ledger.requestCount(route) }

    /// The next `times` requests to `route` answer `status` in Atlas's error shape before any check.
    public func failNext(_ route: String, status: Int, times: Int = 1) { ledger.failNext(route, status: status, times: times) }

    /// The next `times` creates that pass every check **create the order** and then lose its answer:
    /// the double waits `hold` and answers 504, so a client whose timeout is shorter sees no answer at all.
    public func loseNextAnswers(times: Int = 1, hold: Duration = .zero) {
        precondition(times >= 1, "times must be at least 1")
        let (seconds, attoseconds) = hold.components
        state.withLock { $0.lose = (times, seconds * 1000 + attoseconds / 1_000_000_000_000_000) }
    }

    /// Forgets orders, counts, pending failures and lost answers; ids start again. The webhook receiver stays.
    public func reset() {
        state.withLock { $0 = State(webhook: $0.webhook) }
        ledger.reset()
    }

    // MARK: Webhooks

    public func configureWebhook(url: String, token: String, header: String? = nil) {
        state.withLock { $0.webhook = WebhookTarget(url: url, token: token, header: header) }
    }

    public var webhook: WebhookTarget? { state.withLock { $0.webhook } }

    /// Every POST of every webhook, oldest first (each event appears ``deliveriesPerEvent`` times).
    public var webhookDeliveries: [WebhookDelivery] { state.withLock { $0.deliveries } }

    /// The state an event type moves an order to.
    static func state(after eventType: String) -> String? {
        switch eventType {
        case "order.confirmed": "confirmed"
        case "order.dispatched": "dispatched"
        case "order.completed": "completed"
        case "order.cancelled": "cancelled"
        default: nil
        }
    }

    /// Moves order `orderId` (to `state`, or to what `eventType` implies) and sends the event — twice,
    /// the same body both times. Returns both deliveries.
    public func sendEvent(orderId: Int, eventType: String, state newState: String? = nil) async throws(WebhookFailure) -> [WebhookDelivery] {
        guard let target = webhook else { throw .notConfigured(setup: #"PUT /_sandbox/webhook {"url","token"}"#) }
        let now = SandboxHTTP.unixNow
        let moved = state.withLock { state -> Order? in
            guard let index = state.orders.firstIndex(where: { $0.id == orderId }) else { return nil }
            if let next = newState ?? Self.state(after: eventType) {
                state.orders[index].state = next
                state.orders[index].updatedAt = now
            }
            return state.orders[index]
        }
        guard let order = moved else { throw .unknownOrder(String(orderId)) }
        let body = JSONValue.object([
            ("event_type", .string(eventType)), ("event_at", .integer(now)), ("payload", orderJSON(order)),
        ]).bytes
        var headers: [(String, String)] = [("Content-Type", "application/json"), ("User-Agent", "Atlas-Webhooks (sandbox)")]
        if let header = target.header {
            headers.append((header, target.token))
        } else {
            headers.append(("Authorization", "Bearer \(target.token)"))
        }
        var sent: [WebhookDelivery] = []
        for _ in 0..<Self.deliveriesPerEvent {
            let answer = try await SandboxWebhookPost.send(to: target.url, headers: headers, body: body)
            let delivery = WebhookDelivery(event: eventType, headers: headers, body: body, status: answer.status, responseBody: answer.body)
            state.withLock { $0.deliveries.append(delivery) }
            sent.append(delivery)
        }
        return sent
    }

    // MARK: Routes

    public func addRoutes<Context: RequestContext>(to router: Router<Context>, prefix: String = "/atlas") {
        func mount(_ route: SandboxRoute, _ handler: @escaping @Sendable (SandboxRequest) async -> Response) {
            ledger.mount(route, on: router, prefix: prefix, errorResponse: { Self.failure($0, $1) }) { request in
                if let denied = self.authenticate(request) { return denied }
                return await handler(request)
            }
        }
        mount(Self.createRoute) { await self.handleCreate($0) }
        mount(Self.orderRoute) { request in
            guard let text = request.parameters["order_id"], let id = Int(text), let order = self.order(id: id) else {
                return Self.failure(404, "Order not found")
            }
            return SandboxHTTP.json(200, self.orderJSON(order))
        }
        mount(Self.identifierRoute) { request in
            // Atlas does not say what `identifier` matches; the double matches its own identifier or
            // the client's `external_order_id` ⚠ (newest first, since Atlas itself does not dedupe).
            let wanted = request.parameters["identifier"] ?? ""
            let found = self.orders.last { Self.identifier($0) == wanted || $0.externalOrderId == wanted }
            guard let order = found else { return Self.failure(404, "Order not found") }
            return SandboxHTTP.json(200, self.orderJSON(order))
        }
        mount(Self.menusRoute) { _ in
            let menus = self.catalogue.menus.map(Self.menuHeader)
            return SandboxHTTP.json(200, .object([("object", .string("list")), ("items", .array(menus))]))
        }
        mount(Self.menuRoute) { request in
            let catalogue = self.catalogue
            guard let text = request.parameters["menu_id"], let id = Int(text), let menu = catalogue.menus.first(where: { $0.id == id }) else {
                return Self.failure(404, "Menu not found")
            }
            return SandboxHTTP.json(200, Self.menuDetails(menu, catalogue: catalogue))
        }
        ledger.mountControl(on: router, prefix: prefix, snapshot: { self.snapshot }, catalogue: { self.catalogueJSON }, reset: { self.reset() })
        mountWebhookControl(on: router, prefix: prefix)
    }

    /// Atlas's error shape: `{"type","message","error_hash"}`.
    static func failure(_ status: Int, _ message: String, fields: [(String, String)] = []) -> Response {
        let type = switch status {
        case 400: "BadRequest"
        case 401: "Unauthorized"
        case 404: "NotFound"
        case 413: "PayloadTooLarge"
        case 422: "UnprocessableEntity"
        case 429: "TooManyRequests"
        case 504: "GatewayTimeout"
        case 500...599: "ServerError"
        default: "Error"
        }
        return SandboxHTTP.json(status, .object([
            ("type", .string(type)), ("message", .string(message)),
            ("error_hash", .object(fields.map { ($0.0, JSONValue.string($0.1)) })),
        ]))
    }

    private static func unauthorized() -> Response {
        failure(401, "You did not provide valid credentials for this request",
                fields: [("api_key", "Check if the API Key is set correctly in the X-Api-Key header")])
    }

    private func authenticate(_ request: SandboxRequest) -> Response? {
        guard SandboxFormats.credentialMatches(request.header(HTTPField.Name("X-Api-Key")!), apiKey) else { return Self.unauthorized() }
        guard let merchant = request.header(HTTPField.Name("X-Merchant-Id")!) else {
            return Self.failure(401, "You did not provide valid credentials for this request",
                                fields: [("merchant_id", "Check if the merchant ID is set in the X-Merchant-Id header")])
        }
        guard SandboxFormats.credentialMatches(merchant, merchantId) else {
            return Self.failure(401, "You did not provide valid credentials for this request",
                                fields: [("merchant_id", "The API key does not belong to merchant \(merchant)")])
        }
        return nil
    }

    // MARK: Create order

    private func handleCreate(_ request: SandboxRequest) async -> Response {
        guard let outletId = request.parameters["outlet_id"].flatMap({ Int($0) }), let outlet = outlets.first(where: { $0.id == outletId }) else {
            return Self.failure(404, "Outlet not found")
        }
        guard let channelId = request.parameters["channel_id"].flatMap({ Int($0) }), outlet.channelIds.contains(channelId) else {
            return Self.failure(404, "Channel not found for outlet \(outletId)")
        }
        let node: JSONNode
        do { node = try SandboxBody.object(request.body) } catch { return Self.failure(400, error.message) }
        var checker = JSONChecker(style: .brackets, wording: .plain)
        validateOrder(node, &checker)
        guard checker.isValid else {
            return Self.failure(422, "Validation failed", fields: checker.violations.map { ($0.path, $0.message) })
        }
        let body = JSONValue(node)
        let now = SandboxHTTP.unixNow
        let (order, holdMs) = state.withLock { state -> (Order, Int64?) in
            let order = Order(id: state.nextOrderId, outletId: outletId, channelId: channelId,
                              externalOrderId: body["external_order_id"]?.stringValue, body: body,
                              state: body["is_paid"] == .bool(true) ? "pending" : "unpaid", createdAt: now, updatedAt: now)
            state.nextOrderId += 1
            state.orders.append(order)
            guard state.lose.times > 0 else { return (order, nil) }
            state.lose.times -= 1
            return (order, state.lose.holdMs)
        }
        if let holdMs {
            if holdMs > 0 { try? await Task.sleep(for: .milliseconds(holdMs)) }
            return Self.failure(504, "The upstream server did not answer in time")
        }
        return SandboxHTTP.json(201, orderJSON(order))
    }

    /// Checks a create-order body against the documented contract; violations are in `checker`.
    func validateOrder(_ node: JSONNode, _ checker: inout JSONChecker) {
        let root = FieldPath.root
        let known = catalogue.itemIds
        if let type = checker.string(node["fulfilment_type"], root.key("fulfilment_type"), required: true),
           !["dine_in", "pickup", "delivery"].contains(type) {
            checker.fail(root.key("fulfilment_type"), "must be one of dine_in, pickup, delivery")
        }
        if let date = checker.string(node["serving_date"], root.key("serving_date"), required: true), !Self.isDate(date) {
            checker.fail(root.key("serving_date"), "must be a date as YYYY-MM-DD, not \(JSONText.quoted(String(date.prefix(40))))")
        }
        let start = checker.integer(node["timeslot_start"], root.key("timeslot_start"), required: true, minimum: 0)
        let end = checker.integer(node["timeslot_end"], root.key("timeslot_end"), required: true, minimum: 0)
        for (value, key) in [(start, "timeslot_start"), (end, "timeslot_end")] where (value ?? 0) > 86_400 {
            checker.fail(root.key(key), "must be seconds from the start of serving_date (at most 86400)")
        }
        if let start, let end, start > end { checker.fail(root.key("timeslot_end"), "must not be before timeslot_start") }
        if let type = checker.string(node["timeslot_type"], root.key("timeslot_type"), required: false),
           !["asap", "available_timeslots"].contains(type) {
            checker.fail(root.key("timeslot_type"), "must be one of asap, available_timeslots")
        }
        for key in ["external_order_id", "external_order_short_code", "source_label", "notes", "contact_name", "contact_email",
                    "contact_number", "address_line1", "address_line2", "postal_code", "promo_code", "tax_rate"] {
            _ = checker.string(node[key], root.key(key), required: false)
        }
        for key in ["is_paid", "is_cutlery_required", "is_contactless", "is_gift"] {
            _ = checker.bool(node[key], root.key(key), required: false)
        }
        for key in ["subtotal", "delivery_fee", "surcharge", "discount", "admin_discount", "tax", "total", "total_including_tax"] {
            cents(node[key], root.key(key), required: false, &checker)
        }
        _ = checker.integer(node["brand_id"], root.key("brand_id"), required: false)
        let itemsPath = root.key("order_items")
        if let items = checker.array(node["order_items"], itemsPath, required: true, nonEmpty: true) {
            for (index, item) in items.enumerated() {
                validateItem(item, itemsPath.index(index), known: known, nested: false, &checker)
            }
        }
        let paymentsPath = root.key("order_payments")
        if let payments = checker.array(node["order_payments"], paymentsPath, required: false, nonEmpty: false) {
            for (index, payment) in payments.enumerated() {
                let path = paymentsPath.index(index)
                guard let payment = checker.object(payment, path, required: true) else { continue }
                cents(payment["amount"], path.key("amount"), required: true, &checker)
                _ = checker.string(payment["capture_id"], path.key("capture_id"), required: true, nonEmpty: true)
                _ = checker.string(payment["capture_type"], path.key("capture_type"), required: true, nonEmpty: true)
                _ = checker.integer(payment["payment_type_id"], path.key("payment_type_id"), required: false)
            }
        }
    }

    private func validateItem(_ node: JSONNode, _ path: FieldPath, known: Set<Int>, nested: Bool, _ checker: inout JSONChecker) {
        guard let item = checker.object(node, path, required: true) else { return }
        if let id = checker.integer(item["item_id"], path.key("item_id"), required: true), !known.contains(id) {
            checker.fail(path.key("item_id"), "unknown item \(id)")
        }
        _ = checker.integer(item["quantity"], path.key("quantity"), required: true, minimum: 1)
        cents(item["price_cents"], path.key("price_cents"), required: true, &checker)
        _ = checker.string(item["name"], path.key("name"), required: false)
        _ = checker.string(item["notes"], path.key("notes"), required: false)
        let subPath = path.key("sub_items")
        guard let subItems = checker.array(item["sub_items"], subPath, required: false, nonEmpty: false) else { return }
        if nested, !subItems.isEmpty { checker.fail(subPath, "sub_items cannot have sub_items of their own") }
        for (index, sub) in subItems.enumerated() where !nested {
            validateItem(sub, subPath.index(index), known: known, nested: true, &checker)
        }
    }

    /// An amount in integer cents: `1250`, not `12.50`, `"1250"` or `1.25e3`.
    private func cents(_ node: JSONNode?, _ path: FieldPath, required: Bool, _ checker: inout JSONChecker) {
        guard let node else {
            if required { checker.fail(path, .required) }
            return
        }
        guard let value = JSONChecker.plainInteger(node) else {
            let shown = switch node.kind {
            case .number(let text): "the number \(text)"
            case .string(let text): "the string \(JSONText.quoted(String(text.prefix(40))))"
            default: node.typeName
            }
            checker.fail(path, "must be an integer number of cents such as 1250, not \(shown) (wrong money representation)")
            return
        }
        if value < 0 { checker.fail(path, .minimum("0")) }
    }

    /// `YYYY-MM-DD`, a real calendar date.
    static func isDate(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 10 else { return false }
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 7 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard byte >= 0x30, byte <= 0x39 else { return false }
            }
        }
        return RFC3339.parseMilliseconds(text + "T00:00:00Z") != nil
    }

    // MARK: Representations

    /// Atlas's own identifier for an order ⚠ (its examples show `null` on create; the double gives one).
    static func identifier(_ order: Order) -> String { "AK\(order.id)" }

    /// The full order, as create and details answer.
    func orderJSON(_ order: Order) -> JSONValue {
        let body = order.body
        let catalogue = self.catalogue
        var nextLineId = order.id * 100
        func lines(_ node: JSONValue?) -> JSONValue {
            guard case .array(let items)? = node else { return .array([]) }
            return .array(items.map { item in
                nextLineId += 1
                let itemId = item["item_id"]?.integerValue.map(Int.init)
                let quantity = item["quantity"]?.integerValue ?? 1
                let price = item["price_cents"]?.integerValue ?? 0
                let (subtotal, overflow) = price.multipliedReportingOverflow(by: quantity)
                return .object([
                    ("id", .int(nextLineId)), ("item_id", item["item_id"] ?? .null),
                    ("name", item["name"] ?? itemId.flatMap { catalogue.itemName($0) }.map(JSONValue.string) ?? .null),
                    ("quantity", item["quantity"] ?? .int(1)), ("currency", .string(currency)),
                    ("price_cents", item["price_cents"] ?? .int(0)), ("discount", .int(0)),
                    ("calculated_subtotal", overflow ? .null : .integer(subtotal)), ("notes", item["notes"] ?? .null),
                    ("sub_items", lines(item["sub_items"])),
                ])
            })
        }
        let items = lines(body["order_items"])
        let start = body["timeslot_start"]?.integerValue ?? 0
        let end = body["timeslot_end"]?.integerValue ?? 0
        func member(_ key: String, _ fallback: JSONValue = .null) -> (String, JSONValue) { (key, body[key] ?? fallback) }
        return .object([
            ("id", .int(order.id)), ("identifier", .string(Self.identifier(order))), ("user_id", .null),
            ("channel_id", .int(order.channelId)), ("outlet_id", .int(order.outletId)), member("brand_id"),
            member("fulfilment_type"), ("state", .string(order.state)), ("call_number", .int(order.id % 1000)),
            member("notes"), member("source_label"), member("serving_date"), member("timeslot_start"), member("timeslot_end"),
            member("timeslot_type", .string("available_timeslots")),
            ("timeslot_range", .string("\(Self.clock(start))–\(Self.clock(end))")),
            member("contact_name"), member("contact_email"), member("contact_number"),
            member("external_order_id"), member("external_order_short_code"), member("is_paid", .bool(false)),
            member("subtotal", .int(0)), member("delivery_fee", .int(0)), member("surcharge", .int(0)), member("discount", .int(0)),
            member("tax", .int(0)), member("total", .int(0)),
            ("created_at", .integer(order.createdAt)), ("updated_at", .integer(order.updatedAt)),
            ("cancelled_at", order.state == "cancelled" ? .integer(order.updatedAt) : .null),
            ("completed_at", order.state == "completed" ? .integer(order.updatedAt) : .null),
            ("order_items", items), member("order_payments", .array([])),
        ])
    }

    /// `3:00PM` for 54000.
    static func clock(_ seconds: Int64) -> String {
        let minutes = (seconds / 60) % (24 * 60)
        let hour = minutes / 60
        let twelve = hour % 12 == 0 ? 12 : hour % 12
        let minute = minutes % 60
        return "\(twelve):\(minute < 10 ? "0" : "")\(minute)\(hour < 12 ? "AM" : "PM")"
    }

    static func menuHeader(_ menu: Menu) -> JSONValue {
        .object([
            ("id", .int(menu.id)), ("identifier", .string("menu-\(menu.id)")), ("brand_id", .null), ("start_date", .null), ("end_date", .null),
            ("name", .string(menu.name)), ("state", .string(menu.state)), ("tag_list", .array([])), ("lead_time", .null),
            ("created_at", .int(1_723_628_097)), ("updated_at", .int(1_723_780_269)),
        ])
    }

    static func modifierJSON(_ modifier: Modifier, group: ModifierGroup, index: Int) -> JSONValue {
        .object([
            ("id", .int(group.id * 100 + index)), ("item_id", .int(modifier.itemId)), ("name", .string(modifier.name)),
            ("sku", .optionalString(modifier.sku)), ("display_order", .int(index)), ("default_quantity", .int(0)),
            ("price_cents", .int(modifier.priceCents)), ("price_cents_override", .null),
        ])
    }

    /// A product's link to a modifier group, with the group inline.
    static func groupLinkJSON(_ group: ModifierGroup, product: Product, position: Int) -> JSONValue {
        var modifiers: [JSONValue] = []
        for (index, modifier) in group.modifiers.enumerated() { modifiers.append(modifierJSON(modifier, group: group, index: index)) }
        let inner: JSONValue = .object([
            ("id", .int(group.id)), ("identifier", .string("group-\(group.id)")), ("name", .string(group.name)),
            ("selection_required_min", .int(group.minimum)), ("selection_required_max", .int(group.maximum)),
            ("max_quantity_per_modifier", .int(1)), ("modifiers", .array(modifiers)),
        ])
        return .object([
            ("id", .int(product.id * 10 + position)), ("display_order", .int(position)), ("is_fixed", .bool(false)),
            ("selection_required_min_override", .null), ("selection_required_max_override", .null), ("modifier_group", inner),
        ])
    }

    static func productJSON(_ product: Product, order: Int, catalogue: Catalogue) -> JSONValue {
        var links: [JSONValue] = []
        for (position, groupId) in product.modifierGroupIds.enumerated() {
            if let group = catalogue.modifierGroups.first(where: { $0.id == groupId }) {
                links.append(groupLinkJSON(group, product: product, position: position))
            }
        }
        let archivedAt: JSONValue = product.archived ? .int(1_723_780_269) : .null
        return .object([
            ("id", .int(product.id)), ("name", .string(product.name)), ("sku", .optionalString(product.sku)), ("description", .null),
            ("price_cents", .int(product.priceCents)), ("currency", .string(defaultCurrency)), ("brand_id", .null),
            ("display_order", .int(order)), ("is_configurable", .bool(!product.modifierGroupIds.isEmpty)),
            ("product_tags", .array([])), ("kitchen_tags", .array([])), ("report_category", .null),
            ("archived_at", archivedAt), ("item_modifier_groups", .array(links)),
        ])
    }

    /// A menu with its sections: products without a sub-section sit on the section, the others in sub-sections.
    public static func menuDetails(_ menu: Menu, catalogue: Catalogue) -> JSONValue {
        let products = menu.productIds.compactMap { id in catalogue.products.first { $0.id == id } }
        var sectionNames: [String] = []
        for product in products where !sectionNames.contains(product.section) { sectionNames.append(product.section) }
        var sections: [JSONValue] = []
        for (sectionIndex, name) in sectionNames.enumerated() {
            let inSection = products.filter { $0.section == name }
            var subNames: [String] = []
            for product in inSection { if let sub = product.subSection, !subNames.contains(sub) { subNames.append(sub) } }
            var direct: [JSONValue] = []
            for (index, product) in inSection.filter({ $0.subSection == nil }).enumerated() {
                direct.append(productJSON(product, order: index, catalogue: catalogue))
            }
            var subSections: [JSONValue] = []
            for (subIndex, sub) in subNames.enumerated() {
                var listed: [JSONValue] = []
                for (index, product) in inSection.filter({ $0.subSection == sub }).enumerated() {
                    listed.append(productJSON(product, order: index, catalogue: catalogue))
                }
                subSections.append(.object([
                    ("id", .int(menu.id * 100 + sectionIndex * 10 + subIndex)), ("identifier", .string("sub-\(sectionIndex)-\(subIndex)")),
                    ("name", .string(sub)), ("display_order", .int(subIndex)), ("products", .array(listed)),
                ]))
            }
            sections.append(.object([
                ("id", .int(menu.id * 10 + sectionIndex)), ("identifier", .string("section-\(sectionIndex)")), ("name", .string(name)),
                ("description", .null), ("display_order", .int(sectionIndex)), ("image_url", .null),
                ("products", .array(direct)), ("sub_sections", .array(subSections)),
            ]))
        }
        guard case .object(var members) = menuHeader(menu) else { return .null }
        members.append(("sections", .array(sections)))
        return .object(members)
    }

    var snapshot: JSONValue {
        .object([
            ("orders", .array(orders.map { order in
                .object([
                    ("id", .int(order.id)), ("outletId", .int(order.outletId)), ("channelId", .int(order.channelId)),
                    ("externalOrderId", .optionalString(order.externalOrderId)), ("state", .string(order.state)), ("body", order.body),
                ])
            })),
            ("requestCounts", ledger.countsJSON),
        ])
    }

    var catalogueJSON: JSONValue {
        let catalogue = self.catalogue
        return .object([
            ("outlets", .array(outlets.map { .object([("id", .int($0.id)), ("name", .string($0.name)), ("channelIds", .array($0.channelIds.map(JSONValue.int)))]) })),
            ("itemIds", .array(catalogue.itemIds.sorted().map(JSONValue.int))),
            ("menus", .array(catalogue.menus.map { Self.menuDetails($0, catalogue: catalogue) })),
        ])
    }

    // MARK: Webhook control

    /// `PUT {prefix}/_sandbox/webhook {"url","token","header"?}`; `POST {prefix}/_sandbox/orders/{id}/events
    /// {"event_type","state"?}` (answers 200 `{"event_type","deliveries":[{status,body}]}`, 404 unknown order, 409
    /// no receiver, 502 no answer); `POST {prefix}/_sandbox/lose-next-answer {"times"?,"holdMs"?}`.
    private func mountWebhookControl<Context: RequestContext>(on router: Router<Context>, prefix: String) {
        router.put(RouterPath(prefix + "/_sandbox/webhook")) { request, _ -> Response in
            guard let node = await Self.controlBody(request) else {
                return Self.controlError(400, #"body must be a JSON object such as {"url":"http://127.0.0.1:8080/hook","token":"…"}"#)
            }
            var checker = JSONChecker(style: .brackets, wording: .plain)
            let url = checker.string(node["url"], FieldPath.root.key("url"), required: true, nonEmpty: true)
            let token = checker.string(node["token"], FieldPath.root.key("token"), required: true, nonEmpty: true)
            let header = checker.string(node["header"], FieldPath.root.key("header"), required: false, nonEmpty: true)
            if let url, URL(string: url)?.host == nil || !["http", "https"].contains(URL(string: url)?.scheme?.lowercased() ?? "") {
                checker.fail(FieldPath.root.key("url"), "must be an absolute http(s) URL")
            }
            if let header, HTTPField.Name(header) == nil { checker.fail(FieldPath.root.key("header"), "must be an HTTP header name") }
            guard checker.isValid, let url, let token else {
                return Self.controlError(400, checker.violations.map { "\($0.path) \($0.message)" }.joined(separator: "; "))
            }
            self.configureWebhook(url: url, token: token, header: header)
            return SandboxHTTP.json(200, .object([("url", .string(url)), ("header", .string(header ?? "Authorization"))]))
        }
        router.post(RouterPath(prefix + "/_sandbox/orders/{id}/events")) { request, context -> Response in
            guard let text = context.parameters.get("id"), let id = Int(text) else { return Self.controlError(404, "order not found") }
            guard let node = await Self.controlBody(request), let typeNode = node["event_type"], case .string(let eventType) = typeNode.kind else {
                return Self.controlError(400, #"body must be a JSON object such as {"event_type":"order.confirmed"}"#)
            }
            var newState: String?
            if let stateNode = node["state"] {
                guard case .string(let text) = stateNode.kind else { return Self.controlError(400, "state must be a string") }
                newState = text
            }
            do throws(WebhookFailure) {
                let sent = try await self.sendEvent(orderId: id, eventType: eventType, state: newState)
                return SandboxHTTP.json(200, .object([
                    ("event_type", .string(eventType)),
                    ("deliveries", .array(sent.map { .object([("status", .int($0.status)), ("body", .string($0.responseBody))]) })),
                ]))
            } catch {
                return error.response
            }
        }
        router.post(RouterPath(prefix + "/_sandbox/lose-next-answer")) { request, _ -> Response in
            guard let node = await Self.controlBody(request) else { return Self.controlError(400, #"body must be a JSON object such as {"times":1,"holdMs":0}"#) }
            let times = node["times"].flatMap(JSONChecker.plainInteger) ?? 1
            let holdMs = node["holdMs"].flatMap(JSONChecker.plainInteger) ?? 0
            guard times >= 1, holdMs >= 0 else { return Self.controlError(400, "times must be ≥ 1 and holdMs ≥ 0") }
            self.loseNextAnswers(times: times, hold: .milliseconds(holdMs))
            return SandboxHTTP.json(200, .object([("times", .int(times)), ("holdMs", .int(holdMs))]))
        }
    }

    /// A control request's body as a JSON object (64 KiB at most), nil otherwise.
    private static func controlBody(_ request: Request) async -> JSONNode? {
        guard let buffer = try? await request.body.collect(upTo: 64 * 1024) else { return nil }
        return try? SandboxBody.object(Array(buffer.readableBytesView))
    }

    private static func controlError(_ status: Int, _ reason: String) -> Response {
        SandboxHTTP.json(status, .object([("error", .string(reason))]))
    }
}
