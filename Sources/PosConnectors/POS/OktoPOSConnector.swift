import Foundation
import PosDomain

/// OktoPOS Manager's Order API (seed 003): `POST {baseUrl}/order/create` with the instance's API
/// token, answered with `{"internalId": n}`. Money is a decimal string plus currency; items name
/// known articles; modifiers are sub-lines pointing at their main line by `mainBasketItemId`.
/// Cancelling sets the order's status through `POST {baseUrl}/order/status`. No status polling:
/// `order/ready` lists orders by the status they were created with, which says nothing of the kitchen.
public struct OktoPOSConnector: OrderDispatching, OrderCancelling, ConnectionTesting {
    public let slug = "oktopos"
    private let exchange: POSExchange

    public init(exchange: POSExchange) {
        self.exchange = exchange
    }

    /// Per-outlet settings (`PUT /outlet-providers/{outletId}`).
    public struct Settings: Sendable {
        public var mapping: ProductMapping
        public var distributionChannelId: Int64
        public var distributionChannelName: String?
        public var taxRateId: Int64
        public var timeZone: TimeZone
        /// OktoPOS's order `status` on create; the seed's example sends `ready`.
        public var orderStatus: String
        /// Who the order came from (`intermediary`, regex `^[\w\d\. \-]+$`).
        public var intermediary: String

        static let keys = ProductMapping.keys.union(["distributionChannelId", "distributionChannelName", "taxRateId", "timezone",
                                                     "orderStatus", "intermediary"])

        public init(_ settings: JSONValue) throws(ValidationError) {
            let reader = SettingsReader(settings)
            try reader.rejectUnknownKeys(allowed: Self.keys)
            mapping = try ProductMapping(reader)
            distributionChannelId = try reader.integer("distributionChannelId", required: true)!
            distributionChannelName = try reader.string("distributionChannelName", required: false)
            taxRateId = try reader.integer("taxRateId", required: true)!
            timeZone = try reader.timeZone("timezone", required: true)!
            orderStatus = try reader.string("orderStatus", required: false) ?? "ready"
            intermediary = try reader.string("intermediary", required: false) ?? "Cata"
            guard intermediary.wholeMatch(of: /[\w\d\. \-]+/) != nil else {
                throw ValidationError(field: "settings.intermediary", message: "may hold only letters, digits, spaces, dots and dashes")
            }
        }
    }

    public func validate(settings: JSONValue) throws(ValidationError) {
        _ = try Settings(settings)
    }

    public func validate(config: JSONValue) throws(ValidationError) {
        let reader = SettingsReader(config, path: "config")
        try reader.rejectUnknownKeys(allowed: ["tokenHeader"])
        _ = try reader.string("tokenHeader", required: false)
    }

    // MARK: Mapping

