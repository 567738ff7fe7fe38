/// The Cata order as kds-management-service sends it (seed 000), after validation.
///
/// Connectors map from this typed view; the standard webhook forwards ``DispatchRequest/orderBytes``
/// untouched instead.
public struct CataOrder: Sendable, Equatable {
    public var uuid: String
    public var orderRefNo: String
    public var dailyQueueNo: String
    public var storeUuid: String
    public var storeName: String
    public var deliveryMethod: String
    public var status: String
    public var currency: Currency
    public var isPreorder: Bool
    public var items: [Item]
    public var subtotal: Money
    public var discountTotal: Money
    public var serviceCharge: Money
    public var deliveryFee: Money
    public var totalPay: Money
    public var payment: Payment
    /// `createdAt` as milliseconds since the Unix epoch.
    public var createdAt: Int64

    public struct Item: Sendable, Equatable {
        public var plu: String
        public var name: String
        public var quantity: Int
        public var itemOnlyPrice: Money
        public var modifierOnlyPrice: Money
        public var itemPrice: Money
        public var itemSubTotal: Money
        public var modifiers: [Modifier]
    }

    public struct Modifier: Sendable, Equatable {
        public var modifierHeaderId: String
        public var modifierOptionId: String
        public var modifierHeaderName: String
        public var modifierOptionName: String
        public var price: Money
        public var quantity: Int
    }

    public struct Payment: Sendable, Equatable {
        public var amount: Money
        public var tip: Money
        public var method: String
    }
}

/// A validated `POST /api/v1/orders/dispatch` body.
public struct DispatchRequest: Sendable {
    public var outletId: String
    public var event: String
    public var builtInTransformer: String?
    public var order: CataOrder
    /// The exact bytes of the `order` value as received: what the signed webhook delivers.
    public var orderBytes: [UInt8]
}

/// A request field that failed validation, named by its JSON path (`order.items[0].price`).
public struct ValidationError: Error, Equatable, Sendable {
    public let field: String
    public let message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}
