import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import Synchronization

/// A double of the Revel Systems endpoints our connector uses: web-order cart submit, establishments and
/// the web-orders menu. Auth is the legacy `API-AUTHENTICATION: key:secret` header; 401/403 answer HTML
/// as Revel does; cart submit insists on `Content-Type: text/plain` (Revel answers "Unhandled error" to
/// `application/json`); errors are `{"status":"ERROR","errorMsg":"…"}`.
///
/// It also plays Revel's webhook sender: once a receiver is configured (``configureWebhook(url:secret:instance:)``
/// or `PUT {prefix}/_sandbox/webhook`), ``finalize(orderId:)`` (`POST {prefix}/_sandbox/orders/{id}/finalize`)
/// closes an order and POSTs its `order.finalized` event, signed as Revel signs: `X-Revel-Signature` is the
/// lowercase hex HMAC-SHA1 of the body keyed with the shared secret.
public final class RevelSandbox: Sendable {
    public struct Establishment: Sendable, Hashable {
        public var id: Int
        public var name: String
        public var address: String?

        public init(id: Int, name: String, address: String?) {
            self.id = id
            self.name = name
            self.address = address
        }
    }

    public struct Product: Sendable, Hashable {
        public var id: Int
        public var name: String
        public var sku: String?
        /// The price as the JSON number text Revel writes (`12.50`); nil is `null`.
        public var price: String?
        /// The (sub-)category it is filed under.
        public var categoryId: Int?
        /// The modifier classes offered with it.
        public var modifierClassIds: [Int]

        public init(id: Int, name: String, sku: String? = nil, price: String? = nil, categoryId: Int? = nil, modifierClassIds: [Int] = []) {
            self.id = id
            self.name = name
            self.sku = sku
            self.price = price
            self.categoryId = categoryId
            self.modifierClassIds = modifierClassIds
        }
    }

    public struct Modifier: Sendable, Hashable {
        public var id: Int
        public var name: String
        public var sku: String?
        /// The upcharge as JSON number text (`1.50`); nil is `null`.
        public var price: String?

        public init(id: Int, name: String, sku: String? = nil, price: String? = nil) {
            self.id = id
            self.name = name
            self.sku = sku
            self.price = price
        }
    }

    /// A modifier class: a group of modifiers with how many a guest picks.
    public struct ModifierClass: Sendable, Hashable {
        public var id: Int
        public var name: String
        public var minimum: Int
        /// 0: no maximum, as Revel reads it.
        public var maximum: Int
        public var modifierIds: [Int]

        public init(id: Int, name: String, minimum: Int = 0, maximum: Int = 0, modifierIds: [Int]) {
            self.id = id
            self.name = name
            self.minimum = minimum
            self.maximum = maximum
            self.modifierIds = modifierIds
        }
    }

    /// A product category; one with a parent is a sub-category (the only kind products are filed under).
    public struct Category: Sendable, Hashable {
        public var id: Int
        public var name: String
        public var parentId: Int?

        public init(id: Int, name: String, parentId: Int? = nil) {
            self.id = id
            self.name = name
            self.parentId = parentId
        }
    }

    /// What the weborders listings show and carts are checked against.
    public struct Menu: Sendable, Hashable {
        public var products: [Product]
        public var modifiers: [Modifier]
        public var modifierClasses: [ModifierClass]
        public var categories: [Category]

        public init(products: [Product], modifiers: [Modifier], modifierClasses: [ModifierClass] = [], categories: [Category] = []) {
            self.products = products
            self.modifiers = modifiers
            self.modifierClasses = modifierClasses
            self.categories = categories
        }
    }

    /// A cart the double accepted.
    public struct Order: Sendable {
        public let orderId: Int
        public let establishmentId: Int
        public let transactionId: String?
        /// The submitted body as parsed (numbers keep their source text).
        public let body: JSONValue
        public let receivedAt: String
        /// Revel's own uuid for the order.
        public let uuid: String
        /// When the order was closed (``finalize(orderId:)``), RFC 3339 UTC; nil while open.
        public internal(set) var finalizedAt: String?
        /// `X-Revel-Event-Id` of its `order.finalized` event: the same on every re-send, as on Revel's retries.
        public internal(set) var finalizedEventId: String?
    }

