import NIOHTTP1
import PosDomain

/// The desibits-style POS operations API (seed 002), Bearer token. Three steps per order:
/// create it (`POST /api/v1/pos/orders`), pay it (`…/{id}/payment`, the Cata order uuid as
/// `transaction_id`), send it to the kitchen (`…/{id}/kot`). Each finished step is checkpointed,
/// so a retry resumes at the step that failed and never creates a second order.
///
/// Cancelling is `POST …/{id}/cancel` with a reason; the status is polled from `GET …/{id}` and read
/// from the kitchen's side (the KOT's status), since the order's own status only tracks billing.
public struct DesibitsConnector: OrderDispatching, OrderCancelling, OrderStatusPolling, ConnectionTesting {
    public let slug = "desibits"
    private let exchange: POSExchange

    public init(exchange: POSExchange) {
        self.exchange = exchange
    }

    public struct Settings: Sendable {
        public var mapping: ProductMapping
        /// Overrides the order type looked up from `deliveryMethod`.
        public var orderTypeId: Int64?
        /// Overrides the payment method code looked up from the Cata payment method.
        public var paymentMethod: String?

        static let keys = ProductMapping.keys.union(["orderTypeId", "paymentMethod"])

        public init(_ settings: JSONValue) throws(ValidationError) {
            let reader = SettingsReader(settings)
            try reader.rejectUnknownKeys(allowed: Self.keys)
            mapping = try ProductMapping(reader)
            orderTypeId = try reader.integer("orderTypeId", required: false)
            paymentMethod = try reader.string("paymentMethod", required: false)
            try mapping.requireIds("a desibits menu_item_id: an integer") { $0.integerValue != nil }
            if let fee = mapping.deliveryFeeProduct, fee.integerValue == nil {
                throw ValidationError(field: "settings.deliveryFeeProductId", message: "must be a desibits menu_item_id: an integer")
            }
        }
    }

    public func validate(settings: JSONValue) throws(ValidationError) {
        _ = try Settings(settings)
    }

    /// What finished steps leave on the delivery (`progress`), read back by a retry.
    public struct Progress: Sendable, Equatable {
        public var orderId: String?
        public var orderNumber: String?
        public var paymentId: String?
        public var kotNumber: String?

        public init(_ value: JSONValue?) {
            orderId = value?["orderId"]?.idText
            orderNumber = value?["orderNumber"]?.stringValue
            paymentId = value?["paymentId"]?.idText
            kotNumber = value?["kotNumber"]?.stringValue
        }

        public var json: JSONValue {
            .object([("orderId", orderId), ("orderNumber", orderNumber), ("paymentId", paymentId), ("kotNumber", kotNumber)]
                .compactMap { key, value in value.map { (key, JSONValue.string($0)) } })
        }

        var summary: String {
            "desibits order \(orderId ?? "?")" + (orderNumber.map { " (\($0))" } ?? "")
                + (paymentId.map { ", payment \($0)" } ?? "") + (kotNumber.map { ", \($0)" } ?? "")
        }
    }

    // MARK: Mapping

    /// The create-order body. Pure: the golden tests pin it.
    public static func orderBody(_ order: CataOrder, settings: Settings, orderTypeId: Int64) throws(ValidationError) -> JSONValue {
        var items: [JSONValue] = []
        func line(_ menuItem: JSONValue, quantity: Int, price: Money, note: String?) {
            items.append(.object([("menu_item_id", menuItem), ("quantity", .integer(quantity)), ("price", .decimal(price))]
                + (note.map { [("note", JSONValue.string($0))] } ?? [])))
        }
        for (index, item) in order.items.enumerated() {
            line(try settings.mapping.product(for: item, at: index), quantity: item.quantity, price: item.itemOnlyPrice,
                 note: settings.mapping.note(for: item))
            // The API has no modifier lines of its own (❓): a priced modifier is a line of its own menu item.
            for (modifierIndex, modifier) in item.modifiers.enumerated() {
                guard let menuItem = try settings.mapping.modifier(for: modifier, item: index, index: modifierIndex) else { continue }
                let quantity = try Quantity.product(modifier.quantity, item.quantity,
                                                    for: "order.items[\(index)].modifiers[\(modifierIndex)].quantity")
                line(menuItem, quantity: quantity, price: modifier.price, note: "for \(item.name)")
            }
        }
        if order.deliveryFee.minorUnits > 0, let fee = settings.mapping.deliveryFeeProduct {
            line(fee, quantity: 1, price: order.deliveryFee, note: "Delivery fee")
        }
        var body: [(String, JSONValue)] = [("order_type_id", .integer(orderTypeId)), ("items", .array(items))]
        if order.discountTotal.minorUnits > 0 {
            body += [("discount_type", .string("fixed")), ("discount_value", .decimal(order.discountTotal))]
        }
        return .object(body)
    }

