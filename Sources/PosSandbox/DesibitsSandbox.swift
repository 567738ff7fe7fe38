import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import Synchronization

/// A double of a desibits-style restaurant POS operations API (`/api/v1/pos/...`): Bearer auth, the
/// `{"success":…,"data":…}` envelope, Laravel-style 422 validation errors, and the order lifecycle
/// `draft → kot → billed → paid` (`draft|kot|billed → cancelled`) with KOT generation and payments.
/// A KOT (kitchen order ticket) moves forward on its own: `sent_to_kitchen → in_kitchen → food_ready → served`.
public final class DesibitsSandbox: Sendable {
    /// An entry of a `{id, name, code}` list (order types, payment methods).
    public struct CodedEntry: Sendable, Hashable {
        public var id: Int
        public var name: String
        public var code: String

        public init(id: Int, name: String, code: String) {
            self.id = id
            self.name = name
            self.code = code
        }

        var json: JSONValue { .object([("id", .int(id)), ("name", .string(name)), ("code", .string(code))]) }
    }

    public typealias OrderType = CodedEntry
    public typealias PaymentMethod = CodedEntry

    public struct MenuItem: Sendable, Hashable {
        public var id: Int
        public var name: String
        /// Menu price in cents (written as a JSON number with two decimals).
        public var priceCents: Int64
        /// The item's stock-keeping code ⚠ (the API documents no menu item fields): our PLU.
        public var sku: String?
        /// The menu category's name ⚠.
        public var category: String?

        public init(id: Int, name: String, priceCents: Int64, sku: String? = nil, category: String? = nil) {
            self.id = id
            self.name = name
            self.priceCents = priceCents
            self.sku = sku
            self.category = category
        }
    }

    public struct Kitchen: Sendable, Hashable {
        public var id: Int
        public var name: String
        public var menuItems: [MenuItem]

        public init(id: Int, name: String, menuItems: [MenuItem]) {
            self.id = id
            self.name = name
            self.menuItems = menuItems
        }
    }

    public struct Item: Sendable, Equatable {
        public let menuItemId: Int
        public let name: String
        public let quantity: Int
        public let priceCents: Int64
        public let note: String?
    }

    public struct Payment: Sendable, Equatable {
        public let id: Int
        public let paymentMethod: String
        public let amountCents: Int64
        public let tipCents: Int64
        public let transactionId: String
        public let receivedAt: String
    }

    /// A kitchen order ticket: what the kitchen has done with (part of) an order.
    public struct KOT: Sendable, Equatable {
        /// `KOT-001`: the id the API names a KOT by.
        public let number: String
        /// One of ``DesibitsSandbox/kotStatuses``.
        public internal(set) var status: String
        /// When the status last changed (RFC 3339 UTC).
        public internal(set) var updatedAt: String
    }

    /// An order as the double holds it.
    public struct Order: Sendable {
        public let id: Int
        public let orderNumber: String
        /// `draft`, `kot`, `billed`, `paid` or `cancelled`.
        public internal(set) var status: String
        /// `unpaid` until a payment is processed, then `paid`.
        public internal(set) var paymentStatus: String
        public let orderTypeId: Int
        public let tableId: Int?
        public let customerId: Int?
        public let items: [Item]
        public let discountType: String?
        public let discountValueCents: Int64?
        public let subtotalCents: Int64
        public let totalCents: Int64
        public internal(set) var payments: [Payment]
        /// KOTs generated for the order, oldest first.
        public internal(set) var kots: [KOT]
        public internal(set) var cancelReason: String?
        /// The create request body as parsed.
        public let body: JSONValue
        public let receivedAt: String
        /// When the order's status last changed (RFC 3339 UTC).
        public internal(set) var updatedAt: String

        /// The total as JSON number text (`25.98`).
        public var total: String { Cents.decimal(totalCents) }
    }

