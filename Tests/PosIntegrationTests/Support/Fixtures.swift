import Foundation

/// The example order of seed 000, as a dispatch body, with helpers to change it.
enum Fixtures {
    static let seedOrder = """
        {"uuid":"ord-550e8400-e29b-41d4-a716-446655440000","orderRefNo":"ORD-2024-001","dailyQueueNo":"A12",\
        "storeUuid":"store-uuid-123","storeName":"Downtown Branch","deliveryMethod":"DELIVERY","status":"PAID",\
        "currency":"AED","isPreorder":false,"items":[{"plu":"SKU-BURGER-01","name":"Classic Burger","quantity":2,\
        "itemOnlyPrice":35,"modifierOnlyPrice":5,"itemPrice":40,"itemSubTotal":80,"modifiers":[{"modifierHeaderId":"mh-cheese",\
        "modifierOptionId":"mo-extra-cheese","modifierHeaderName":"Cheese","modifierOptionName":"Extra Cheese","price":5,\
        "quantity":1}]}],"subtotal":80,"discountTotal":0,"serviceCharge":0,"deliveryFee":5,"totalPay":85,\
        "payment":{"amount":85,"tip":5,"method":"CARD"},"createdAt":"2024-12-01T14:30:00Z"}
        """

    static func dispatchBody(order: String = seedOrder, outletId: String = "store-uuid-123", event: String = "order.paid") -> [UInt8] {
        Array(#"{"outletId":"\#(outletId)","event":"\#(event)","order":\#(order)}"#.utf8)
    }

    /// The seed order with a different `uuid`.
    static func order(uuid: String) -> String {
        seedOrder.replacingOccurrences(of: "ord-550e8400-e29b-41d4-a716-446655440000", with: uuid)
    }

    /// The seed dispatch body as a mutable JSON tree.
    static func tree() -> [String: Any] {
        try! JSONSerialization.jsonObject(with: Data(dispatchBody())) as! [String: Any]
    }

    static func encode(_ tree: Any) -> [UInt8] {
        Array(try! JSONSerialization.data(withJSONObject: tree))
    }
}