    /// The payment body: the amount paid, the tip apart, and the Cata order uuid as the reference.
    public static func paymentBody(_ order: CataOrder, method: String) -> JSONValue {
        .object([
            ("payment_method", .string(method)),
            ("amount", .decimal(order.payment.amount)),
            ("transaction_id", .string(order.uuid)),
            ("tip_amount", .decimal(order.payment.tip)),
        ])
    }

    /// Which of the POS's order types a Cata `deliveryMethod` means (compared without case or separators).
    static func orderTypeNames(for deliveryMethod: String) -> [String] {
        switch normalized(deliveryMethod) {
        case "delivery": ["delivery"]
        case "pickup", "takeaway", "selfpickup", "collection": ["takeaway", "pickup", "takeout"]
        case "dinein", "eatin", "local": ["dinein", "eatin"]
        case let other: [other]
        }
    }

    static func paymentCodes(for method: String) -> [String] {
        switch normalized(method) {
        case "card", "creditcard", "debitcard": ["card"]
        case let other: [other]
        }
    }

    static func normalized(_ text: String) -> String {
        text.lowercased().filter { $0.isLetter || $0.isNumber }
    }

    /// The cancel body; the API insists on a reason, so one is made up when the operator gave none.
    public static func cancelBody(reason: String?) -> JSONValue {
        let given = reason.flatMap { $0.allSatisfy(\.isWhitespace) ? nil : $0 }
        return .object([("reason", .string(given ?? "Cancelled by Cata"))])
    }

    /// Our status for an order in `orderStatus` whose latest KOT is in `kotStatus` (nil: no KOT yet), and
    /// the POS's own words for it. The order's status says where billing is (`draft → kot → billed →
    /// paid`), so only `cancelled` is read from it; the KOT says where the kitchen is. A status we have
    /// no equivalent for maps to nil: nothing to report.
    public static func status(orderStatus: String, kotStatus: String?) -> (status: OrderStatus?, posStatus: String) {
        if orderStatus == "cancelled" { return (.cancelled, "order:cancelled") }
        guard let kotStatus else { return (nil, "order:\(orderStatus)") }
        let status: OrderStatus? = switch kotStatus {
        case "sent_to_kitchen": .accepted
        case "in_kitchen": .inProgress
        case "food_ready": .ready
        case "served": .completed
        default: nil
        }
        return (status, "kot:\(kotStatus)")
    }

    /// The status update `GET /api/v1/pos/orders/{id}` (its `data`) says, for `order`.
    public static func statusUpdate(_ data: JSONValue, for order: POSOrderReference) throws(ValidationError) -> OrderStatusUpdate {
        guard let orderStatus = data["status"]?.stringValue, !orderStatus.isEmpty else {
            throw ValidationError(field: "data.status", message: "is required")
        }
        var latestKOT: JSONValue?
        switch data["kots"] {
        case nil, .null?: break
        case .array(let kots)?: latestKOT = kots.last
        default: throw ValidationError(field: "data.kots", message: "must be an array")
        }
        let kotStatus = latestKOT?["status"]?.stringValue
        if latestKOT != nil, kotStatus == nil {
            throw ValidationError(field: "data.kots[].status", message: "is required")
        }
        let (status, posStatus) = Self.status(orderStatus: orderStatus, kotStatus: kotStatus)
        // When the reported status came about: the KOT's change, or the order's for a cancellation.
        let changedAt = (orderStatus == "cancelled" || latestKOT == nil ? data["updated_at"] : latestKOT?["updated_at"])?.stringValue
        return OrderStatusUpdate(
            externalOrderId: data["id"]?.idText ?? order.externalOrderId, orderUUID: order.orderUUID, status: status, posStatus: posStatus,
            occurredAt: changedAt.flatMap(RFC3339.parseMilliseconds),
            reason: orderStatus == "cancelled" ? data["cancel_reason"]?.stringValue : nil)
    }

    // MARK: Exchanges