    // Sandbox credentials, not secrets.
    public static let defaultToken = "desibits-sandbox-token"
    public static let defaultOrderTypes: [OrderType] = [
        OrderType(id: 1, name: "Dine In", code: "dine_in"),
        OrderType(id: 2, name: "Takeaway", code: "takeaway"),
        OrderType(id: 3, name: "Delivery", code: "delivery"),
    ]
    /// Exactly the seed's payment methods.
    public static let defaultPaymentMethods: [PaymentMethod] = [
        PaymentMethod(id: 1, name: "Cash", code: "cash"),
        PaymentMethod(id: 2, name: "Card", code: "card"),
        PaymentMethod(id: 3, name: "UPI", code: "upi"),
    ]
    public static let defaultKitchens: [Kitchen] = [
        Kitchen(id: 1, name: "Main Kitchen", menuItems: [
            MenuItem(id: 15, name: "Classic Burger", priceCents: 3500, sku: "SKU-BURGER-01", category: "Burgers"),
            MenuItem(id: 16, name: "Fries", priceCents: 800, sku: "SKU-FRIES-01", category: "Sides"),
            MenuItem(id: 31, name: "Extra Cheese", priceCents: 500, sku: "mo-extra-cheese", category: "Extras"),
            MenuItem(id: 32, name: "Bacon", priceCents: 600, sku: "mo-bacon", category: "Extras"),
            MenuItem(id: 90, name: "Delivery fee", priceCents: 500, sku: "DELIVERY-FEE", category: "Fees"),
        ]),
        // A second station sharing the fries: one menu item, listed under both.
        Kitchen(id: 2, name: "Bar", menuItems: [
            MenuItem(id: 16, name: "Fries", priceCents: 800, sku: "SKU-FRIES-01", category: "Sides"),
            MenuItem(id: 40, name: "Mango Lassi", priceCents: 450, sku: "SKU-LASSI-01", category: "Drinks"),
        ]),
    ]
    public static let firstOrderId = 123
    public static let firstPaymentId = 456
    public static let statuses: [String] = ["draft", "kot", "billed", "paid", "cancelled"]
    /// Legal `PUT …/status` transitions.
    public static let transitions: [String: Set<String>] = [
        "draft": ["kot", "cancelled"],
        "kot": ["billed", "cancelled"],
        "billed": ["paid", "cancelled"],
    ]
    /// A KOT's statuses in the order the kitchen moves through them; `PUT /kot/{id}/status` only moves forward.
    public static let kotStatuses: [String] = ["sent_to_kitchen", "in_kitchen", "food_ready", "served"]

    static let orderTypesRoute = SandboxRoute(.get, "/api/v1/pos/order-types")
    static let paymentMethodsRoute = SandboxRoute(.get, "/api/v1/pos/payment-methods")
    static let kitchensRoute = SandboxRoute(.get, "/api/v1/pos/kitchens")
    static let createRoute = SandboxRoute(.post, "/api/v1/pos/orders")
    static let listRoute = SandboxRoute(.get, "/api/v1/pos/orders")
    static let showRoute = SandboxRoute(.get, "/api/v1/pos/orders/{id}")
    static let statusRoute = SandboxRoute(.put, "/api/v1/pos/orders/{id}/status")
    static let cancelRoute = SandboxRoute(.post, "/api/v1/pos/orders/{id}/cancel")
    static let paymentRoute = SandboxRoute(.post, "/api/v1/pos/orders/{id}/payment")
    static let kotRoute = SandboxRoute(.post, "/api/v1/pos/orders/{id}/kot")
    static let kotStatusRoute = SandboxRoute(.put, "/api/v1/pos/kot/{id}/status")

    public let token: String
    public let orderTypes: [OrderType]
    public let paymentMethods: [PaymentMethod]
    /// nil: `GET /kitchens` answers the plain list the API shows. A size: it pages the Laravel way ⚠
    /// (`data` a paginator, `?page=`), so a test can exercise paging.
    public let kitchensPageSize: Int?
    private let currentKitchens: Mutex<[Kitchen]>

    private let ledger = RouteLedger(routes: [
        orderTypesRoute, paymentMethodsRoute, kitchensRoute, createRoute, listRoute, showRoute, statusRoute, cancelRoute,
        paymentRoute, kotRoute, kotStatusRoute,
    ])
    private let state = Mutex(State())

    struct State {
        var nextOrderId = DesibitsSandbox.firstOrderId
        var nextPaymentId = DesibitsSandbox.firstPaymentId
        var nextKot = 1
        var orders: [Order] = []
        /// transaction_id → (order id, payment id)
        var transactions: [String: (order: Int, payment: Int)] = [:]
    }