    /// Where the double sends webhooks and the secret it signs them with.
    public struct WebhookTarget: Sendable, Equatable {
        public var url: String
        public var secret: String
        /// `X-Revel-Instance`: the merchant's subdomain.
        public var instance: String

        public init(url: String, secret: String, instance: String = RevelSandbox.defaultInstance) {
            self.url = url
            self.secret = secret
            self.instance = instance
        }
    }

    public typealias WebhookDelivery = SandboxWebhookDelivery

    public typealias WebhookFailure = SandboxWebhookFailure

    // Sandbox credentials, not secrets.
    public static let defaultAPIKey = "revel-sandbox-key"
    public static let defaultAPISecret = "revel-sandbox-secret"
    public static let defaultEstablishments: [Establishment] = [
        Establishment(id: 456, name: "Acme Downtown", address: "1 Main Street"),
        Establishment(id: 457, name: "Acme Airport", address: nil),
    ]
    /// The online menu of the fixture orders: the PLUs they carry are the SKUs here.
    public static let defaultProducts: [Product] = [
        Product(id: 501, name: "Classic Burger", sku: "SKU-BURGER-01", price: "12.50", categoryId: 11, modifierClassIds: [3100, 3101, 3102]),
        Product(id: 502, name: "Fries", sku: "SKU-FRIES-01", price: "4.90", categoryId: 12),
        Product(id: 503, name: "Cola", sku: "SKU-COLA-01", price: "2.80", categoryId: 21),
        Product(id: 590, name: "Delivery fee", sku: "DELIVERY-FEE", price: "3.50", categoryId: 91),
    ]
    public static let defaultModifiers: [Modifier] = [
        Modifier(id: 3001, name: "Extra Cheese", sku: "mo-extra-cheese", price: "1.50"),
        Modifier(id: 3002, name: "Bacon", sku: "mo-bacon", price: "2.00"),
        Modifier(id: 3003, name: "No onions", sku: "mo-no-onion", price: "0.00"),
    ]
    public static let defaultModifierClasses: [ModifierClass] = [
        ModifierClass(id: 3100, name: "Cheese", minimum: 0, maximum: 1, modifierIds: [3001]),
        ModifierClass(id: 3101, name: "Toppings", minimum: 0, maximum: 0, modifierIds: [3002]),
        ModifierClass(id: 3102, name: "Onions", minimum: 0, maximum: 1, modifierIds: [3003]),
    ]
    public static let defaultCategories: [Category] = [
        Category(id: 10, name: "Food"),
        Category(id: 11, name: "Burgers", parentId: 10),
        Category(id: 12, name: "Sides", parentId: 10),
        Category(id: 20, name: "Drinks"),
        Category(id: 21, name: "Soft drinks", parentId: 20),
        Category(id: 90, name: "Other"),
        Category(id: 91, name: "Fees", parentId: 90),
    ]
    public static let defaultMenu = Menu(products: defaultProducts, modifiers: defaultModifiers, modifierClasses: defaultModifierClasses,
                                         categories: defaultCategories)
    public static let firstOrderId = 32759
    /// Page size when `limit` is absent, and the largest honoured.
    public static let defaultPageSize = 50
    public static let maxPageSize = 250
    public static let authenticationHeader = "API-AUTHENTICATION"
    public static let defaultInstance = "sandbox"

    static let submitRoute = SandboxRoute(.post, "/specialresources/cart/submit")
    static let establishmentsRoute = SandboxRoute(.get, "/enterprise/Establishment")
    static let menuRoute = SandboxRoute(.get, "/weborders/menu")
    static let productsRoute = SandboxRoute(.get, "/weborders/products")
    static let modifiersRoute = SandboxRoute(.get, "/weborders/modifiers")
    static let categoriesRoute = SandboxRoute(.get, "/weborders/product_categories")

    public let apiKey: String
    public let apiSecret: String
    public let establishments: [Establishment]
    /// The largest page the listings answer (Revel's is 250); a test makes it small to exercise paging.
    public let maxPageSize: Int

    private let authName = HTTPField.Name(RevelSandbox.authenticationHeader)!
    private let ledger = RouteLedger(routes: [submitRoute, establishmentsRoute, menuRoute, productsRoute, modifiersRoute, categoriesRoute])
    private let state = Mutex(State())
    private let currentMenu: Mutex<Menu>

    struct State {
        var nextOrderId = RevelSandbox.firstOrderId
        var orders: [Order] = []
        var webhook: WebhookTarget?
        var deliveries: [WebhookDelivery] = []
    }

