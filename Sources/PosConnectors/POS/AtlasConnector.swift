import Foundation
import NIOHTTP1
import PosDomain

/// Atlas Kitchen's Admin API (README, "Atlas Kitchen"; ADR 0009): `X-Api-Key` and `X-Merchant-Id` on every call;
/// `POST {baseUrl}/outlets/{outlet_id}/channels/{channel_id}/orders` creates an order with money in
/// integer cents, the serving slot as a date plus seconds from the outlet's local midnight, modifiers
/// as `sub_items`, and our order uuid as `external_order_id`. Atlas documents no idempotency, so a
/// retry after an attempt that may have created the order looks it up first (ADR 0009). Menus come
/// from `GET /menus` and `GET /menus/{id}`; status changes arrive as webhooks authenticated by a
/// shared token. Atlas documents no cancellation call, so the connector does not adopt cancelling.
public struct AtlasConnector: OrderDispatching, ConnectionTesting {
    public let slug = "atlas"
    private let exchange: POSExchange

    public init(exchange: POSExchange) {
        self.exchange = exchange
    }

    /// Per-outlet settings (`PUT /outlet-providers/{outletId}`).
    public struct Settings: Sendable {
        public var mapping: ProductMapping
        /// Atlas's outlet id (the `{outlet_id}` of the create-order path).
        public var outletId: Int64
        /// The Atlas channel the orders are placed through (`{channel_id}`).
        public var channelId: Int64
        /// The outlet's IANA time zone: `serving_date` and the timeslot are its wall-clock time.
        public var timeZone: TimeZone

        /// `deliveryFeeProductId` is not taken: Atlas carries the fee in the order's own `delivery_fee`.
        static let keys: Set<String> = ["productMap", "modifierMap", "atlasOutletId", "channelId", "timezone"]

        public init(_ settings: JSONValue) throws(ValidationError) {
            let reader = SettingsReader(settings)
            try reader.rejectUnknownKeys(allowed: Self.keys)
            mapping = try ProductMapping(reader)
            outletId = try reader.integer("atlasOutletId", required: true)!
            channelId = try reader.integer("channelId", required: true)!
            timeZone = try reader.timeZone("timezone", required: true)!
            for (key, value) in [("atlasOutletId", outletId), ("channelId", channelId)] where value <= 0 {
                throw ValidationError(field: "settings.\(key)", message: "must be a positive Atlas id")
            }
            try mapping.requireIds("an Atlas item_id: an integer") { $0.integerValue != nil }
        }
    }

    public func validate(settings: JSONValue) throws(ValidationError) {
        _ = try Settings(settings)
    }

    /// The connection's `config`: `merchantId` (sent as `X-Merchant-Id`), and `webhookHeader` when the
    /// merchant set Atlas's webhooks to carry the token in a custom header instead of `Authorization: Bearer`.
    public struct Config: Sendable, Equatable {
        public var merchantId: String
        public var webhookHeader: String?

        public init(_ config: JSONValue) throws(ValidationError) {
            let reader = SettingsReader(config, path: "config")
            try reader.rejectUnknownKeys(allowed: ["merchantId", "webhookHeader"], kind: "a config key the atlas connector knows")
            guard let node = config["merchantId"], node != .null else {
                throw ValidationError(field: "config.merchantId", message: "is required: the Atlas merchant id sent as X-Merchant-Id")
            }
            guard let id = node.idText, id.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw ValidationError(field: "config.merchantId", message: "must be Atlas's numeric merchant id")
            }
            merchantId = id
            webhookHeader = try reader.string("webhookHeader", required: false)
            if let header = webhookHeader {
                guard header.utf8.allSatisfy(Self.isTokenCharacter) else {
                    throw ValidationError(field: "config.webhookHeader", message: "must be an HTTP header name")
                }
            }
        }