    public init(
        token: String = DesibitsSandbox.defaultToken, orderTypes: [OrderType] = DesibitsSandbox.defaultOrderTypes,
        paymentMethods: [PaymentMethod] = DesibitsSandbox.defaultPaymentMethods, kitchens: [Kitchen] = DesibitsSandbox.defaultKitchens,
        kitchensPageSize: Int? = nil
    ) {
        precondition(kitchensPageSize.map { $0 >= 1 } ?? true, "kitchensPageSize must be at least 1")
        self.token = token
        self.orderTypes = orderTypes
        self.paymentMethods = paymentMethods
        self.currentKitchens = Mutex(kitchens)
        self.kitchensPageSize = kitchensPageSize
    }

    /// The kitchens and their menu items: what `GET /kitchens` lists and orders are checked against.
    public var kitchens: [Kitchen] { currentKitchens.withLock { $0 } }

    /// Replaces the kitchens (the menu); ``reset()`` keeps them.
    public func replaceKitchens(_ kitchens: [Kitchen]) {
        currentKitchens.withLock { $0 = kitchens }
    }

    // MARK: In-process access

    /// Orders, oldest first.
    public var orders: [Order] { state.withLock { $0.orders } }

    public func order(id: Int) -> Order? { state.withLock { $0.orders.first { $0.id == id } } }

    /// Requests that reached `route` (`"/api/v1/pos/orders/{id}/payment"`; `"POST /api/v1/pos/orders"` for one
    /// method), including rejected and failed ones.
    public func requestCount(_ route: String) -> Int { ledger.requestCount(route) }

    /// The next `times` requests to `route` answer `status` with `{"success":false,"message":…}`, before any
    /// check or change.
    public func failNext(_ route: String, status: Int, times: Int = 1) { ledger.failNext(route, status: status, times: times) }

    /// Why ``updateKOTStatus(_:to:)`` refused a change.
    public enum KOTStatusRefusal: Error, Sendable, Equatable {
        case unknownKOT(String)
        case unknownStatus(String)
        /// Not a step forward (back, or the status it already has).
        case notForward(from: String, to: String)
        case orderCancelled(String)

        public var message: String {
            switch self {
            case .unknownKOT(let number): "KOT \(number) not found."
            case .unknownStatus: "The selected status is invalid."
            case .notForward(let from, let to): "Illegal KOT status transition from \(from) to \(to)"
            case .orderCancelled(let number): "KOT \(number) belongs to a cancelled order"
            }
        }
    }

    /// Moves KOT `number` (`KOT-001`) to `status`, as the kitchen would: forward only, any number of steps.
    /// What `PUT /api/v1/pos/kot/{id}/status` and `PUT {prefix}/_sandbox/kot/{id}/status` do.
    @discardableResult
    public func updateKOTStatus(_ number: String, to status: String) throws(KOTStatusRefusal) -> KOT {
        guard let target = Self.kotStatuses.firstIndex(of: status) else { throw .unknownStatus(status) }
        let now = SandboxHTTP.timestamp
        let outcome = state.withLock { state -> Result<KOT, KOTStatusRefusal> in
            for orderIndex in state.orders.indices {
                guard let kotIndex = state.orders[orderIndex].kots.firstIndex(where: { $0.number == number }) else { continue }
                if state.orders[orderIndex].status == "cancelled" { return .failure(.orderCancelled(number)) }
                let current = state.orders[orderIndex].kots[kotIndex].status
                guard let position = Self.kotStatuses.firstIndex(of: current), target > position else {
                    return .failure(.notForward(from: current, to: status))
                }
                state.orders[orderIndex].kots[kotIndex].status = status
                state.orders[orderIndex].kots[kotIndex].updatedAt = now
                return .success(state.orders[orderIndex].kots[kotIndex])
            }
            return .failure(.unknownKOT(number))
        }
        return try outcome.get()
    }

    /// Forgets orders, payments, KOTs, counts and pending failures; ids start again.
    public func reset() {
        state.withLock { $0 = State() }
        ledger.reset()
    }

    var menuItems: [MenuItem] { kitchens.flatMap(\.menuItems) }

    // MARK: Routes