    public init(
        apiKey: String = RevelSandbox.defaultAPIKey, apiSecret: String = RevelSandbox.defaultAPISecret,
        establishments: [Establishment] = RevelSandbox.defaultEstablishments, products: [Product] = RevelSandbox.defaultProducts,
        modifiers: [Modifier] = RevelSandbox.defaultModifiers, modifierClasses: [ModifierClass] = RevelSandbox.defaultModifierClasses,
        categories: [Category] = RevelSandbox.defaultCategories, webhook: WebhookTarget? = nil, maxPageSize: Int = RevelSandbox.maxPageSize
    ) {
        precondition(maxPageSize >= 1, "maxPageSize must be at least 1")
        self.apiKey = apiKey
        self.apiSecret = apiSecret
        self.establishments = establishments
        self.maxPageSize = maxPageSize
        currentMenu = Mutex(Menu(products: products, modifiers: modifiers, modifierClasses: modifierClasses, categories: categories))
        state.withLock { $0.webhook = webhook }
    }

    // MARK: Menu

    /// The menu every establishment offers online (the double keeps one for all).
    public var menu: Menu { currentMenu.withLock { $0 } }
    public var products: [Product] { menu.products }
    public var modifiers: [Modifier] { menu.modifiers }

    /// Replaces the menu the listings show and carts are checked against; ``reset()`` keeps it.
    public func replaceMenu(_ menu: Menu) {
        currentMenu.withLock { $0 = menu }
    }

    // MARK: In-process access

    /// Accepted carts, oldest first.
    public var orders: [Order] { state.withLock { $0.orders } }

    public func order(id: Int) -> Order? { state.withLock { $0.orders.first { $0.orderId == id } } }

    /// Requests that reached `route` (`"/specialresources/cart/submit"`, with or without the trailing slash),
    /// including rejected and failed ones.
    public func requestCount(_ route: String) -> Int { ledger.requestCount(route) }

    /// The next `times` requests to `route` answer `status` before any check or change: HTML for 401, 403 and
    /// 404 (as Revel does), `{"status":"ERROR","errorMsg":…}` otherwise.
    public func failNext(_ route: String, status: Int, times: Int = 1) { ledger.failNext(route, status: status, times: times) }

    /// Forgets orders, counts and pending failures; ids start again at ``firstOrderId``. The webhook
    /// receiver stays configured.
    public func reset() {
        state.withLock { $0 = State(webhook: $0.webhook) }
        ledger.reset()
    }

    // MARK: Webhooks

    public func configureWebhook(url: String, secret: String, instance: String = RevelSandbox.defaultInstance) {
        state.withLock { $0.webhook = WebhookTarget(url: url, secret: secret, instance: instance) }
    }

    public var webhook: WebhookTarget? { state.withLock { $0.webhook } }

    /// Webhooks sent, oldest first.
    public var webhookDeliveries: [WebhookDelivery] { state.withLock { $0.deliveries } }

    /// Closes order `orderId` and sends its `order.finalized` event; again for an order already closed
    /// (a retry: same body, same event id).
    public func finalize(orderId: Int) async throws(WebhookFailure) -> WebhookDelivery {
        let now = SandboxHTTP.timestamp
        let closed = state.withLock { state -> Order? in
            guard let index = state.orders.firstIndex(where: { $0.orderId == orderId }) else { return nil }
            if state.orders[index].finalizedAt == nil {
                state.orders[index].finalizedAt = now
                state.orders[index].finalizedEventId = UUID().uuidString.lowercased()
            }
            return state.orders[index]
        }
        guard let order = closed else { throw .unknownOrder(String(orderId)) }
        return try await send(event: "order.finalized", body: Self.orderAllInOne(order), eventId: order.finalizedEventId,
                              establishmentId: order.establishmentId)
    }

    /// Sends the `{"ping":"pong"}` Revel sends when a webhook is enabled.
    public func ping() async throws(WebhookFailure) -> WebhookDelivery {
        try await send(event: "ping", body: .object([("ping", .string("pong"))]), eventId: nil, establishmentId: nil)
    }