    /// The POS's API token as a Bearer token (an OAuth access token would go the same way).
    private static func authorize(_ credential: Credential) -> [(String, String)] {
        switch credential {
        case .staticKey(let key, _): [("Authorization", "Bearer \(key)")]
        case .accessToken(let token): [("Authorization", "Bearer \(token)")]
        }
    }

    public func dispatch(_ request: POSDispatch) async -> ConnectorOutcome {
        let settings: Settings
        do {
            settings = try Settings(request.settings)
        } catch {
            return .mappingFailed(error)
        }
        var progress = Progress(request.progress)
        var spent: Int64 = 0
        let api = "\(request.access.baseUrl)/api/v1/pos"
        let auth = request.access
        do throws(StepFailure) {
            if progress.orderId == nil {
                var typeId = settings.orderTypeId ?? 0
                if settings.orderTypeId == nil {
                    typeId = try await lookUp("\(api)/order-types", names: Self.orderTypeNames(for: request.order.deliveryMethod),
                                              what: "order type", field: "order.deliveryMethod", auth: auth, spent: &spent).integerValue ?? 0
                }
                let body: JSONValue
                do {
                    body = try Self.orderBody(request.order, settings: settings, orderTypeId: typeId)
                } catch {
                    throw StepFailure(outcome: .mappingFailed(error))
                }
                let created = try await call(.POST, "\(api)/orders", body: body, step: "desibits create order", auth: auth, spent: &spent)
                guard let id = created["data"]?["id"]?.idText else {
                    throw StepFailure(outcome: .failed(.unexpectedResponse, "desibits create order answered without data.id", retryable: false))
                }
                progress.orderId = id
                progress.orderNumber = created["data"]?["order_number"]?.stringValue
                try await save(progress, request: request, spent: spent)
            }
            let orderId = progress.orderId!
            if progress.paymentId == nil {
                var method = settings.paymentMethod ?? ""
                if settings.paymentMethod == nil {
                    method = try await lookUp("\(api)/payment-methods", names: Self.paymentCodes(for: request.order.payment.method),
                                              what: "payment method", field: "order.payment.method", auth: auth, spent: &spent,
                                              result: "code").idText ?? ""
                }
                let paid = try await call(.POST, "\(api)/orders/\(orderId)/payment", body: Self.paymentBody(request.order, method: method),
                                          step: "desibits payment", auth: auth, spent: &spent, alreadyDone: 409)
                // A 409 names the payment an earlier attempt made with the same transaction_id.
                progress.paymentId = paid["data"]?["payment_id"]?.idText ?? "recorded"
                try await save(progress, request: request, spent: spent)
            }
            if progress.kotNumber == nil {
                let kot = try await call(.POST, "\(api)/orders/\(orderId)/kot", body: nil, step: "desibits KOT", auth: auth, spent: &spent,
                                         alreadyDone: 409)
                progress.kotNumber = kot["data"]?["kot_number"]?.stringValue ?? "sent"
                try await save(progress, request: request, spent: spent)
            }
        } catch {
            return error.outcome.taking(max(spent, error.outcome.durationMs))
        }
        return ConnectorOutcome(statusCode: 200, failureClass: nil, error: nil, responseExcerpt: progress.summary, signedWith: nil,
                                retryable: false, retryAfterMs: nil, externalOrderId: progress.orderId, durationMs: spent)
    }

    public func cancel(_ request: POSCancellation) async -> ConnectorOutcome {
        let id = request.order.externalOrderId
        guard !id.isEmpty else {
            return .mappingFailed(ValidationError(field: "order.externalOrderId", message: "is required: desibits cancels an order by its id"))
        }
        let url = "\(request.order.access.baseUrl)/api/v1/pos/orders/\(POSExchange.pathSegment(id))/cancel"
        let answer: POSExchange.Answer
        switch await exchange.send(.POST, url, access: request.order.access, authorize: Self.authorize, json: Self.cancelBody(reason: request.reason)) {
        case .failure(let failure): return failure.outcome
        case .success(let value): answer = value
        }
        if answer.succeeded {
            return .accepted(answer, externalOrderId: id, summary: "desibits order \(id) cancelled", durationMs: answer.durationMs)
        }
        // A retry whose first try got through (its answer was lost): the order is cancelled, as asked.
        if Self.isAlreadyCancelled(answer) {
            return .accepted(answer, externalOrderId: id, summary: "desibits order \(id) was already cancelled", durationMs: answer.durationMs)
        }
        return .refused(answer, step: "desibits cancel", message: answer.json?["message"]?.stringValue, durationMs: answer.durationMs)
    }