    public func addRoutes<Context: RequestContext>(to router: Router<Context>, prefix: String = "/desibits") {
        func mount(_ route: SandboxRoute, _ handler: @escaping @Sendable (SandboxRequest) -> Response) {
            ledger.mount(route, on: router, prefix: prefix, errorResponse: { Self.failure($0, $1) }) { request in
                if let denied = self.authenticate(request) { return denied }
                return handler(request)
            }
        }
        mount(Self.orderTypesRoute) { _ in
            Self.success(200, .array(self.orderTypes.map(\.json)))
        }
        mount(Self.paymentMethodsRoute) { _ in
            Self.success(200, .array(self.paymentMethods.map(\.json)))
        }
        mount(Self.kitchensRoute) { request in self.handleKitchens(request, path: prefix + Self.kitchensRoute.pattern) }
        mount(Self.createRoute) { self.handleCreate($0) }
        mount(Self.listRoute) { self.handleList($0) }
        mount(Self.showRoute) { request in
            guard let order = self.findOrder(request) else { return Self.notFound }
            return Self.success(200, Self.json(order))
        }
        mount(Self.statusRoute) { self.handleStatus($0) }
        mount(Self.cancelRoute) { self.handleCancel($0) }
        mount(Self.paymentRoute) { self.handlePayment($0) }
        mount(Self.kotRoute) { self.handleKot($0) }
        mount(Self.kotStatusRoute) { self.handleKotStatus($0) }
        ledger.mountControl(on: router, prefix: prefix, snapshot: { self.snapshot }, catalogue: { self.catalogue }, reset: { self.reset() })
        // The kitchen's side for tests: the same change without a token, not counted as an API call.
        router.put(RouterPath(prefix + "/_sandbox/kot/{id}/status")) { request, context -> Response in
            let body: [UInt8]
            do {
                body = Array(try await request.body.collect(upTo: 64 * 1024).readableBytesView)
            } catch {
                return Self.failure(413, "body larger than 64 KiB")
            }
            return self.kotStatusResponse(number: context.parameters.get("id") ?? "", body: body)
        }
    }

    // MARK: Envelopes

    static func success(_ status: Int, _ data: JSONValue, message: String? = nil) -> Response {
        var members: [(String, JSONValue)] = [("success", .bool(true))]
        if let message { members.append(("message", .string(message))) }
        members.append(("data", data))
        return SandboxHTTP.json(status, .object(members))
    }

    static func failure(_ status: Int, _ message: String, data: JSONValue? = nil) -> Response {
        var members: [(String, JSONValue)] = [("success", .bool(false)), ("message", .string(message))]
        if let data { members.append(("data", data)) }
        return SandboxHTTP.json(status, .object(members))
    }

    /// Laravel's validation failure: 422 with every violation under its dotted field path.
    static func invalid(_ violations: [JSONChecker.Violation]) -> Response {
        var errors: [(String, JSONValue)] = []
        for violation in violations {
            if let index = errors.firstIndex(where: { $0.0 == violation.path }), case .array(let messages) = errors[index].1 {
                errors[index].1 = .array(messages + [.string(violation.message)])
            } else {
                errors.append((violation.path, .array([.string(violation.message)])))
            }
        }
        return SandboxHTTP.json(422, .object([
            ("success", .bool(false)), ("message", .string("The given data was invalid.")), ("errors", .object(errors)),
        ]))
    }

    static func invalid(_ path: String, _ message: String) -> Response {
        invalid([JSONChecker.Violation(path: path, message: message)])
    }

    static var notFound: Response { failure(404, "Order not found.") }

    /// A refused change of state, Laravel-style: 422 with the message under `errors.status`.
    static func illegalStatus(_ message: String) -> Response {
        SandboxHTTP.json(422, .object([
            ("success", .bool(false)), ("message", .string(message)), ("errors", .object([("status", .array([.string(message)]))])),
        ]))
    }

    private func authenticate(_ request: SandboxRequest) -> Response? {
        guard let header = request.header(.authorization), header.hasPrefix("Bearer "),
              SandboxFormats.credentialMatches(String(header.dropFirst("Bearer ".count)), token)
        else { return Self.failure(401, "Unauthenticated.") }
        return nil
    }

    private func parse(_ request: SandboxRequest) throws(SandboxBody.Problem) -> JSONNode {
        try SandboxBody.object(request.body)
    }

    private func findOrder(_ request: SandboxRequest) -> Order? {
        guard let text = request.parameters["id"], let id = Int(text) else { return nil }
        return order(id: id)
    }