    /// `X-Revel-Signature` for `body`: lowercase hex HMAC-SHA1 keyed with the shared secret's bytes.
    public static func signature(of body: [UInt8], secret: String) -> String {
        Hex.encode(HMAC<Insecure.SHA1>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8))))
    }

    private func send(event: String, body json: JSONValue, eventId: String?, establishmentId: Int?) async throws(WebhookFailure) -> WebhookDelivery {
        guard let target = webhook else { throw .notConfigured(setup: #"PUT /_sandbox/webhook {"url","secret"}"#) }
        let body = json.bytes
        var headers: [(String, String)] = [
            ("Content-Type", "application/json"),
            ("X-Revel-Signature", Self.signature(of: body, secret: target.secret)),
            ("X-Revel-Event-Type", event),
            ("X-Revel-Instance", target.instance),
            ("X-Revel-Event-Id", eventId ?? UUID().uuidString.lowercased()),
            ("X-Revel-Message-Id", UUID().uuidString.lowercased()),
        ]
        if let establishmentId { headers.append(("X-Revel-Establishment-Id", String(establishmentId))) }
        let answer = try await SandboxWebhookPost.send(to: target.url, headers: headers, body: body)
        let delivery = WebhookDelivery(event: event, headers: headers, body: body, status: answer.status, responseBody: answer.body)
        state.withLock { $0.deliveries.append(delivery) }
        return delivery
    }

    /// Revel's OrderAllInOne representation of a closed order, as `order.finalized` carries it: the order
    /// under `orderInfo`, then its items, payments and history. Only what the cart gave the double is
    /// there; Revel's dates carry an offset.
    static func orderAllInOne(_ order: Order) -> JSONValue {
        let cart = order.body
        let created = revelDate(order.receivedAt)
        let updated = revelDate(order.finalizedAt ?? order.receivedAt)
        let info = cart["orderInfo"]
        let items: [JSONValue] = if case .array(let lines)? = cart["items"] {
            lines.map { line in
                .object([
                    ("product", line["product"] ?? .null), ("quantity", line["quantity"] ?? .null), ("price", line["price"] ?? .null),
                    ("special_request", line["special_request"] ?? .string("")),
                ])
            }
        } else { [] }
        let payment = cart["paymentInfo"]
        let payments: [JSONValue] = payment.map { payment in [.object([
            ("payment_type", payment["type"] ?? .null), ("amount", payment["amount"] ?? .null), ("tip", payment["tip"] ?? .null),
            ("transaction_id", payment["transaction_id"] ?? .null), ("created_date", .string(created)),
        ])] } ?? []
        return .object([
            ("orderInfo", .object([
                ("id", .int(order.orderId)), ("uuid", .string(order.uuid)),
                ("establishment", .string("/enterprise/Establishment/\(order.establishmentId)/")),
                ("created_date", .string(created)), ("updated_date", .string(updated)),
                ("closed", .bool(order.finalizedAt != nil)), ("web_order", .bool(true)),
                ("dining_option", info?["dining_option"] ?? .null), ("call_name", info?["call_name"] ?? .string("")),
                ("notes", info?["notes"] ?? .string("")),
            ])),
            ("items", .array(items)),
            ("paymentInfo", .array(payments)),
            ("orderHistory", .array([.object([("opened", .string(created)), ("closed", .string(updated))])])),
        ])
    }

    /// `2026-04-29T14:59:40+00:00` from RFC 3339 UTC text: seconds and an offset, as Revel writes dates.
    static func revelDate(_ rfc3339: String) -> String {
        guard let milliseconds = RFC3339.parseMilliseconds(rfc3339) else { return rfc3339 }
        return String(RFC3339.format(milliseconds: milliseconds).prefix(19)) + "+00:00"
    }

    // MARK: Routes

    public func addRoutes<Context: RequestContext>(to router: Router<Context>, prefix: String = "/revel") {
        func mount(_ route: SandboxRoute, _ handler: @escaping @Sendable (SandboxRequest) -> Response) {
            ledger.mount(route, on: router, prefix: prefix, errorResponse: { Self.failure($0, $1) }) { request in
                if let denied = self.authenticate(request) { return denied }
                return handler(request)
            }
        }
        mount(Self.submitRoute) { self.handleSubmit($0) }
        mount(Self.establishmentsRoute) { self.handleEstablishments($0, prefix: prefix) }
        mount(Self.menuRoute) { self.handleMenu($0) }
        mount(Self.productsRoute) { request in
            self.handleListing(request, path: prefix + "/weborders/products/") { menu in menu.products.map(Self.json) }
        }
        mount(Self.modifiersRoute) { request in
            self.handleListing(request, path: prefix + "/weborders/modifiers/") { menu in
                menu.modifierClasses.map { Self.json($0, modifiers: menu.modifiers) }
            }
        }
        mount(Self.categoriesRoute) { request in
            self.handleListing(request, path: prefix + "/weborders/product_categories/") { menu in menu.categories.map(Self.json) }
        }
        ledger.mountControl(on: router, prefix: prefix, snapshot: { self.snapshot }, catalogue: { self.catalogue }, reset: { self.reset() })
        mountWebhookControl(on: router, prefix: prefix)
    }

    /// `PUT {prefix}/_sandbox/webhook` `{"url","secret","instance"?}` sets the receiver; `POST
    /// {prefix}/_sandbox/orders/{id}/finalize` and `POST {prefix}/_sandbox/webhook/ping` send, answering 200
    /// `{"event","status","body"}` with the receiver's answer (404 unknown order, 409 no receiver, 502 no answer).
    private func mountWebhookControl<Context: RequestContext>(on router: Router<Context>, prefix: String) {
        router.put(RouterPath(prefix + "/_sandbox/webhook")) { request, _ -> Response in
            let bytes: [UInt8]
            do {
                bytes = Array(try await request.body.collect(upTo: 64 * 1024).readableBytesView)
            } catch {
                return Self.controlError(400, "body larger than 64 KiB")
            }
            let example = #"body must be a JSON object such as {"url":"http://127.0.0.1:8080/hook","secret":"…","instance":"acme"}"#
            guard let node = try? SandboxBody.object(bytes) else { return Self.controlError(400, example) }
            var checker = JSONChecker(style: .brackets, wording: .plain)
            let url = checker.string(node["url"], FieldPath.root.key("url"), required: true, nonEmpty: true)
            let secret = checker.string(node["secret"], FieldPath.root.key("secret"), required: true, nonEmpty: true)
            let instance = checker.string(node["instance"], FieldPath.root.key("instance"), required: false, nonEmpty: true)
            let target = url.flatMap { URL(string: $0) }
            if url != nil, target?.host == nil || !["http", "https"].contains(target?.scheme?.lowercased() ?? "") {
                checker.fail(FieldPath.root.key("url"), "must be an absolute http(s) URL")
            }
            guard checker.isValid, let url, let secret else {
                return Self.controlError(400, checker.violations.map { "\($0.path) \($0.message)" }.joined(separator: "; "))
            }
            self.configureWebhook(url: url, secret: secret, instance: instance ?? Self.defaultInstance)
            return SandboxHTTP.json(200, .object([("url", .string(url)), ("instance", .string(instance ?? Self.defaultInstance))]))
        }
        router.post(RouterPath(prefix + "/_sandbox/orders/{id}/finalize")) { _, context -> Response in
            guard let text = context.parameters.get("id"), let id = Int(text) else { return Self.controlError(404, "order not found") }
            do throws(WebhookFailure) {
                return Self.report(.success(try await self.finalize(orderId: id)))
            } catch {
                return Self.report(.failure(error))
            }
        }
        router.post(RouterPath(prefix + "/_sandbox/webhook/ping")) { _, _ -> Response in
            do throws(WebhookFailure) {
                return Self.report(.success(try await self.ping()))
            } catch {
                return Self.report(.failure(error))
            }
        }
    }

    private static func controlError(_ status: Int, _ reason: String) -> Response {
        SandboxHTTP.json(status, .object([("error", .string(reason))]))
    }

    /// A control endpoint's answer about a webhook it sent.
    private static func report(_ outcome: Result<WebhookDelivery, WebhookFailure>) -> Response {
        switch outcome {
        case .success(let delivery):
            return SandboxHTTP.json(200, .object([
                ("event", .string(delivery.event)), ("status", .int(delivery.status)), ("body", .string(delivery.responseBody)),
            ]))
        case .failure(let failure):
            return failure.response
        }
    }

    /// Revel's error shape for `status`: HTML for 401/403/404, `{"status":"ERROR","errorMsg":…}` otherwise.
    static func failure(_ status: Int, _ message: String) -> Response {
        switch status {
        case 401: SandboxHTTP.html(401, title: "Unauthorized")
        case 403: SandboxHTTP.html(403, title: "Forbidden")
        case 404: SandboxHTTP.html(404, title: "Not Found")
        default: SandboxHTTP.json(status, .object([("status", .string("ERROR")), ("errorMsg", .string(message))]))
        }
    }

    private func authenticate(_ request: SandboxRequest) -> Response? {
        guard let header = request.header(authName) else { return SandboxHTTP.html(401, title: "Unauthorized") }
        guard SandboxFormats.credentialMatches(header, "\(apiKey):\(apiSecret)") else { return SandboxHTTP.html(403, title: "Forbidden") }
        return nil
    }

    // MARK: Cart submit

    private func handleSubmit(_ request: SandboxRequest) -> Response {
        let mediaType = request.header(.contentType)?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "text/plain" else {
            return SandboxHTTP.json(500, .object([("status", .string("ERROR")), ("errorMsg", .string("Unhandled error"))]))
        }
        let node: JSONNode
        do { node = try SandboxBody.object(request.body) } catch { return Self.failure(400, error.message) }
        var checker = JSONChecker(style: .brackets, wording: .plain)
        let establishmentId = validateCart(node, &checker)
        guard checker.isValid, let establishmentId else {
            return Self.failure(400, checker.violations.map { "\($0.path): \($0.message)" }.joined(separator: "; "))
        }
        let transactionId = node["paymentInfo"]?["transaction_id"].flatMap { node -> String? in
            if case .string(let text) = node.kind { text } else { nil }
        }
        let body = JSONValue(node)
        enum Outcome {
            case created(Int)
            case duplicate(Int)
        }
        let outcome = state.withLock { state -> Outcome in
            if let transactionId, let existing = state.orders.first(where: { $0.transactionId == transactionId }) {
                return .duplicate(existing.orderId)
            }
            let orderId = state.nextOrderId
            state.nextOrderId += 1
            state.orders.append(Order(orderId: orderId, establishmentId: establishmentId, transactionId: transactionId, body: body,
                                      receivedAt: SandboxHTTP.timestamp, uuid: UUID().uuidString.lowercased()))
            return .created(orderId)
        }
        switch outcome {
        case .created(let orderId):
            return SandboxHTTP.json(200, .object([("status", .string("OK")), ("orderId", .int(orderId))]))
        case .duplicate(let orderId):
            return SandboxHTTP.json(409, .object([
                ("status", .string("ERROR")),
                ("errorMsg", .string("Order with transaction_id \(transactionId ?? "") already exists")),
                ("orderId", .int(orderId)),
            ]))
        }
    }

    /// Checks a cart; returns its establishment id (violations are in `checker`).
    func validateCart(_ node: JSONNode, _ checker: inout JSONChecker) -> Int? {
        let root = FieldPath.root
        let menu = self.menu
        let products = menu.products
        let modifiers = menu.modifiers
        var establishmentId = checker.integer(node["establishmentId"], root.key("establishmentId"), required: true)
        if let id = establishmentId, !establishments.contains(where: { $0.id == id }) {
            checker.fail(root.key("establishmentId"), "unknown establishment \(id)")
            establishmentId = nil
        }
        let itemsPath = root.key("items")
        if let items = checker.array(node["items"], itemsPath, required: true, nonEmpty: true) {
            for (index, item) in items.enumerated() {
                let path = itemsPath.index(index)
                guard let item = checker.object(item, path, required: true) else { continue }
                if let product = checker.integer(item["product"], path.key("product"), required: true),
                   !products.contains(where: { $0.id == product }) {
                    checker.fail(path.key("product"), "unknown product \(product)")
                }
                _ = checker.integer(item["quantity"], path.key("quantity"), required: true, minimum: 1)
                _ = checker.moneyNumber(item["price"], path.key("price"), required: true)
                _ = checker.string(item["special_request"], path.key("special_request"), required: false)
                let modifiersPath = path.key("modifieritems")
                guard let modifierItems = checker.array(item["modifieritems"], modifiersPath, required: false, nonEmpty: false) else { continue }
                for (modifierIndex, modifierItem) in modifierItems.enumerated() {
                    let modifierPath = modifiersPath.index(modifierIndex)
                    guard let modifierItem = checker.object(modifierItem, modifierPath, required: true) else { continue }
                    if let modifier = checker.integer(modifierItem["modifier"], modifierPath.key("modifier"), required: true),
                       !modifiers.contains(where: { $0.id == modifier }) {
                        checker.fail(modifierPath.key("modifier"), "unknown modifier \(modifier)")
                    }
                    _ = checker.integer(modifierItem["qty"], modifierPath.key("qty"), required: true, minimum: 1)
                    if modifierItem["modifier_price"] == nil, modifierItem["amount"] == nil {
                        checker.fail(modifierPath.key("modifier_price"), "is required (or the legacy amount)")
                    }
                    _ = checker.moneyNumber(modifierItem["modifier_price"], modifierPath.key("modifier_price"), required: false)
                    _ = checker.moneyNumber(modifierItem["amount"], modifierPath.key("amount"), required: false)
                    _ = checker.integer(modifierItem["qty_type"], modifierPath.key("qty_type"), required: false)
                    _ = checker.integer(modifierItem["mod_type"], modifierPath.key("mod_type"), required: false)
                    _ = checker.integer(modifierItem["product_id"], modifierPath.key("product_id"), required: false)
                }
            }
        }
        let infoPath = root.key("orderInfo")
        if let info = checker.object(node["orderInfo"], infoPath, required: false) {
            _ = checker.integer(info["dining_option"], infoPath.key("dining_option"), required: false)
            _ = checker.bool(info["asap"], infoPath.key("asap"), required: false)
            _ = checker.string(info["call_name"], infoPath.key("call_name"), required: false)
            _ = checker.string(info["notes"], infoPath.key("notes"), required: false)
            _ = checker.string(info["pickup_time"], infoPath.key("pickup_time"), required: false)
        }
        let paymentPath = root.key("paymentInfo")
        if let payment = checker.object(node["paymentInfo"], paymentPath, required: false) {
            _ = checker.integer(payment["type"], paymentPath.key("type"), required: false)
            _ = checker.moneyNumber(payment["amount"], paymentPath.key("amount"), required: false)
            _ = checker.moneyNumber(payment["tip"], paymentPath.key("tip"), required: false)
            _ = checker.string(payment["transaction_id"], paymentPath.key("transaction_id"), required: false)
        }
        return establishmentId
    }

    // MARK: Establishments and menu

    /// A page of `elements` per the request's `limit` (default 50, at most ``maxPageSize``, 0 = the most) and
    /// `offset`, with Tastypie's `meta`; `extraQuery` (`establishment=456&`) is kept in `next`/`previous`.
    private func page(_ elements: [JSONValue], _ request: SandboxRequest, path: String, extraQuery: String = "")
    -> Result<(meta: JSONValue, page: [JSONValue]), PageError> {
        /// The query parameter's value, `value` when absent, nil when not a non-negative integer.
        func number(_ name: String, default value: Int) -> Int? {
            guard let text = request.query[name] else { return value }
            guard let parsed = Int(text), parsed >= 0 else { return nil }
            return parsed
        }
        guard let requestedLimit = number("limit", default: min(Self.defaultPageSize, maxPageSize)) else {
            return .failure(PageError(message: "limit: must be a non-negative integer"))
        }
        guard let offset = number("offset", default: 0) else {
            return .failure(PageError(message: "offset: must be a non-negative integer"))
        }
        // Tastypie: limit=0 means "as many as allowed"; more than allowed is capped, not refused.
        let limit = requestedLimit == 0 ? maxPageSize : min(requestedLimit, maxPageSize)
        let total = elements.count
        let page = offset < total ? Array(elements[offset..<min(total, offset + limit)]) : []
        let next: JSONValue = offset + limit < total ? .string("\(path)?\(extraQuery)limit=\(limit)&offset=\(offset + limit)") : .null
        let previous: JSONValue = offset > 0 ? .string("\(path)?\(extraQuery)limit=\(limit)&offset=\(max(0, offset - limit))") : .null
        let meta: JSONValue = .object([
            ("limit", .int(limit)), ("offset", .int(offset)), ("total_count", .int(total)), ("next", next), ("previous", previous),
        ])
        return .success((meta, page))
    }

    struct PageError: Error {
        let message: String
    }

    private func handleEstablishments(_ request: SandboxRequest, prefix: String) -> Response {
        switch page(establishments.map(Self.json), request, path: prefix + "/enterprise/Establishment/") {
        case .failure(let error): return Self.failure(400, error.message)
        case .success(let listed): return SandboxHTTP.json(200, .object([("meta", listed.meta), ("objects", .array(listed.page))]))
        }
    }

    /// The establishment a weborders request names (`establishment`, required), or the error answer.
    private func establishment(_ request: SandboxRequest) -> Result<Int, PageError> {
        guard let text = request.query["establishment"], !text.isEmpty else {
            return .failure(PageError(message: "establishment: is required"))
        }
        guard let id = Int(text), establishments.contains(where: { $0.id == id }) else {
            return .failure(PageError(message: "establishment: unknown establishment \(text)"))
        }
        return .success(id)
    }

    /// A weborders listing: `{"status":"OK","data":[…],"meta":{…}}`, paged like Revel's other lists ⚠.
    private func handleListing(_ request: SandboxRequest, path: String, _ list: (Menu) -> [JSONValue]) -> Response {
        let id: Int
        switch establishment(request) {
        case .failure(let error): return Self.failure(400, error.message)
        case .success(let value): id = value
        }
        switch page(list(menu), request, path: path, extraQuery: "establishment=\(id)&") {
        case .failure(let error): return Self.failure(400, error.message)
        case .success(let listed):
            return SandboxHTTP.json(200, .object([("status", .string("OK")), ("data", .array(listed.page)), ("meta", listed.meta)]))
        }
    }

    private func handleMenu(_ request: SandboxRequest) -> Response {
        if case .failure(let error) = establishment(request) { return Self.failure(400, error.message) }
        let menu = self.menu
        let products = menu.products
        let modifiers = menu.modifiers
        return SandboxHTTP.json(200, .object([
            ("status", .string("OK")),
            ("data", .object([
                ("products", .array(products.map { .object([("id", .int($0.id)), ("name", .string($0.name))]) })),
                ("modifiers", .array(modifiers.map { .object([("id", .int($0.id)), ("name", .string($0.name))]) })),
            ])),
        ]))
    }

    // MARK: Reports

    static func json(_ product: Product) -> JSONValue {
        .object([
            ("id", .int(product.id)), ("name", .string(product.name)), ("sku", .string(product.sku ?? "")),
            ("price", product.price.map(JSONValue.number) ?? .null), ("category", .optionalInt(product.categoryId)),
            ("modifier_classes", .array(product.modifierClassIds.map(JSONValue.int))),
        ])
    }

    /// A modifier class with its modifiers inline, as the weborders modifiers listing shows them ⚠.
    static func json(_ modifierClass: ModifierClass, modifiers: [Modifier]) -> JSONValue {
        .object([
            ("id", .int(modifierClass.id)), ("name", .string(modifierClass.name)),
            ("min", .int(modifierClass.minimum)), ("max", .int(modifierClass.maximum)),
            ("modifiers", .array(modifierClass.modifierIds.compactMap { id in modifiers.first { $0.id == id } }.map { modifier in
                .object([
                    ("id", .int(modifier.id)), ("name", .string(modifier.name)), ("sku", .string(modifier.sku ?? "")),
                    ("price", modifier.price.map(JSONValue.number) ?? .null),
                ])
            })),
        ])
    }

    static func json(_ category: Category) -> JSONValue {
        .object([("id", .int(category.id)), ("name", .string(category.name)), ("parent", .optionalInt(category.parentId))])
    }

    static func json(_ establishment: Establishment) -> JSONValue {
        .object([
            ("id", .int(establishment.id)), ("name", .string(establishment.name)),
            ("address", .optionalString(establishment.address)),
        ])
    }

    var snapshot: JSONValue {
        .object([
            ("orders", .array(orders.map { order in
                .object([
                    ("orderId", .int(order.orderId)), ("establishmentId", .int(order.establishmentId)),
                    ("transactionId", .optionalString(order.transactionId)), ("receivedAt", .string(order.receivedAt)),
                    ("body", order.body),
                ])
            })),
            ("requestCounts", ledger.countsJSON),
        ])
    }

    var catalogue: JSONValue {
        let menu = self.menu
        return .object([
            ("establishments", .array(establishments.map(Self.json))),
            ("products", .array(menu.products.map(Self.json))),
            ("modifierClasses", .array(menu.modifierClasses.map { Self.json($0, modifiers: menu.modifiers) })),
            ("modifiers", .array(menu.modifiers.map { .object([("id", .int($0.id)), ("name", .string($0.name))]) })),
            ("categories", .array(menu.categories.map(Self.json))),
        ])
    }
}
