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

    /// An order with what connectors must map: two lines, a priced and a free modifier, a tip, a
    /// delivery fee and an offset `createdAt`. Its totals add up: 2 × (12.50 + 1.50) + 4.90 + 3.50 = 36.40.
    static let richOrder = """
        {"uuid":"ord-7f3d2c1e-0000-4000-8000-000000000042","orderRefNo":"ORD-2024-042","dailyQueueNo":"B07",\
        "storeUuid":"store-uuid-123","storeName":"Downtown Branch","deliveryMethod":"DELIVERY","status":"PAID",\
        "currency":"SGD","isPreorder":false,"items":[{"plu":"SKU-BURGER-01","name":"Classic Burger","quantity":2,\
        "itemOnlyPrice":12.5,"modifierOnlyPrice":1.5,"itemPrice":14,"itemSubTotal":28,"modifiers":[{"modifierHeaderId":"mh-cheese",\
        "modifierOptionId":"mo-extra-cheese","modifierHeaderName":"Cheese","modifierOptionName":"Extra Cheese","price":1.5,\
        "quantity":1},{"modifierHeaderId":"mh-onion","modifierOptionId":"mo-no-onion","modifierHeaderName":"Onions",\
        "modifierOptionName":"No onions","price":0,"quantity":1}]},{"plu":"SKU-FRIES-01","name":"Fries","quantity":1,\
        "itemOnlyPrice":4.9,"modifierOnlyPrice":0,"itemPrice":4.9,"itemSubTotal":4.9,"modifiers":[]}],"subtotal":32.9,\
        "discountTotal":0,"serviceCharge":0,"deliveryFee":3.5,"totalPay":36.4,"payment":{"amount":36.4,"tip":2,"method":"CARD"},\
        "createdAt":"2024-12-01T22:30:00+08:00"}
        """

    /// Outlet settings that map ``richOrder`` onto each sandbox double's default catalogue.
    static let connectorSettings: [String: String] = [
        "oktopos": #"{"productMap":{"SKU-BURGER-01":101,"SKU-FRIES-01":102},"modifierMap":{"mo-extra-cheese":201},"deliveryFeeProductId":900,"distributionChannelId":35,"distributionChannelName":"DELIVERY","taxRateId":23,"timezone":"Asia/Singapore"}"#,
        "desibits": #"{"productMap":{"SKU-BURGER-01":15,"SKU-FRIES-01":16},"modifierMap":{"mo-extra-cheese":31},"deliveryFeeProductId":90}"#,
        "revel": #"{"productMap":{"SKU-BURGER-01":501,"SKU-FRIES-01":502},"modifierMap":{"mo-extra-cheese":3001},"deliveryFeeProductId":590,"establishmentId":456,"diningOption":2}"#,
    ]
}