    // MARK: Handlers

    private func handleCreate(_ request: SandboxRequest) -> Response {
        let node: JSONNode
        do { node = try parse(request) } catch { return Self.failure(400, error.message) }
        var checker = JSONChecker(style: .dots, wording: .laravel)
        let root = FieldPath.root
        let orderTypeId = checker.integer(node["order_type_id"], root.key("order_type_id"), required: true)
        if let orderTypeId, !orderTypes.contains(where: { $0.id == orderTypeId }) {
            checker.fail(root.key("order_type_id"), .invalidChoice)
        }
        let tableId = checker.integer(node["table_id"], root.key("table_id"), required: false)
        let customerId = checker.integer(node["customer_id"], root.key("customer_id"), required: false)

        var items: [Item] = []
        let menu = menuItems
        if let elements = checker.array(node["items"], root.key("items"), required: true, nonEmpty: true) {
            for (index, element) in elements.enumerated() {
                let path = root.key("items").index(index)
                guard let element = checker.object(element, path, required: true) else { continue }
                let menuItemId = checker.integer(element["menu_item_id"], path.key("menu_item_id"), required: true)
                var menuItem: MenuItem?
                if let menuItemId {
                    menuItem = menu.first { $0.id == menuItemId }
                    if menuItem == nil { checker.fail(path.key("menu_item_id"), "The selected menu item is invalid.") }
                }
                let quantity = checker.integer(element["quantity"], path.key("quantity"), required: true, minimum: 1)
                let price = checker.moneyNumber(element["price"], path.key("price"), required: true)
                let note = checker.string(element["note"], path.key("note"), required: false)
                if let menuItem, let quantity, let price {
                    items.append(Item(menuItemId: menuItem.id, name: menuItem.name, quantity: quantity, priceCents: price, note: note))
                }
            }
        }

        let discountType = checker.string(node["discount_type"], root.key("discount_type"), required: false)
        if let discountType, discountType != "percent", discountType != "fixed" {
            checker.fail(root.key("discount_type"), .invalidChoice)
        }
        let discountValue = checker.moneyNumber(node["discount_value"], root.key("discount_value"), required: discountType != nil)
        if node["discount_value"] != nil, node["discount_type"] == nil {
            checker.fail(root.key("discount_type"), "The discount type field is required when discount value is present.")
        }
        if discountType == "percent", let discountValue, discountValue > 100_00 {
            checker.fail(root.key("discount_value"), .maximum("100"))
        }
        guard checker.isValid, let orderTypeId else { return Self.invalid(checker.violations) }

        var subtotal: Int64 = 0
        for item in items {
            let (line, lineOverflow) = item.priceCents.multipliedReportingOverflow(by: Int64(item.quantity))
            let (sum, sumOverflow) = subtotal.addingReportingOverflow(line)
            guard !lineOverflow, !sumOverflow, sum < Int64.max / 10_001 else {
                return Self.invalid("items", "The order total is out of range.")
            }
            subtotal = sum
        }
        var discount: Int64 = 0
        switch (discountType, discountValue) {
        case ("percent", let value?): discount = (subtotal * value + 5_000) / 10_000  // value ≤ 100.00, subtotal bounded above
        case ("fixed", let value?): discount = value
        default: break
        }
        let total = max(0, subtotal - discount)
        let body = JSONValue(node)
        let now = SandboxHTTP.timestamp
        let order = state.withLock { state -> Order in
            let id = state.nextOrderId
            state.nextOrderId += 1
            let order = Order(
                id: id, orderNumber: "ORD-001-\(id)", status: "draft", paymentStatus: "unpaid", orderTypeId: orderTypeId,
                tableId: tableId, customerId: customerId, items: items, discountType: discountType, discountValueCents: discountValue,
                subtotalCents: subtotal, totalCents: total, payments: [], kots: [], cancelReason: nil, body: body,
                receivedAt: now, updatedAt: now)
            state.orders.append(order)
            return order
        }
        return Self.success(201, .object([
            ("id", .int(order.id)), ("order_number", .string(order.orderNumber)), ("status", .string(order.status)),
            ("total", Cents.number(order.totalCents)),
        ]))
    }