    /// A 409/422 that names the order as cancelled (`data.status`), or says so in words.
    static func isAlreadyCancelled(_ answer: POSExchange.Answer) -> Bool {
        guard [409, 422].contains(answer.response.status), let json = answer.json else { return false }
        if json["data"]?["status"]?.stringValue == "cancelled" { return true }
        return json["message"]?.stringValue?.lowercased().contains("already cancelled") == true
    }

    public func status(of order: POSOrderReference) async throws(ConnectorFailure) -> OrderStatusUpdate {
        guard !order.externalOrderId.isEmpty else { throw ConnectorFailure("the order has no desibits id (externalOrderId) to ask about") }
        let url = "\(order.access.baseUrl)/api/v1/pos/orders/\(POSExchange.pathSegment(order.externalOrderId))"
        let answer: POSExchange.Answer
        switch await exchange.send(.GET, url, access: order.access, authorize: Self.authorize) {
        case .failure(let failure): throw ConnectorFailure(failure.outcome.reason)
        case .success(let value): answer = value
        }
        guard answer.succeeded else {
            let outcome = ConnectorOutcome.refused(answer, step: "desibits order", message: answer.json?["message"]?.stringValue,
                                                   durationMs: answer.durationMs)
            throw ConnectorFailure(outcome.reason, isAuthFailure: outcome.failureClass == .auth)
        }
        guard let data = answer.json?["data"] else { throw ConnectorFailure("desibits order answered HTTP \(answer.response.status) without data") }
        do {
            return try Self.statusUpdate(data, for: order)
        } catch {
            throw ConnectorFailure("desibits order answered HTTP \(answer.response.status) with \(error.field) that \(error.message)")
        }
    }

    public func testConnection(_ access: ProviderAccess) async -> ConnectionTestResult {
        var spent: Int64 = 0
        do throws(StepFailure) {
            let types = try await call(.GET, "\(access.baseUrl)/api/v1/pos/order-types", body: nil, step: "desibits order-types",
                                       auth: access, spent: &spent)
            let count = if case .array(let entries)? = types["data"] { entries.count } else { 0 }
            return ConnectionTestResult(success: true, message: "desibits answered with \(count) order type(s)")
        } catch {
            return ConnectionTestResult(success: false, message: error.outcome.reason)
        }
    }

    private struct StepFailure: Error {
        var outcome: ConnectorOutcome
    }

    private func save(_ progress: Progress, request: POSDispatch, spent: Int64) async throws(StepFailure) {
        do {
            try await request.checkpoint(progress.json)
        } catch {
            throw StepFailure(outcome: .checkpointFailed(error, durationMs: spent))
        }
    }

    /// One step's exchange; its JSON answer, or the attempt's outcome. `alreadyDone` is the status
    /// with which the POS says an earlier attempt already did this step.
    private func call(_ method: HTTPMethod, _ url: String, body: JSONValue?, step: String, auth: ProviderAccess,
                      spent: inout Int64, alreadyDone: Int? = nil) async throws(StepFailure) -> JSONValue {
        let answer: POSExchange.Answer
        switch await exchange.send(method, url, access: auth, authorize: Self.authorize, json: body) {
        case .failure(let failure):
            spent += failure.outcome.durationMs
            throw StepFailure(outcome: failure.outcome)
        case .success(let value): answer = value
        }
        spent += answer.durationMs
        if answer.succeeded || answer.response.status == alreadyDone { return answer.json ?? .object([]) }
        throw StepFailure(outcome: .refused(answer, step: step, message: answer.json?["message"]?.stringValue, durationMs: answer.durationMs))
    }