        /// RFC 9110 `tchar`.
        static func isTokenCharacter(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): true
            default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
            }
        }
    }

    public func validate(config: JSONValue) throws(ValidationError) {
        _ = try Config(config)
    }

    // MARK: Mapping

    /// Where an order is served, as Atlas asks for it: the outlet's local date (`YYYY-MM-DD`) and the
    /// slot's start and end in seconds from that date's midnight.
    public struct ServingSlot: Sendable, Equatable {
        public var date: String
        public var start: Int
        public var end: Int

        public init(date: String, start: Int, end: Int) {
            self.date = date
            self.start = start
            self.end = end
        }
    }

    /// The length of the slot an order is placed in (Atlas's examples use 30 minutes).
    public static let slotSeconds = 1_800

    /// The slot for an order placed at `milliseconds` in `zone`: the local date, and the wall-clock
    /// time of day in seconds (`15:00` is 54000, as Atlas reads it, also on a day the clocks change);
    /// the end is ``slotSeconds`` later, but not past the end of that date.
    public static func servingSlot(at milliseconds: Int64, zone: TimeZone) -> ServingSlot {
        // Whole seconds, rounded down also before 1970.
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : -((-milliseconds + 999) / 1000)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        let year = parts.year ?? 1970, month = parts.month ?? 1, day = parts.day ?? 1
        let start = (parts.hour ?? 0) * 3600 + (parts.minute ?? 0) * 60 + (parts.second ?? 0)
        func padded(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return ServingSlot(date: "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))", start: start,
                           end: min(start + slotSeconds, 86_400))
    }

    /// Cata `deliveryMethod` → Atlas `fulfilment_type` (`delivery`, `dine_in`, else `pickup`).
    static func fulfilmentType(_ deliveryMethod: String) -> String {
        switch deliveryMethod.uppercased().filter(\.isLetter) {
        case "DELIVERY": "delivery"
        case "DINEIN", "EATIN", "LOCAL": "dine_in"
        default: "pickup"
        }
    }

    /// An amount in Atlas's integer cents. Atlas names every amount `…_cents`; a currency without
    /// exactly two decimal places would be misread by a factor of ten or more, so it is refused.
    static func cents(_ money: Money, field: String) throws(ValidationError) -> JSONValue {
        guard money.currency.exponent == 2 else {
            throw ValidationError(field: field, message: "is in \(money.currency.code), which has \(money.currency.exponent) decimal places; Atlas takes amounts in cents (2)")
        }
        return .integer(money.minorUnits)
    }

    /// The create-order body for a Cata order. Pure: the golden tests pin it.
    ///
    /// Lines carry their unit price (`itemOnlyPrice`) in cents; mapped modifiers are `sub_items` with
    /// their own unit price and their quantity per parent unit; free unmapped modifiers go into the
    /// line's `notes`. Totals are the order's. Atlas has no tip field: the tip is paid on top of the
    /// total (`order_payments[0].amount` = payment + tip) and named in the order's `notes`.
    public static func orderBody(_ order: CataOrder, settings: Settings) throws(ValidationError) -> JSONValue {
        var lines: [JSONValue] = []
        for (index, item) in order.items.enumerated() {
            let itemId = try settings.mapping.product(for: item, at: index)
            var subItems: [JSONValue] = []
            for (modifierIndex, modifier) in item.modifiers.enumerated() {
                guard let id = try settings.mapping.modifier(for: modifier, item: index, index: modifierIndex) else { continue }
                subItems.append(.object([
                    ("item_id", id),
                    ("name", .string(modifier.modifierOptionName)),
                    ("quantity", .integer(modifier.quantity)),
                    ("price_cents", try cents(modifier.price, field: "order.items[\(index)].modifiers[\(modifierIndex)].price")),
                ]))
            }
            var line: [(String, JSONValue)] = [
                ("item_id", itemId),
                ("name", .string(item.name)),
                ("quantity", .integer(item.quantity)),
                ("price_cents", try cents(item.itemOnlyPrice, field: "order.items[\(index)].itemOnlyPrice")),
            ]
            if let note = settings.mapping.note(for: item) { line.append(("notes", .string(note))) }
            line.append(("sub_items", .array(subItems)))
            lines.append(.object(line))
        }
        let paid: Money
        do {
            paid = try order.payment.amount.plus(order.payment.tip)
        } catch {
            throw ValidationError(field: "order.payment.tip", message: "makes the amount paid larger than the largest amount this service can represent")
        }
        let slot = servingSlot(at: order.createdAt, zone: settings.timeZone)
        var notes = "Cata order \(order.orderRefNo)"
        if order.payment.tip.minorUnits > 0 { notes += "; tip \(order.payment.tip) included in the payment" }
        var body: [(String, JSONValue)] = [
            ("fulfilment_type", .string(fulfilmentType(order.deliveryMethod))),
            ("serving_date", .string(slot.date)),
            ("timeslot_start", .integer(slot.start)),
            ("timeslot_end", .integer(slot.end)),
        ]
        if !order.isPreorder { body.append(("timeslot_type", .string("asap"))) }
        body.append(contentsOf: [
            ("external_order_id", .string(order.uuid)),
            ("external_order_short_code", .string(order.dailyQueueNo)),
            ("source_label", .string("Cata")),
            ("notes", .string(notes)),
            ("is_paid", .bool(true)),
            ("subtotal", try cents(order.subtotal, field: "order.subtotal")),
            ("delivery_fee", try cents(order.deliveryFee, field: "order.deliveryFee")),
            ("surcharge", try cents(order.serviceCharge, field: "order.serviceCharge")),
            ("discount", try cents(order.discountTotal, field: "order.discountTotal")),
            ("total", try cents(order.totalPay, field: "order.totalPay")),
            ("order_items", .array(lines)),
            ("order_payments", .array([.object([
                ("amount", try cents(paid, field: "order.payment.amount")),
                ("capture_id", .string(order.uuid)),
                ("capture_type", .string(paymentCaptureType(order.payment.method))),
            ])])),
        ])
        return .object(body)
    }

    /// `order_payments[].capture_type`: Atlas does not publish its values; ours says who captured it.
    static func paymentCaptureType(_ method: String) -> String {
        "cata_" + (method.isEmpty ? "payment" : method.lowercased())
    }

    // MARK: Exchanges

    /// Where an earlier attempt of this delivery got to (`progress`): `createSent` once the create
    /// call is about to go out, so a retry knows the order may exist even though no answer said so.
    public struct Progress: Sendable, Equatable {
        public var createSent: Bool

        public init(_ value: JSONValue?) {
            createSent = value?["createSent"] == .bool(true)
        }

        public var json: JSONValue { .object([("createSent", .bool(createSent))]) }
    }

    /// The path an order is looked up by our reference (ADR 0009).
    static func lookupPath(_ orderUUID: String) -> String { "/orders/identifier/\(POSExchange.pathSegment(orderUUID))" }

    private func authorize(_ access: ProviderAccess) throws(ValidationError) -> @Sendable (Credential) -> [(String, String)] {
        let merchantId = try Config(access.config).merchantId
        return { credential in
            switch credential {
            case .staticKey(let key, _): [("X-Api-Key", key), ("X-Merchant-Id", merchantId)]
            case .accessToken(let token): [("Authorization", "Bearer \(token)"), ("X-Merchant-Id", merchantId)]
            }
        }
    }

    public func dispatch(_ request: POSDispatch) async -> ConnectorOutcome {
        let body: JSONValue
        let settings: Settings
        let authorize: @Sendable (Credential) -> [(String, String)]
        do {
            settings = try Settings(request.settings)
            body = try Self.orderBody(request.order, settings: settings)
            authorize = try self.authorize(request.access)
        } catch {
            return .mappingFailed(error)
        }
        let access = request.access
        let uuid = request.order.uuid
        var spent: Int64 = 0
        var progress = Progress(request.progress)
        if progress.createSent {
            // An earlier attempt sent the create and got no answer we could trust: Atlas may have the
            // order. Ask before creating, so a retry never makes a second one.
            switch await exchange.send(.GET, access.baseUrl + Self.lookupPath(uuid), access: access, authorize: authorize) {
            case .failure(let failure):
                return failure.outcome
            case .success(let answer):
                spent += answer.durationMs
                if answer.succeeded, let json = answer.json, json["external_order_id"]?.stringValue == uuid, let id = json["id"]?.idText {
                    return .accepted(answer, externalOrderId: id,
                                     summary: "Atlas already had external_order_id \(uuid) as order \(id) (found by lookup after a lost answer)",
                                     durationMs: spent)
                }
                // Not there (404, or an order that is not ours): the earlier create did not land.
                if !(answer.succeeded || answer.response.status == 404) {
                    return .refused(answer, step: "Atlas order lookup", message: Self.errorText(answer), durationMs: spent)
                }
            }
        } else {
            progress.createSent = true
            do {
                try await request.checkpoint(progress.json)
            } catch {
                return .checkpointFailed(error, durationMs: spent)
            }
        }
        let url = "\(access.baseUrl)/outlets/\(settings.outletId)/channels/\(settings.channelId)/orders"
        let answer: POSExchange.Answer
        switch await exchange.send(.POST, url, access: access, authorize: authorize, json: body) {
        case .failure(let failure): return failure.outcome.taking(spent + failure.outcome.durationMs)
        case .success(let value): answer = value
        }
        spent += answer.durationMs
        if answer.succeeded, let id = answer.json?["id"]?.idText {
            let state = answer.json?["state"]?.stringValue.map { " (\($0))" } ?? ""
            return .accepted(answer, externalOrderId: id, summary: "Atlas order \(id)\(state)", durationMs: spent)
        }
        if answer.succeeded {
            return .unexpectedAnswer(answer, step: "Atlas create order", expected: "id", durationMs: spent)
        }
        return .refused(answer, step: "Atlas create order", message: Self.errorText(answer), durationMs: spent)
    }

    /// Atlas's error message with the fields it names (`{"type","message","error_hash":{field: message}}`;
    /// older answers list `details: [{field, message}]`).
    static func errorText(_ answer: POSExchange.Answer) -> String? {
        guard let json = answer.json, let message = json["message"]?.stringValue else { return nil }
        var fields: [String] = []
        if case .object(let members)? = json["error_hash"] {
            fields = members.map { key, value in "\(key): \(value.stringValue ?? value.serialized)" }
        } else if case .array(let details)? = json["details"] {
            fields = details.compactMap { detail in
                detail["field"]?.stringValue.map { "\($0): \(detail["message"]?.stringValue ?? "")" }
            }
        }
        return fields.isEmpty ? message : "\(message) (\(fields.joined(separator: "; ")))"
    }

    public func testConnection(_ access: ProviderAccess) async -> ConnectionTestResult {
        do throws(ConnectorFailure) {
            let menus = try await menuList(access)
            return ConnectionTestResult(success: true, message: "Atlas answered with \(menus.count) menu(s)")
        } catch {
            return ConnectionTestResult(success: false, message: error.message)
        }
    }
}