    private func handleList(_ request: SandboxRequest) -> Response {
        var orders = self.orders
        if let status = request.query["status"] { orders = orders.filter { $0.status == status } }
        if let paymentStatus = request.query["payment_status"] { orders = orders.filter { $0.paymentStatus == paymentStatus } }
        if let table = request.query["table_id"] { orders = orders.filter { $0.tableId.map(String.init) == table } }
        return Self.success(200, .array(orders.map(Self.json)))
    }

    private func handleStatus(_ request: SandboxRequest) -> Response {
        guard let id = findOrder(request)?.id else { return Self.notFound }
        let node: JSONNode
        do { node = try parse(request) } catch { return Self.failure(400, error.message) }
        var checker = JSONChecker(style: .dots, wording: .laravel)
        let target = checker.string(node["status"], FieldPath.root.key("status"), required: true, nonEmpty: true)
        if let target, !Self.statuses.contains(target) { checker.fail(FieldPath.root.key("status"), .invalidChoice) }
        guard checker.isValid, let target else { return Self.invalid(checker.violations) }
        return transition(id: id, to: target, reason: nil)
    }

    private func handleCancel(_ request: SandboxRequest) -> Response {
        guard let id = findOrder(request)?.id else { return Self.notFound }
        let node: JSONNode
        do { node = try parse(request) } catch { return Self.failure(400, error.message) }
        var checker = JSONChecker(style: .dots, wording: .laravel)
        let reason = checker.string(node["reason"], FieldPath.root.key("reason"), required: true, nonEmpty: true)
        guard checker.isValid, let reason else { return Self.invalid(checker.violations) }
        return transition(id: id, to: "cancelled", reason: reason)
    }

    private func transition(id: Int, to target: String, reason: String?) -> Response {
        let now = SandboxHTTP.timestamp
        let outcome = state.withLock { state -> Result<Order, TransitionError> in
            guard let index = state.orders.firstIndex(where: { $0.id == id }) else { return .failure(.notFound) }
            let current = state.orders[index].status
            if current == "cancelled", target == "cancelled" { return .failure(.alreadyCancelled(state.orders[index])) }
            guard Self.transitions[current]?.contains(target) == true else { return .failure(.illegal(from: current)) }
            state.orders[index].status = target
            state.orders[index].updatedAt = now
            if let reason { state.orders[index].cancelReason = reason }
            return .success(state.orders[index])
        }
        switch outcome {
        case .success(let order):
            return Self.success(200, Self.json(order), message: target == "cancelled" ? "Order cancelled successfully" : "Order status updated")
        case .failure(.notFound):
            return Self.notFound
        case .failure(.alreadyCancelled(let order)):
            // Apart from other refusals so a client retrying its own cancel can tell it already happened.
            return Self.failure(409, "Order is already cancelled", data: Self.json(order))
        case .failure(.illegal(let current)):
            return Self.illegalStatus("Illegal status transition from \(current) to \(target)")
        }
    }

    enum TransitionError: Error {
        case notFound
        case alreadyCancelled(Order)
        case illegal(from: String)
    }

