/// Validates a dispatch body against seed 000's schema and builds a ``DispatchRequest``.
///
/// Every required field is checked for presence, JSON type and sense (non-empty strings,
/// RFC 3339 `createdAt`, non-negative money within the currency's minor units). The first
/// failure is reported with its JSON path.
public enum DispatchValidator {
    public static let maxIdentifierLength = 255

    public static func validate(body: [UInt8], root: JSONNode) throws(ValidationError) -> DispatchRequest {
        let request = try FieldReader.object(root, path: "")
        let outletId = try request.identifier("outletId")
        let event = try request.string("event")
        guard EventCatalogue.dispatchableNames.contains(event) else {
            throw ValidationError(field: "event", message: "must be one of: \(EventCatalogue.dispatchableNames.joined(separator: ", "))")
        }
        let transformer = try request.optionalString("builtInTransformer")
        let orderNode = try request.required("order")
        let order = try validateOrder(try FieldReader.object(orderNode, path: "order"))
        return DispatchRequest(
            outletId: outletId,
            event: event,
            builtInTransformer: transformer,
            order: order,
            orderBytes: Array(body[orderNode.span])
        )
    }

    /// The typed order from the stored `order` bytes (a connector's retry reads it back this way).
    public static func order(bytes: [UInt8]) throws(ValidationError) -> CataOrder {
        let root: JSONNode
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            throw ValidationError(field: "order", message: "is not JSON: \(error)")
        }
        return try validateOrder(try FieldReader.object(root, path: "order"))
    }

    static func validateOrder(_ order: FieldReader) throws(ValidationError) -> CataOrder {
        let uuid = try order.identifier("uuid")
        let orderRefNo = try order.string("orderRefNo")
        let dailyQueueNo = try order.string("dailyQueueNo")
        let storeUuid = try order.identifier("storeUuid")
        let storeName = try order.string("storeName")
        let deliveryMethod = try order.string("deliveryMethod")
        let status = try order.string("status")
        let currencyCode = try order.string("currency")
        guard let currency = Currency(code: currencyCode) else {
            throw ValidationError(field: order.path("currency"), message: "must be an ISO 4217 currency code such as \"SGD\"")
        }
        let isPreorder = try order.bool("isPreorder")
        var items: [CataOrder.Item] = []
        for item in try order.array("items", minCount: 1) {
            let reader = try FieldReader.object(item.node, path: item.path)
            var modifiers: [CataOrder.Modifier] = []
            let plu = try reader.string("plu")
            let name = try reader.string("name")
            let quantity = try reader.positiveInteger("quantity")
            let itemOnlyPrice = try reader.money("itemOnlyPrice", currency)
            let modifierOnlyPrice = try reader.money("modifierOnlyPrice", currency)
            let itemPrice = try reader.money("itemPrice", currency)
            let itemSubTotal = try reader.money("itemSubTotal", currency)
            for modifier in try reader.array("modifiers", minCount: 0) {
                let m = try FieldReader.object(modifier.node, path: modifier.path)
                modifiers.append(CataOrder.Modifier(
                    modifierHeaderId: try m.string("modifierHeaderId"),
                    modifierOptionId: try m.string("modifierOptionId"),
                    modifierHeaderName: try m.string("modifierHeaderName"),
                    modifierOptionName: try m.string("modifierOptionName"),
                    price: try m.money("price", currency),
                    quantity: try m.positiveInteger("quantity")
                ))
            }
            items.append(CataOrder.Item(
                plu: plu, name: name, quantity: quantity, itemOnlyPrice: itemOnlyPrice,
                modifierOnlyPrice: modifierOnlyPrice, itemPrice: itemPrice, itemSubTotal: itemSubTotal,
                modifiers: modifiers
            ))
        }
        let subtotal = try order.money("subtotal", currency)
        let discountTotal = try order.money("discountTotal", currency)
        let serviceCharge = try order.money("serviceCharge", currency)
        let deliveryFee = try order.money("deliveryFee", currency)
        let totalPay = try order.money("totalPay", currency)
        let payment = try FieldReader.object(try order.required("payment"), path: order.path("payment"))
        let paymentValue = CataOrder.Payment(
            amount: try payment.money("amount", currency),
            tip: try payment.money("tip", currency),
            method: try payment.string("method")
        )
        let createdAtText = try order.string("createdAt")
        guard let createdAt = RFC3339.parseMilliseconds(createdAtText) else {
            throw ValidationError(field: order.path("createdAt"), message: "must be an RFC 3339 date-time such as 2024-12-01T14:30:00Z or 2024-12-01T22:30:00+08:00")
        }
        let typed = CataOrder(
            uuid: uuid, orderRefNo: orderRefNo, dailyQueueNo: dailyQueueNo, storeUuid: storeUuid,
            storeName: storeName, deliveryMethod: deliveryMethod, status: status, currency: currency,
            isPreorder: isPreorder, items: items, subtotal: subtotal, discountTotal: discountTotal,
            serviceCharge: serviceCharge, deliveryFee: deliveryFee, totalPay: totalPay,
            payment: paymentValue, createdAt: createdAt
        )
        try checkAmounts(typed)
        return typed
    }

    /// Every amount a connector may derive from the order must fit `Int64` minor units: each line
    /// (unit price × quantity, a modifier's price × its quantity × the item's), their sums, and the
    /// order's totals. Checked once here, so an order that cannot be represented is a 400 naming the
    /// field that makes it overflow — and a stored order read back for a retry fails the same way
    /// instead of reaching a connector.
    static func checkAmounts(_ order: CataOrder) throws(ValidationError) {
        // What is being computed, for the error: the field that makes it overflow and the sum.
        var field = "", what = ""
        do throws(ArithmeticOverflow) {
            var lines = Money.zero(order.currency)
            var subTotals = Money.zero(order.currency)
            for (index, item) in order.items.enumerated() {
                let path = "order.items[\(index)]"
                (field, what) = ("\(path).quantity", "the item's prices × quantity")
                var line = try item.itemOnlyPrice.times(item.quantity)
                _ = try item.modifierOnlyPrice.times(item.quantity)
                _ = try item.itemPrice.times(item.quantity)
                for (modifierIndex, modifier) in item.modifiers.enumerated() {
                    (field, what) = ("\(path).modifiers[\(modifierIndex)].quantity", "the item's line with its modifiers (price × quantity × the item's quantity)")
                    line = try line.plus(try modifier.price.times(try Quantity.product(modifier.quantity, item.quantity)))
                }
                (field, what) = (path, "the sum of the order's lines")
                lines = try lines.plus(line)
                (field, what) = ("\(path).itemSubTotal", "the sum of itemSubTotal")
                subTotals = try subTotals.plus(item.itemSubTotal)
            }
            (field, what) = ("order.serviceCharge", "subtotal + serviceCharge")
            let charged = try order.subtotal.plus(order.serviceCharge)
            (field, what) = ("order.deliveryFee", "the order's total (its lines, or subtotal + serviceCharge, plus deliveryFee)")
            _ = try charged.plus(order.deliveryFee)
            _ = try lines.plus(order.deliveryFee)
            (field, what) = ("order.payment.tip", "payment amount + tip")
            _ = try order.payment.amount.plus(order.payment.tip)
        } catch {
            throw ValidationError(field: field, message: "makes \(what) larger than the largest amount this service can represent")
        }
    }
}