    /// The `order/create` body for a Cata order. Pure: the golden tests pin it.
    public static func orderBody(_ order: CataOrder, settings: Settings) throws(ValidationError) -> JSONValue {
        let money = { (amount: Money) -> JSONValue in .object([("value", .string(amount.decimalString)), ("currency", .string(amount.currency.code))]) }
        let channel: JSONValue = .object([("dcId", .integer(settings.distributionChannelId))]
            + (settings.distributionChannelName.map { [("name", JSONValue.string($0))] } ?? []))
        let tax: JSONValue = .object([("taxRateId", .integer(settings.taxRateId))])
        var lines: [JSONValue] = []
        // `quantityField` is the order field an overflowing line total is blamed on.
        func line(basketItemId: Int, main: Int, article: JSONValue, name: String, quantity: Int, unitPrice: Money, comment: String?,
                  quantityField: String) throws(ValidationError) {
            let total = try unitPrice.times(quantity, for: quantityField)
            lines.append(.object([
                ("basketItemId", .integer(basketItemId)),
                ("mainBasketItemId", .integer(main)),
                article.integerValue != nil ? ("externalId", article) : ("productId", article),
                ("name", .string(name)),
                ("distributionChannel", channel),
                ("quantity", .integer(quantity)),
                ("price", money(total)),
                ("pricePerUnit", money(unitPrice)),
                ("tax", tax),
            ] + (comment.map { [("comment", JSONValue.string($0))] } ?? [])))
        }
        for (index, item) in order.items.enumerated() {
            let main = lines.count + 1
            try line(basketItemId: main, main: main, article: try settings.mapping.product(for: item, at: index), name: item.name,
                     quantity: item.quantity, unitPrice: item.itemOnlyPrice, comment: settings.mapping.note(for: item),
                     quantityField: "order.items[\(index)].quantity")
            for (modifierIndex, modifier) in item.modifiers.enumerated() {
                guard let article = try settings.mapping.modifier(for: modifier, item: index, index: modifierIndex) else { continue }
                let field = "order.items[\(index)].modifiers[\(modifierIndex)].quantity"
                try line(basketItemId: lines.count + 1, main: main, article: article, name: modifier.modifierOptionName,
                         quantity: try Quantity.product(modifier.quantity, item.quantity, for: field), unitPrice: modifier.price, comment: nil,
                         quantityField: field)
            }
        }
        if order.deliveryFee.minorUnits > 0, let feeArticle = settings.mapping.deliveryFeeProduct {
            let id = lines.count + 1
            try line(basketItemId: id, main: id, article: feeArticle, name: "Delivery fee", quantity: 1, unitPrice: order.deliveryFee, comment: nil,
                     quantityField: "order.deliveryFee")
        }
        let purchased = timestamp(order.createdAt, zone: settings.timeZone)
        var body: [(String, JSONValue)] = [
            ("orderId", .string(order.uuid)),
            ("payment", .object([
                ("referenceId", .string(order.orderRefNo)),
                ("paymentMethod", .string(paymentMethod(order.payment.method))),
                ("price", money(order.payment.amount)),
                ("status", .string("paid")),
                ("paymentReceived", .string(utc(order.createdAt))),
            ])),
            ("items", .array(lines)),
            ("status", .string(settings.orderStatus)),
            ("purchaseTime", purchased),
        ]
        if let type = orderType(order.deliveryMethod) { body.append(("orderType", .string(type))) }
        body.append(("pickup", .object([
            ("timestamp", .string(localTime(order.createdAt, zone: settings.timeZone))),
            ("timezone", .string(settings.timeZone.identifier)),
            ("asapDelivery", .bool(!order.isPreorder)),
            ("pickupToken", .string(order.dailyQueueNo)),
        ])))
        if order.payment.tip.minorUnits > 0 {
            body.append(("tipTransactions", .array([.object([
                ("amount", .decimal(order.payment.tip)),
                ("type", .string("PAID")),
                ("paidWith", .string(paymentMethod(order.payment.method))),
                ("created", purchased),
            ])])))
        }
        body.append(("intermediary", .string(settings.intermediary)))
        return .object(body)
    }

    /// OktoPOS does not publish its status vocabulary; `CANCELLED` follows the casing of its other
    /// enumerations (`orderType`, `paymentMethod`). Confirm against a live instance.
    public static let cancelledStatus = "CANCELLED"

    /// The `order/status` body that cancels the order OktoPOS knows as `internalId` (the id its create
    /// answer gave us, kept as the order's `externalOrderId`).
    public static func cancelBody(externalOrderId: String, reason: String?) throws(ValidationError) -> JSONValue {
        guard let internalId = Int64(externalOrderId) else {
            throw ValidationError(field: "order.externalOrderId", message: "must be OktoPOS's internalId, an integer, not \"\(externalOrderId)\"")
        }
        var body: [(String, JSONValue)] = [("orderId", .integer(internalId)), ("status", .string(cancelledStatus))]
        if let reason, !reason.allSatisfy(\.isWhitespace) { body.append(("payload", .object([("reason", .string(reason))]))) }
        return .object(body)
    }

    /// Cata `deliveryMethod` → OktoPOS `orderType`; an unknown method is left out (the field is optional).
    static func orderType(_ deliveryMethod: String) -> String? {
        switch deliveryMethod.uppercased() {
        case "DELIVERY": "DELIVERY"
        case "PICKUP", "TAKEAWAY", "TAKE_AWAY", "SELF_PICKUP", "COLLECTION": "PICKUP"
        case "DINE_IN", "DINEIN", "EAT_IN", "LOCAL": "LOCAL"
        case "SHIPPING": "SHIPPING"
        default: nil
        }
    }

    static func paymentMethod(_ method: String) -> String {
        switch method.uppercased() {
        case "CARD", "CREDIT_CARD", "CREDITCARD", "DEBIT_CARD": "CREDIT_CARD"
        case "CASH": "CASH"
        default: method.uppercased()
        }
    }

    static func timestamp(_ milliseconds: Int64, zone: TimeZone) -> JSONValue {
        .object([("timestamp", .string(utc(milliseconds))), ("timezone", .string(zone.identifier))])
    }

    /// `2021-01-18T10:22:12Z`: seconds, UTC, as the seed writes it.
    static func utc(_ milliseconds: Int64) -> String {
        let text = RFC3339.format(milliseconds: milliseconds - ((milliseconds % 1000) + 1000) % 1000)
        return text.replacingOccurrences(of: ".000Z", with: "Z")
    }