    private func handlePayment(_ request: SandboxRequest) -> Response {
        guard let id = findOrder(request)?.id else { return Self.notFound }
        let node: JSONNode
        do { node = try parse(request) } catch { return Self.failure(400, error.message) }
        var checker = JSONChecker(style: .dots, wording: .laravel)
        let root = FieldPath.root
        let method = checker.string(node["payment_method"], root.key("payment_method"), required: true, nonEmpty: true)
        if let method, !paymentMethods.contains(where: { $0.code == method }) {
            checker.fail(root.key("payment_method"), "The selected payment method is invalid.")
        }
        let amount = checker.moneyNumber(node["amount"], root.key("amount"), required: true, positive: true)
        let transactionId = checker.string(node["transaction_id"], root.key("transaction_id"), required: true, nonEmpty: true)
        let tip = checker.moneyNumber(node["tip_amount"], root.key("tip_amount"), required: false) ?? 0
        guard checker.isValid, let method, let amount, let transactionId else { return Self.invalid(checker.violations) }

        enum Outcome {
            case paid(Int)
            case duplicate(order: Int, payment: Int)
            case notFound
            case conflict(String)
            case short(total: Int64)
        }
        let outcome = state.withLock { state -> Outcome in
            guard let index = state.orders.firstIndex(where: { $0.id == id }) else { return .notFound }
            if let previous = state.transactions[transactionId] { return .duplicate(order: previous.order, payment: previous.payment) }
            let order = state.orders[index]
            if order.status == "cancelled" { return .conflict("Cannot process payment for a cancelled order") }
            if order.paymentStatus == "paid" { return .conflict("Order is already paid") }
            guard amount >= order.totalCents else { return .short(total: order.totalCents) }
            let paymentId = state.nextPaymentId
            state.nextPaymentId += 1
            state.orders[index].payments.append(Payment(
                id: paymentId, paymentMethod: method, amountCents: amount, tipCents: tip, transactionId: transactionId,
                receivedAt: SandboxHTTP.timestamp))
            state.orders[index].paymentStatus = "paid"
            state.orders[index].updatedAt = SandboxHTTP.timestamp
            state.transactions[transactionId] = (id, paymentId)
            return .paid(paymentId)
        }
        switch outcome {
        case .paid(let paymentId):
            return Self.success(200, .object([("payment_id", .int(paymentId)), ("status", .string("paid"))]),
                                message: "Payment processed successfully")
        case .duplicate(let order, let payment):
            return Self.failure(409, "Duplicate transaction_id \(JSONText.quoted(transactionId)): already processed as payment \(payment) on order \(order)",
                                data: .object([("order_id", .int(order)), ("payment_id", .int(payment))]))
        case .notFound:
            return Self.notFound
        case .conflict(let message):
            return Self.failure(409, message)
        case .short(let total):
            return Self.invalid("amount", "The amount does not cover the order total (\(Cents.decimal(total))).")
        }
    }

    private func handleKot(_ request: SandboxRequest) -> Response {
        guard let id = findOrder(request)?.id else { return Self.notFound }
        enum Outcome {
            case generated(String)
            case notFound
            case already
            case wrongStatus(String)
        }
        let outcome = state.withLock { state -> Outcome in
            guard let index = state.orders.firstIndex(where: { $0.id == id }) else { return .notFound }
            let order = state.orders[index]
            if !order.kots.isEmpty { return .already }
            guard order.status == "draft" else { return .wrongStatus(order.status) }
            let number = "KOT-" + String(repeating: "0", count: max(0, 3 - String(state.nextKot).count)) + String(state.nextKot)
            state.nextKot += 1
            let now = SandboxHTTP.timestamp
            state.orders[index].kots.append(KOT(number: number, status: "sent_to_kitchen", updatedAt: now))
            state.orders[index].status = "kot"
            state.orders[index].updatedAt = now
            return .generated(number)
        }
        switch outcome {
        case .generated(let number):
            return Self.success(200, .object([("kot_number", .string(number)), ("status", .string("sent_to_kitchen"))]))
        case .notFound:
            return Self.notFound
        case .already:
            return Self.failure(409, "KOT already generated for this order")
        case .wrongStatus(let status):
            return Self.illegalStatus("A KOT can only be generated for a draft order; this order is \(status)")
        }
    }

    private func handleKotStatus(_ request: SandboxRequest) -> Response {
        kotStatusResponse(number: request.parameters["id"] ?? "", body: request.body)
    }

    /// `{"status": "in_kitchen"|"food_ready"|"served"}` for KOT `number`.
    private func kotStatusResponse(number: String, body: [UInt8]) -> Response {
        let node: JSONNode
        do { node = try SandboxBody.object(body) } catch { return Self.failure(400, error.message) }
        var checker = JSONChecker(style: .dots, wording: .laravel)
        let status = checker.string(node["status"], FieldPath.root.key("status"), required: true, nonEmpty: true)
        guard checker.isValid, let status else { return Self.invalid(checker.violations) }
        do throws(KOTStatusRefusal) {
            let kot = try updateKOTStatus(number, to: status)
            return Self.success(200, Self.json(kot), message: "KOT status updated")
        } catch {
            switch error {
            case .unknownKOT: return Self.failure(404, error.message)
            case .unknownStatus: return Self.invalid("status", error.message)
            case .notForward, .orderCancelled: return Self.illegalStatus(error.message)
            }
        }
    }

    // MARK: Reports