// MARK: Inbound webhooks

/// Atlas's webhooks: `{"event_type", "event_at", "payload"}`, authenticated only by the token the
/// merchant configured (`Authorization: Bearer <token>`, or a custom header named in
/// `config.webhookHeader`), compared in constant time with the connection's `webhookSecret`. Atlas
/// delivers at least once and says to expect duplicates, so every status it reports carries an
/// event identity the service records and drops repeats of (ADR 0009).
extension AtlasConnector: InboundStatusReceiving {
    public func readInbound(_ webhook: InboundWebhook, webhookSecret: String?) throws(InboundWebhookRejection) -> InboundWebhookReading {
        guard let secret = webhookSecret, !secret.isEmpty else {
            throw .unverified("no webhook secret is set for this Atlas connection")
        }
        let customHeader = (try? Config(webhook.config))?.webhookHeader
        let presented: String
        if let customHeader {
            guard let value = webhook.header(customHeader)?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
                throw .unverified("\(customHeader) is missing")
            }
            presented = value
        } else {
            guard let value = webhook.header("Authorization")?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
                throw .unverified("Authorization is missing")
            }
            guard value.count > 7, value.prefix(7).lowercased() == "bearer " else {
                throw .unverified("Authorization is not a Bearer token")
            }
            presented = String(value.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        guard ConstantTime.equals(Array(presented.utf8), Array(secret.utf8)) else {
            throw .unverified("the webhook token does not match this connection's webhookSecret")
        }
        return try Self.read(webhook.body)
    }