    /// Wall-clock time in the outlet's zone without an offset (`2021-01-11T14:15:00`), as the seed's `pickup`.
    static func localTime(_ milliseconds: Int64, zone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(milliseconds / 1000)))
    }

    // MARK: Exchanges

    /// The instance's API token in `config.tokenHeader` (default `X-API-Key`).
    private func authorize(_ access: ProviderAccess) -> @Sendable (Credential) -> [(String, String)] {
        let header = access.config["tokenHeader"]?.stringValue ?? "X-API-Key"
        return { credential in
            switch credential {
            case .staticKey(let key, _): [(header, key)]
            case .accessToken(let token): [("Authorization", "Bearer \(token)")]
            }
        }
    }

    public func dispatch(_ request: POSDispatch) async -> ConnectorOutcome {
        let body: JSONValue
        do {
            body = try Self.orderBody(request.order, settings: try Settings(request.settings))
        } catch {
            return .mappingFailed(error)
        }
        let answer: POSExchange.Answer
        switch await exchange.send(.POST, "\(request.access.baseUrl)/order/create", access: request.access, authorize: authorize(request.access),
                                   json: body) {
        case .failure(let failure): return failure.outcome
        case .success(let value): answer = value
        }
        if answer.succeeded, let id = answer.json?["internalId"]?.idText {
            return .accepted(answer, externalOrderId: id, summary: "OktoPOS internalId \(id)", durationMs: answer.durationMs)
        }
        // A retry of an order OktoPOS already took (our earlier answer was lost) names the first one.
        if answer.response.status == 409, case .array(let items)? = answer.json?["items"], let id = items.first?["internalId"]?.idText {
            return .accepted(answer, externalOrderId: id, summary: "OktoPOS already had orderId \(request.order.uuid) as internalId \(id)",
                             durationMs: answer.durationMs)
        }
        if answer.succeeded {
            return .unexpectedAnswer(answer, step: "OktoPOS order/create", expected: "internalId", durationMs: answer.durationMs)
        }
        return .refused(answer, step: "OktoPOS order/create", message: Self.errorText(answer), durationMs: answer.durationMs)
    }

    public func cancel(_ request: POSCancellation) async -> ConnectorOutcome {
        let body: JSONValue
        do {
            body = try Self.cancelBody(externalOrderId: request.order.externalOrderId, reason: request.reason)
        } catch {
            return .mappingFailed(error)
        }
        let access = request.order.access
        let answer: POSExchange.Answer
        switch await exchange.send(.POST, "\(access.baseUrl)/order/status", access: access, authorize: authorize(access), json: body) {
        case .failure(let failure): return failure.outcome
        case .success(let value): answer = value
        }
        let id = request.order.externalOrderId
        guard answer.succeeded else {
            return .refused(answer, step: "OktoPOS order/status", message: Self.errorText(answer), durationMs: answer.durationMs)
        }
        // The documented answer is `{"success": true}`; a 2xx saying otherwise did not take.
        guard answer.json?["success"] == .bool(true) else {
            return .unexpectedAnswer(answer, step: "OktoPOS order/status", expected: "success: true", durationMs: answer.durationMs)
        }
        return .accepted(answer, externalOrderId: id, summary: "OktoPOS internalId \(id) set to \(Self.cancelledStatus)", durationMs: answer.durationMs)
    }

    /// The first message of OktoPOS's error envelope (`{"messages":[{"text":…}],"success":false}`).
    static func errorText(_ answer: POSExchange.Answer) -> String? {
        guard case .array(let messages)? = answer.json?["messages"] else { return nil }
        return messages.first?["text"]?.stringValue
    }

    public func testConnection(_ access: ProviderAccess) async -> ConnectionTestResult {
        switch await exchange.send(.GET, "\(access.baseUrl)/order/ready", access: access, authorize: authorize(access)) {
        case .failure(let failure):
            return ConnectionTestResult(success: false, message: failure.outcome.reason)
        case .success(let answer) where answer.succeeded:
            return ConnectionTestResult(success: true, message: "OktoPOS answered HTTP \(answer.response.status) to order/ready")
        case .success(let answer):
            return ConnectionTestResult(success: false, message: ConnectorOutcome.refused(answer, step: "OktoPOS order/ready", message: Self.errorText(answer),
                                                                              durationMs: answer.durationMs).reason)
        }
    }
}

// MARK: Menu import