    static func json(_ order: Order) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .int(order.id)), ("order_number", .string(order.orderNumber)), ("status", .string(order.status)),
            ("payment_status", .string(order.paymentStatus)), ("order_type_id", .int(order.orderTypeId)),
            ("table_id", .optionalInt(order.tableId)), ("customer_id", .optionalInt(order.customerId)),
            ("items", .array(order.items.map { item in
                .object([
                    ("menu_item_id", .int(item.menuItemId)), ("name", .string(item.name)), ("quantity", .int(item.quantity)),
                    ("price", Cents.number(item.priceCents)), ("note", .optionalString(item.note)),
                ])
            })),
            ("payments", .array(order.payments.map { payment in
                .object([
                    ("id", .int(payment.id)), ("payment_method", .string(payment.paymentMethod)),
                    ("amount", Cents.number(payment.amountCents)), ("tip_amount", Cents.number(payment.tipCents)),
                    ("transaction_id", .string(payment.transactionId)), ("status", .string("paid")),
                ])
            })),
            ("kots", .array(order.kots.map(Self.json))),
            ("discount_type", .optionalString(order.discountType)),
            ("discount_value", order.discountValueCents.map(Cents.number) ?? .null),
            ("subtotal", Cents.number(order.subtotalCents)),
            ("total", Cents.number(order.totalCents)),
            ("updated_at", .string(order.updatedAt)),
        ]
        if let reason = order.cancelReason { members.append(("cancel_reason", .string(reason))) }
        return .object(members)
    }

    static func json(_ kot: KOT) -> JSONValue {
        .object([("kot_number", .string(kot.number)), ("status", .string(kot.status)), ("updated_at", .string(kot.updatedAt))])
    }

    static func json(_ kitchen: Kitchen) -> JSONValue {
        .object([
            ("id", .int(kitchen.id)), ("name", .string(kitchen.name)),
            ("menu_items", .array(kitchen.menuItems.map { item in
                .object([
                    ("id", .int(item.id)), ("name", .string(item.name)), ("price", Cents.number(item.priceCents)),
                    ("sku", .optionalString(item.sku)), ("category", .optionalString(item.category)),
                ])
            })),
        ])
    }

    var kitchensJSON: JSONValue { .array(kitchens.map(Self.json)) }

    /// The kitchens, or with ``kitchensPageSize`` one page of them as Laravel's paginator writes it
    /// (`current_page`, `data`, `last_page`, `per_page`, `total`, `next_page_url`…); a `page` that is not
    /// a positive integer is page 1, as Laravel reads it.
    private func handleKitchens(_ request: SandboxRequest, path: String) -> Response {
        guard let size = kitchensPageSize else { return Self.success(200, kitchensJSON) }
        let kitchens = self.kitchens
        let page = request.query["page"].flatMap { Int($0) }.flatMap { $0 >= 1 ? $0 : nil } ?? 1
        let last = max(1, (kitchens.count + size - 1) / size)
        let (start, overflow) = (page - 1).multipliedReportingOverflow(by: size)
        let slice = !overflow && start < kitchens.count ? Array(kitchens[start..<min(kitchens.count, start + size)]) : []
        func url(_ number: Int) -> JSONValue { .string("\(path)?page=\(number)") }
        return Self.success(200, .object([
            ("current_page", .int(page)),
            ("data", .array(slice.map(Self.json))),
            ("first_page_url", url(1)),
            ("from", slice.isEmpty ? .null : .int(start + 1)),
            ("last_page", .int(last)),
            ("last_page_url", url(last)),
            ("next_page_url", page < last ? url(page + 1) : .null),
            ("path", .string(path)),
            ("per_page", .int(size)),
            ("prev_page_url", page > 1 ? url(page - 1) : .null),
            ("to", slice.isEmpty ? .null : .int(start + slice.count)),
            ("total", .int(kitchens.count)),
        ]))
    }

    var snapshot: JSONValue {
        let orders = self.orders
        return .object([
            ("orders", .array(orders.map { order in
                guard case .object(var members) = Self.json(order) else { return .null }
                members.append(("receivedAt", .string(order.receivedAt)))
                members.append(("body", order.body))
                return .object(members)
            })),
            ("requestCounts", ledger.countsJSON),
        ])
    }

    var catalogue: JSONValue {
        .object([
            ("orderTypes", .array(orderTypes.map(\.json))),
            ("paymentMethods", .array(paymentMethods.map(\.json))),
            ("kitchens", kitchensJSON),
        ])
    }
}