    /// What a verified body says. Pure.
    public static func read(_ body: [UInt8]) throws(InboundWebhookRejection) -> InboundWebhookReading {
        guard let parsed = try? JSONParser.parse(body), case .object = parsed.kind else {
            throw .unreadable(ValidationError(field: "body", message: "must be a JSON object"))
        }
        let json = JSONValue(parsed)
        guard let eventType = json["event_type"]?.stringValue, !eventType.isEmpty else {
            throw .unreadable(ValidationError(field: "event_type", message: "is required"))
        }
        guard eventType.hasPrefix("order.") else {
            return .ignored(reason: "Atlas event \(eventType) carries no order status")
        }
        guard let payload = json["payload"], case .object = payload else {
            throw .unreadable(ValidationError(field: "payload", message: "must be an object"))
        }
        guard let atlasId = (payload["id"] ?? payload["order_id"])?.idText else {
            throw .unreadable(ValidationError(field: "payload.id", message: "must be Atlas's order id"))
        }
        let eventAt = try eventTime(json["event_at"])
        let state = payload["state"]?.stringValue
        let fulfilment = payload["fulfilment_type"]?.stringValue
        let status: OrderStatus?
        switch eventType {
        case "order.confirmed": status = .accepted
        case "order.dispatched": status = dispatched(fulfilment)
        case "order.completed": status = .completed
        case "order.cancelled": status = .cancelled
        case "order.created", "order.updated": status = state.flatMap { Self.status(ofState: $0, fulfilment: fulfilment) }
        default: return .ignored(reason: "Atlas event \(eventType) is not one we map")
        }
        let posStatus = state.map { "\(eventType) (\($0))" } ?? eventType
        let identity = [eventType, eventAt.map(String.init) ?? "-", atlasId, state ?? "-"].joined(separator: "|")
        return .statusUpdates([OrderStatusUpdate(
            externalOrderId: atlasId, orderUUID: payload["external_order_id"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
            status: status, posStatus: posStatus, occurredAt: eventAt.map { $0 * 1000 },
            reason: status == .cancelled ? payload["cancellation_reason"]?.stringValue : nil,
            eventId: identity)])
    }

    /// An Atlas order `state` in our words; nil for a state with no equivalent (`unpaid`, `pending`).
    static func status(ofState state: String, fulfilment: String?) -> OrderStatus? {
        switch state.lowercased() {
        case "confirmed", "accepted": .accepted
        case "preparing", "in_progress", "processing": .inProgress
        case "ready", "ready_for_pickup": .ready
        case "dispatched": dispatched(fulfilment)
        case "completed", "delivered", "collected": .completed
        case "cancelled", "canceled", "rejected": .cancelled
        default: nil
        }
    }

    /// An order on its way: with a driver for a delivery order, otherwise handed over and waiting.
    static func dispatched(_ fulfilment: String?) -> OrderStatus {
        fulfilment == "delivery" ? .driverPickedUp : .ready
    }

    /// `event_at`: unix seconds (the Open API's examples), or an RFC 3339 time (the help centre's order events).
    static func eventTime(_ node: JSONValue?) throws(InboundWebhookRejection) -> Int64? {
        switch node {
        case nil, .null?: return nil
        case .number?:
            guard let seconds = node?.integerValue, seconds >= 0, seconds < 32_503_680_000 else {
                throw .unreadable(ValidationError(field: "event_at", message: "must be unix seconds"))
            }
            return seconds
        case .string(let text)?:
            guard let milliseconds = RFC3339.parseMilliseconds(text) else {
                throw .unreadable(ValidationError(field: "event_at", message: "must be unix seconds or an RFC 3339 time"))
            }
            return milliseconds >= 0 ? milliseconds / 1000 : -((-milliseconds + 999) / 1000)
        default:
            throw .unreadable(ValidationError(field: "event_at", message: "must be unix seconds"))
        }
    }
}

// MARK: Menu import

/// Atlas's menus: `GET /menus` lists them, `GET /menus/{id}` gives one with its sections,
/// sub-sections, products and their modifier groups. Every `published` menu is read and merged
/// (a product on two menus is imported once, from the first).
extension AtlasConnector: MenuImporting {
    public func importMenu(_ request: POSMenuRequest) async throws(ConnectorFailure) -> ImportedMenu {
        let access = request.access
        let listed = try await menuList(access)
        var menus: [JSONValue] = []
        for entry in listed where entry["state"]?.stringValue == "published" {
            guard let id = entry["id"]?.idText else { throw ConnectorFailure("Atlas menus entry has no id") }
            menus.append(try await exchange.menuCall(.GET, "\(access.baseUrl)/menus/\(POSExchange.pathSegment(id))", access: access,
                                                     authorize: try authorizing(access), step: "Atlas menu \(id)", errorText: Self.errorText))
        }
        return try Self.importedMenu(.array(menus), currency: request.currency)
    }