/// Reads typed fields out of one JSON object, naming failures by JSON path.
public struct FieldReader: Sendable {
    public let node: JSONNode
    public let basePath: String

    public static func object(_ node: JSONNode, path: String) throws(ValidationError) -> FieldReader {
        guard case .object = node.kind else {
            throw ValidationError(field: path, message: path.isEmpty ? "request body must be a JSON object" : "must be an object, not \(node.typeName)")
        }
        return FieldReader(node: node, basePath: path)
    }

    public func path(_ key: String) -> String { basePath.isEmpty ? key : "\(basePath).\(key)" }

    public func required(_ key: String) throws(ValidationError) -> JSONNode {
        guard let value = node[key], !isNull(value) else {
            throw ValidationError(field: path(key), message: "is required")
        }
        return value
    }

    private func isNull(_ node: JSONNode) -> Bool {
        if case .null = node.kind { return true }
        return false
    }

    /// A required, non-blank string.
    public func string(_ key: String, maxLength: Int = 10_000) throws(ValidationError) -> String {
        let value = try required(key)
        guard case .string(let text) = value.kind else {
            throw ValidationError(field: path(key), message: "must be a string, not \(value.typeName)")
        }
        guard !text.allSatisfy(\.isWhitespace) else {
            throw ValidationError(field: path(key), message: "must not be empty")
        }
        guard text.utf8.count <= maxLength else {
            throw ValidationError(field: path(key), message: "must be at most \(maxLength) bytes")
        }
        return text
    }

    /// A required, non-blank string short enough to be a key in the store.
    public func identifier(_ key: String) throws(ValidationError) -> String {
        try string(key, maxLength: DispatchValidator.maxIdentifierLength)
    }

    public func optionalString(_ key: String) throws(ValidationError) -> String? {
        guard let value = node[key], !isNull(value) else { return nil }
        return try string(key)
    }

    public func bool(_ key: String) throws(ValidationError) -> Bool {
        let value = try required(key)
        guard case .bool(let flag) = value.kind else {
            throw ValidationError(field: path(key), message: "must be a boolean, not \(value.typeName)")
        }
        return flag
    }

    /// An integer from 1 to `max` (a quantity by default).
    public func positiveInteger(_ key: String, max: Int = 1_000_000) throws(ValidationError) -> Int {
        let value = try required(key)
        guard case .number(let text) = value.kind else {
            throw ValidationError(field: path(key), message: "must be an integer, not \(value.typeName)")
        }
        guard let number = try? ExactDecimal(text), let integer = number.integerValue else {
            throw ValidationError(field: path(key), message: "must be an integer")
        }
        guard integer >= 1, integer <= Int64(max) else {
            throw ValidationError(field: path(key), message: "must be between 1 and \(max)")
        }
        return Int(integer)
    }

    public func money(_ key: String, _ currency: Currency) throws(ValidationError) -> Money {
        let value = try required(key)
        guard case .number(let text) = value.kind else {
            throw ValidationError(field: path(key), message: "must be a number (amount in major units of \(currency.code)), not \(value.typeName)")
        }
        do {
            return try Money.parse(text, currency: currency)
        } catch .negative {
            throw ValidationError(field: path(key), message: "must not be negative")
        } catch .tooManyFractionDigits(let allowed) {
            throw ValidationError(field: path(key), message: "has more than \(allowed) fraction digits, the most \(currency.code) allows")
        } catch {
            throw ValidationError(field: path(key), message: "is out of range")
        }
    }

    public struct Element: Sendable {
        public let node: JSONNode
        public let path: String
    }

    public func array(_ key: String, minCount: Int) throws(ValidationError) -> [Element] {
        let value = try required(key)
        guard case .array(let elements) = value.kind else {
            throw ValidationError(field: path(key), message: "must be an array, not \(value.typeName)")
        }
        guard elements.count >= minCount else {
            throw ValidationError(field: path(key), message: "must have at least \(minCount) element\(minCount == 1 ? "" : "s")")
        }
        let base = path(key)
        return elements.enumerated().map { Element(node: $0.element, path: "\(base)[\($0.offset)]") }
    }
}