/// OktoPOS's articles through its Article API, authenticated like the order calls. OktoPOS documents
/// the list call's body (`{"page", "pageSize" ≤ 500, "filter"}`) but publishes no paths; following the
/// Order API's `/{controller}/{action}` pattern (`order/create`, `order/status`) we call
/// `POST {baseUrl}/article/list` — a POST because the listing takes a body. Confirm against a live
/// instance. The answer is taken as OktoPOS's envelope with the articles under `items`, plus the
/// page it is, its size and the `total` when the instance says.
extension OktoPOSConnector: MenuImporting {
    /// The largest page the Article API allows.
    public static let articlePageSize = 500
    public static let articleListPath = "/article/list"

    public func importMenu(_ request: POSMenuRequest) async throws(ConnectorFailure) -> ImportedMenu {
        let access = request.access
        var articles: [JSONValue] = []
        var page = 1
        while true {
            guard page <= MenuImport.maxPages else {
                throw ConnectorFailure("OktoPOS article/list still had articles after \(MenuImport.maxPages) pages")
            }
            let body: JSONValue = .object([("page", .integer(page)), ("pageSize", .integer(Self.articlePageSize)), ("filter", .object([]))])
            let json = try await exchange.menuCall(.POST, access.baseUrl + Self.articleListPath, access: access, authorize: authorize(access),
                                                   json: body, step: "OktoPOS article/list", errorText: Self.errorText)
            if json["success"] == .bool(false) {
                throw ConnectorFailure("OktoPOS article/list answered success: false: \(Self.envelopeText(json) ?? "no message")")
            }
            let found = try MenuImport.array(json["items"], field: "OktoPOS article/list items")
            articles += found
            // The instance may page smaller than asked; its own `pageSize` and `total` say when it is done.
            let size = MenuImport.count(json["pageSize"]).flatMap { $0 > 0 ? $0 : nil } ?? Self.articlePageSize
            if found.isEmpty || found.count < size { break }
            if let total = MenuImport.count(json["total"]), articles.count >= total { break }
            page += 1
        }
        return try Self.importedMenu(.array(articles), settings: request.settings, currency: request.currency)
    }

    /// The menu in our terms from the articles of every page. Pure: the golden tests pin it.
    ///
    /// An article is a product: its `id` is our external id (what `productMap` sends as `externalId`), its
    /// `externalReferenceNumber` the PLU, its `description` the name, its `group` the category. The price
    /// is the entry of `price[]` for the outlet's distribution channel (`settings.distributionChannelId`,
    /// else `distributionChannelName` against the channel's token); without either, the only entry when
    /// there is one. The Article API has no modifier groups: add-ons are articles of their own.
    public static func importedMenu(_ articles: JSONValue, settings: JSONValue, currency: Currency) throws(ConnectorFailure) -> ImportedMenu {
        let channelId = MenuImport.integer(settings["distributionChannelId"]).map(String.init)
        let channelName = settings["distributionChannelName"]?.stringValue
        var products: [ImportedMenu.Product] = []
        var seen = Set<String>()
        for (index, article) in try MenuImport.array(articles, field: "articles").enumerated() {
            let field = "OktoPOS articles[\(index)]"
            guard let id = article["id"]?.idText else { throw ConnectorFailure("\(field) has no id") }
            guard seen.insert(id).inserted else { continue }
            let prices = try MenuImport.optionalArray(article["price"], field: "\(field).price")
            var chosen: Int?
            if channelId != nil || channelName != nil {
                chosen = prices.firstIndex { entry in
                    channelId != nil && entry["distributionChannel"]?["id"]?.idText == channelId
                } ?? prices.firstIndex { entry in
                    channelName != nil && entry["distributionChannel"]?["token"]?.stringValue == channelName
                }
            } else if prices.count == 1 {
                chosen = 0
            }
            var price: Money?
            if let chosen {
                price = try MenuImport.price(prices[chosen]["price"], currency: currency, field: "\(field).price[\(chosen)].price")
            }
            let group = article["group"]
            products.append(.init(
                externalId: id, plu: MenuImport.text(article["externalReferenceNumber"]),
                name: MenuImport.text(article["description"]) ?? id, price: price, modifierGroupIds: [],
                category: group.flatMap { MenuImport.text($0["name"]) ?? MenuImport.text($0["token"]) }))
        }
        return ImportedMenu(products: products, modifierGroups: [])
    }

    /// The first message of an envelope.
    static func envelopeText(_ json: JSONValue) -> String? {
        guard case .array(let messages)? = json["messages"] else { return nil }
        return messages.first?["text"]?.stringValue
    }
}