    private func authorizing(_ access: ProviderAccess) throws(ConnectorFailure) -> @Sendable (Credential) -> [(String, String)] {
        do {
            return try authorize(access)
        } catch {
            throw ConnectorFailure("the Atlas connection's \(error.field) \(error.message)")
        }
    }

    /// `GET /menus`: `{"items": [...]}`.
    fileprivate func menuList(_ access: ProviderAccess) async throws(ConnectorFailure) -> [JSONValue] {
        let json = try await exchange.menuCall(.GET, "\(access.baseUrl)/menus", access: access, authorize: try authorizing(access),
                                               step: "Atlas menus", errorText: Self.errorText)
        guard case .array(let items)? = json["items"] else { throw ConnectorFailure("Atlas menus answered without items") }
        return items
    }

    /// The menu in our terms from the menu details (`[menu…]`, each as `GET /menus/{id}` answers). Pure:
    /// the golden tests pin it.
    ///
    /// A product's id is the `item_id` orders name; its PLU its `sku`; its category the sub-section (or
    /// section) it is listed in; its price `price_cents`. Archived products and modifier groups are left
    /// out. A modifier group is listed once (first seen); its options are its `modifiers`, each named by
    /// the item it offers (`item_id`, else its own `id`), priced by `price_cents_override`, else the item's
    /// price.
    public static func importedMenu(_ menus: JSONValue, currency: Currency) throws(ConnectorFailure) -> ImportedMenu {
        guard currency.exponent == 2 else {
            throw ConnectorFailure("Atlas prices are in cents; the outlet's currency \(currency.code) has \(currency.exponent) decimal places")
        }
        var products: [ImportedMenu.Product] = []
        var productIds = Set<String>()
        var groups: [ImportedMenu.ModifierGroup] = []
        var groupIds = Set<String>()

        func price(_ node: JSONValue?, field: String) throws(ConnectorFailure) -> Money? {
            switch node {
            case nil, .null?: return nil
            case let value?:
                guard case .number(let text) = value, text.allSatisfy(\.isNumber), let cents = value.integerValue else {
                    throw ConnectorFailure("\(field) must be a whole number of cents, not \(value.serialized.prefix(40))")
                }
                return Money(minorUnits: cents, currency: currency)
            }
        }

        func readGroup(_ link: JSONValue, field: String) throws(ConnectorFailure) -> String? {
            guard link["archived"] != .bool(true) else { return nil }
            guard let group = link["modifier_group"], case .object = group else {
                throw ConnectorFailure("\(field).modifier_group must be an object")
            }
            guard let id = group["id"]?.idText else { throw ConnectorFailure("\(field).modifier_group has no id") }
            guard groupIds.insert(id).inserted else { return id }
            var options: [ImportedMenu.ModifierGroup.Option] = []
            var optionIds = Set<String>()
            for (index, modifier) in try MenuImport.optionalArray(group["modifiers"], field: "\(field).modifier_group.modifiers").enumerated() {
                let optionField = "\(field).modifier_group.modifiers[\(index)]"
                let item = modifier["item"]
                guard let optionId = (modifier["item_id"] ?? item?["id"] ?? modifier["id"])?.idText else {
                    throw ConnectorFailure("\(optionField) has no id")
                }
                guard optionIds.insert(optionId).inserted else { continue }
                let override = try price(modifier["price_cents_override"], field: "\(optionField).price_cents_override")
                let listed = try price(modifier["price_cents"] ?? item?["price_cents"], field: "\(optionField).price_cents")
                options.append(.init(externalId: optionId, name: MenuImport.text(modifier["name"] ?? item?["name"]) ?? optionId,
                                     price: override ?? listed, plu: MenuImport.text(modifier["sku"] ?? item?["sku"])))
            }
            groups.append(.init(externalId: id, name: MenuImport.text(group["name"]) ?? id, options: options,
                                minSelections: MenuImport.count(group["selection_required_min"]),
                                maxSelections: MenuImport.count(group["selection_required_max"]).flatMap { $0 == 0 ? nil : $0 }))
            return id
        }

        func readProducts(_ list: JSONValue?, category: String?, field: String) throws(ConnectorFailure) {
            for (index, product) in try MenuImport.optionalArray(list, field: field).enumerated() {
                let productField = "\(field)[\(index)]"
                guard let id = product["id"]?.idText else { throw ConnectorFailure("\(productField) has no id") }
                guard product["archived_at"] == nil || product["archived_at"] == .null, productIds.insert(id).inserted else { continue }
                var linked: [String] = []
                for (linkIndex, link) in try MenuImport.optionalArray(product["item_modifier_groups"], field: "\(productField).item_modifier_groups")
                    .enumerated() {
                    if let groupId = try readGroup(link, field: "\(productField).item_modifier_groups[\(linkIndex)]"), !linked.contains(groupId) {
                        linked.append(groupId)
                    }
                }
                products.append(.init(externalId: id, plu: MenuImport.text(product["sku"]), name: MenuImport.text(product["name"]) ?? id,
                                      price: try price(product["price_cents"], field: "\(productField).price_cents"),
                                      modifierGroupIds: linked, category: category))
            }
        }

        for (menuIndex, menu) in try MenuImport.array(menus, field: "menus").enumerated() {
            let menuField = "Atlas menu \(menu["id"]?.idText ?? String(menuIndex))"
            for (sectionIndex, section) in try MenuImport.optionalArray(menu["sections"], field: "\(menuField).sections").enumerated() {
                let sectionField = "\(menuField).sections[\(sectionIndex)]"
                let sectionName = MenuImport.text(section["name"])
                try readProducts(section["products"], category: sectionName, field: "\(sectionField).products")
                for (subIndex, sub) in try MenuImport.optionalArray(section["sub_sections"], field: "\(sectionField).sub_sections").enumerated() {
                    try readProducts(sub["products"], category: MenuImport.text(sub["name"]) ?? sectionName,
                                     field: "\(sectionField).sub_sections[\(subIndex)].products")
                }
            }
        }
        return ImportedMenu(products: products, modifierGroups: groups)
    }
}