    /// Finds the id (or `result` field) of the entry whose code or name matches one of `names`.
    private func lookUp(_ url: String, names: [String], what: String, field: String, auth: ProviderAccess, spent: inout Int64,
                        result: String = "id") async throws(StepFailure) -> JSONValue {
        let list = try await call(.GET, url, body: nil, step: "desibits \(what)s", auth: auth, spent: &spent)
        guard case .array(let entries)? = list["data"] else {
            throw StepFailure(outcome: .failed(.unexpectedResponse, "desibits \(what)s answered without data", retryable: false, statusCode: 200))
        }
        let match = entries.first { entry in
            [entry["code"], entry["name"]].compactMap { $0?.stringValue.map(Self.normalized) }.contains { names.contains($0) }
        }
        let wanted = result == "id" ? match?[result].flatMap { $0.integerValue != nil ? $0 : nil } : match?[result].flatMap { $0.idText != nil ? $0 : nil }
        guard let value = wanted else {
            throw StepFailure(outcome: .mappingFailed(ValidationError(
                field: field, message: "matches no desibits \(what) (\(names.joined(separator: "/"))); set it in the outlet's settings")))
        }
        return value
    }
}

// MARK: Menu import

/// The POS's menu as its API shows it: `GET /api/v1/pos/kitchens`, every kitchen with the menu items
/// assigned to it (the only menu listing the API names). The plain answer is a list; should the
/// instance page it the Laravel way (`data` a paginator: `data`, `current_page`, `last_page`),
/// the pages are read with `?page=` until the last.
extension DesibitsConnector: MenuImporting {
    public static let kitchensPath = "/api/v1/pos/kitchens"

    public func importMenu(_ request: POSMenuRequest) async throws(ConnectorFailure) -> ImportedMenu {
        let url = request.access.baseUrl + Self.kitchensPath
        var kitchens: [JSONValue] = []
        var page = 1
        while true {
            guard page <= MenuImport.maxPages else {
                throw ConnectorFailure("desibits kitchens still had pages after \(MenuImport.maxPages)")
            }
            let json = try await exchange.menuCall(.GET, page == 1 ? url : "\(url)?page=\(page)", access: request.access,
                                                   authorize: Self.authorize, step: "desibits kitchens",
                                                   errorText: { $0.json?["message"]?.stringValue })
            if json["success"] == .bool(false) {
                throw ConnectorFailure("desibits kitchens answered success: false: \(json["message"]?.stringValue ?? "no message")")
            }
            switch json["data"] {
            case .array(let list)?:
                return try Self.importedMenu(.array(kitchens + list), currency: request.currency)
            case let paginator? where paginator["data"] != nil:
                kitchens += try MenuImport.array(paginator["data"], field: "desibits kitchens data.data")
                // Done on the last page, or, without `last_page`, when there is no `next_page_url`.
                let current = MenuImport.count(paginator["current_page"]) ?? page
                let more = MenuImport.count(paginator["last_page"]).map { current < $0 } ?? (MenuImport.text(paginator["next_page_url"]) != nil)
                if !more { return try Self.importedMenu(.array(kitchens), currency: request.currency) }
                page += 1
            default:
                throw ConnectorFailure("desibits kitchens answered without a data list")
            }
        }
    }

    /// The menu in our terms from the kitchens (each with `menu_items`). Pure: the golden tests pin it.
    ///
    /// A menu item is a product: `id` our external id (the `menu_item_id` dispatch sends), `name`, `price`,
    /// its `sku` (else `code`) the PLU, its `category` (a name, or an object with one) the category. An
    /// item assigned to several kitchens is one product. The API has no modifier groups: a priced
    /// modifier is a menu item of its own, as dispatch sends it.
    public static func importedMenu(_ kitchens: JSONValue, currency: Currency) throws(ConnectorFailure) -> ImportedMenu {
        var products: [ImportedMenu.Product] = []
        var seen = Set<String>()
        for (kitchenIndex, kitchen) in try MenuImport.array(kitchens, field: "kitchens").enumerated() {
            let items = try MenuImport.optionalArray(kitchen["menu_items"], field: "desibits kitchens[\(kitchenIndex)].menu_items")
            for (index, item) in items.enumerated() {
                let field = "desibits kitchens[\(kitchenIndex)].menu_items[\(index)]"
                guard let id = item["id"]?.idText else { throw ConnectorFailure("\(field) has no id") }
                guard seen.insert(id).inserted else { continue }
                let category = item["category"]
                products.append(.init(
                    externalId: id, plu: MenuImport.text(MenuImport.first(item, "sku", "code")), name: MenuImport.text(item["name"]) ?? id,
                    price: try MenuImport.price(item["price"], currency: currency, field: "\(field).price"), modifierGroupIds: [],
                    category: MenuImport.text(category) ?? MenuImport.text(category?["name"])))
            }
        }
        return ImportedMenu(products: products, modifierGroups: [])
    }
}
