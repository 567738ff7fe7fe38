import Crypto
import Foundation
import PosDomain

/// Revel's web-order cart (`cata-reference.md` §2.6): `POST {baseUrl}/specialresources/cart/submit`
/// with `API-AUTHENTICATION: key:secret` and a JSON body sent as `text/plain` (Revel answers
/// "Unhandled error" to `application/json`). Prices are decimal numbers in major units.
public struct RevelConnector: OrderDispatching, ConnectionTesting, RemoteOutletListing {
    public let slug = "revel"
    private let exchange: POSExchange

    public init(exchange: POSExchange) {
        self.exchange = exchange
    }

    public struct Settings: Sendable {
        public var mapping: ProductMapping
        public var establishmentId: Int64
        /// Revel's dining option for Cata orders (it also marks them as ours when Revel reports back).
        public var diningOption: Int64
        /// `paymentInfo.type`; Revel's enum is undocumented, its examples use 7 ⚠.
        public var paymentType: Int64

        static let keys = ProductMapping.keys.union(["establishmentId", "diningOption", "paymentType"])

        public init(_ settings: JSONValue) throws(ValidationError) {
            let reader = SettingsReader(settings)
            try reader.rejectUnknownKeys(allowed: Self.keys)
            mapping = try ProductMapping(reader)
            establishmentId = try reader.integer("establishmentId", required: true)!
            diningOption = try reader.integer("diningOption", required: true)!
            paymentType = try reader.integer("paymentType", required: false) ?? 7
            try mapping.requireIds("a Revel id: an integer") { $0.integerValue != nil }
            if let fee = mapping.deliveryFeeProduct, fee.integerValue == nil {
                throw ValidationError(field: "settings.deliveryFeeProductId", message: "must be a Revel product id: an integer")
            }
        }
    }

    public func validate(settings: JSONValue) throws(ValidationError) {
        _ = try Settings(settings)
    }

    // MARK: Mapping

    /// The cart-submit body for a Cata order. Pure: the golden tests pin it.
    public static func cartBody(_ order: CataOrder, settings: Settings) throws(ValidationError) -> JSONValue {
        var items: [JSONValue] = []
        func line(product: JSONValue, quantity: Int, price: Money, request: String, modifiers: [JSONValue]) {
            items.append(.object([
                ("product", product),
                ("quantity", .integer(quantity)),
                ("price", .decimal(price)),
                ("special_request", .string(request)),
                ("product_name_override", .string("")),
                ("product_sub_id", .string("")),
                ("has_upsell", .bool(false)),
                ("modifieritems", .array(modifiers)),
                ("products_sets", .null),
            ]))
        }
        for (index, item) in order.items.enumerated() {
            let product = try settings.mapping.product(for: item, at: index)
            var modifiers: [JSONValue] = []
            for (modifierIndex, modifier) in item.modifiers.enumerated() {
                guard let id = try settings.mapping.modifier(for: modifier, item: index, index: modifierIndex) else { continue }
                modifiers.append(.object([
                    ("modifier", id),
                    ("product_id", product),
                    ("modifier_price", .decimal(modifier.price)),
                    ("qty", .integer(modifier.quantity)),
                    ("qty_type", .integer(0)),
                    ("mod_type", .integer(0)),
                ]))
            }
            line(product: product, quantity: item.quantity, price: item.itemOnlyPrice, request: settings.mapping.note(for: item) ?? "",
                 modifiers: modifiers)
        }
        if order.deliveryFee.minorUnits > 0, let fee = settings.mapping.deliveryFeeProduct {
            line(product: fee, quantity: 1, price: order.deliveryFee, request: "", modifiers: [])
        }
        return .object([
            ("skin", .string("weborder")),
            ("establishmentId", .integer(settings.establishmentId)),
            ("customMenuInfo", .object([("mode", .integer(0)), ("name", .string(""))])),
            ("items", .array(items)),
            ("orderInfo", .object([
                ("dining_option", .integer(settings.diningOption)),
                ("asap", .bool(!order.isPreorder)),
                ("call_name", .string(order.dailyQueueNo)),
                ("notes", .string("Cata order \(order.orderRefNo)")),
            ])),
            ("paymentInfo", .object([
                ("type", .integer(settings.paymentType)),
                ("amount", .decimal(order.payment.amount)),
                ("tip", .decimal(order.payment.tip)),
                ("transaction_id", .string(order.uuid)),
            ])),
        ])
    }

    // MARK: Exchanges

    private static func authorize(_ credential: Credential) -> [(String, String)] {
        switch credential {
        case .staticKey(let key, let secret): [("API-AUTHENTICATION", "\(key):\(secret)")]
        case .accessToken(let token): [("Authorization", "Bearer \(token)")]
        }
    }

    public func dispatch(_ request: POSDispatch) async -> ConnectorOutcome {
        let body: JSONValue
        do {
            body = try Self.cartBody(request.order, settings: try Settings(request.settings))
        } catch {
            return .mappingFailed(error)
        }
        let answer: POSExchange.Answer
        switch await exchange.send(.POST, "\(request.access.baseUrl)/specialresources/cart/submit", access: request.access,
                                   authorize: Self.authorize, json: body, contentType: "text/plain") {
        case .failure(let failure): return failure.outcome
        case .success(let value): answer = value
        }
        let json = answer.json
        if answer.succeeded, json?["status"]?.stringValue != "ERROR", let id = json?["orderId"]?.idText {
            return .accepted(answer, externalOrderId: id, summary: "Revel orderId \(id)", durationMs: answer.durationMs)
        }
        // Our earlier attempt got through but its answer was lost: Revel names the order it already has.
        if answer.response.status == 409, let id = json?["orderId"]?.idText {
            return .accepted(answer, externalOrderId: id, summary: "Revel already had this transaction as orderId \(id)", durationMs: answer.durationMs)
        }
        if answer.succeeded, json?["status"]?.stringValue != "ERROR" {
            return .unexpectedAnswer(answer, step: "Revel cart/submit", expected: "orderId", durationMs: answer.durationMs)
        }
        var refused = ConnectorOutcome.refused(answer, step: "Revel cart/submit", message: json?["errorMsg"]?.stringValue, durationMs: answer.durationMs)
        if answer.succeeded {
            // `{"status":"ERROR"}` on a 200: Revel rejected the cart.
            refused.failureClass = .rejected
            refused.retryable = false
        }
        return refused
    }

    public func testConnection(_ access: ProviderAccess) async -> ConnectionTestResult {
        do throws(ConnectorFailure) {
            let page = try await establishments(access, path: "/enterprise/Establishment/?limit=1&offset=0")
            return ConnectionTestResult(success: true, message: "Revel answered; \(page.total.map { "\($0) establishment(s)" } ?? "establishments listed")")
        } catch {
            return ConnectionTestResult(success: false, message: error.message)
        }
    }

    public func remoteOutlets(_ access: ProviderAccess) async throws(ConnectorFailure) -> [RemoteOutlet] {
        var outlets: [RemoteOutlet] = []
        var path: String? = "/enterprise/Establishment/?limit=250&offset=0"
        // Revel pages with `meta.next`; a bound keeps a looping `next` from running forever.
        for _ in 0..<40 {
            guard let next = path else { break }
            let page = try await establishments(access, path: next)
            outlets += page.outlets
            path = page.next
        }
        return outlets
    }

    private struct EstablishmentPage {
        var outlets: [RemoteOutlet]
        var next: String?
        var total: Int64?
    }

    private func establishments(_ access: ProviderAccess, path: String) async throws(ConnectorFailure) -> EstablishmentPage {
        let answer: POSExchange.Answer
        switch await exchange.send(.GET, access.baseUrl + path, access: access, authorize: Self.authorize) {
        case .failure(let failure): throw ConnectorFailure(failure.outcome.reason)
        case .success(let value): answer = value
        }
        guard answer.succeeded else {
            let outcome = ConnectorOutcome.refused(answer, step: "Revel Establishment", durationMs: answer.durationMs)
            throw ConnectorFailure(outcome.reason, isAuthFailure: outcome.failureClass == .auth)
        }
        guard let json = answer.json, case .array(let objects)? = json["objects"] ?? json["results"] else {
            throw ConnectorFailure("Revel Establishment answered without objects")
        }
        let outlets = objects.compactMap { object -> RemoteOutlet? in
            guard let id = object["id"]?.idText else { return nil }
            return RemoteOutlet(id: id, name: object["name"]?.stringValue ?? id, address: object["address"]?.stringValue)
        }
        let meta = json["meta"]
        // `next` is a path on the same host; anything else is not followed.
        let next = meta?["next"]?.stringValue.flatMap { $0.hasPrefix("/") ? Self.relative($0, to: access.baseUrl) : nil }
        return EstablishmentPage(outlets: outlets, next: next, total: meta?["total_count"]?.integerValue)
    }

    /// `next` arrives as an absolute path (`/revel/enterprise/…` behind a prefix, `/enterprise/…` at the root).
    static func relative(_ path: String, to baseUrl: String) -> String? {
        guard let base = URLPath.of(baseUrl), !base.isEmpty else { return path }
        return path.hasPrefix(base + "/") ? String(path.dropFirst(base.count)) : path
    }
}

// MARK: Inbound webhooks

/// Revel's webhooks: each body signed with the connection's shared secret (`X-Revel-Signature`,
/// lowercase hex HMAC-SHA1 of the raw body), the event named in `X-Revel-Event-Type`. Orders report
/// back only through `order.finalized` (the order was closed), whose body is Revel's OrderAllInOne
/// representation: the order under `orderInfo`, its payments (ours carries the Cata order uuid as
/// `transaction_id`, set by ``RevelConnector/cartBody(_:settings:)``), items and history.
extension RevelConnector: InboundStatusReceiving {
    public static let signatureHeader = "X-Revel-Signature"
    public static let eventTypeHeader = "X-Revel-Event-Type"
    public static let finalizedEvent = "order.finalized"

    /// `X-Revel-Signature` for `body`: lowercase hex HMAC-SHA1 keyed with the shared secret's bytes.
    public static func signature(of body: [UInt8], secret: String) -> String {
        Hex.encode(HMAC<Insecure.SHA1>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8))))
    }

    public func readInbound(_ webhook: InboundWebhook, webhookSecret: String?) throws(InboundWebhookRejection) -> InboundWebhookReading {
        guard let secret = webhookSecret, !secret.isEmpty else {
            throw .unverified("no webhook secret is set for this Revel connection")
        }
        guard var presented = webhook.header(Self.signatureHeader)?.trimmingCharacters(in: .whitespaces), !presented.isEmpty else {
            throw .unverified("\(Self.signatureHeader) is missing")
        }
        if presented.lowercased().hasPrefix("sha1=") { presented = String(presented.dropFirst("sha1=".count)) }
        let expected = Self.signature(of: webhook.body, secret: secret)
        guard ConstantTime.equals(Array(presented.lowercased().utf8), Array(expected.utf8)) else {
            throw .unverified("\(Self.signatureHeader) does not match the body")
        }
        return try Self.read(webhook.body, eventType: webhook.header(Self.eventTypeHeader))
    }

    /// What a verified body says. An event type missing from the headers is taken as `order.finalized`
    /// when the body is an order: Revel gives each event type its own endpoint, so the header is a
    /// courtesy we cannot rely on.
    static func read(_ body: [UInt8], eventType header: String?) throws(InboundWebhookRejection) -> InboundWebhookReading {
        guard let parsed = try? JSONParser.parse(body), case .object = parsed.kind else {
            throw .unreadable(ValidationError(field: "body", message: "must be a JSON object"))
        }
        let json = JSONValue(parsed)
        let eventType = header?.trimmingCharacters(in: .whitespaces).lowercased()
        // Sent once when the webhook is enabled; Revel expects the same body back.
        if json == .object([("ping", .string("pong"))]) || eventType == "ping" {
            return .handshake(reply: .object([("ping", .string("pong"))]))
        }
        switch eventType {
        case Self.finalizedEvent?:
            return try finalized(json)
        case nil where json["orderInfo"] != nil:
            return try finalized(json)
        case nil:
            return .ignored(reason: "no \(Self.eventTypeHeader) and not an order")
        case let other?:
            return .ignored(reason: "Revel event \(other) carries no order status")
        }
    }

    /// `order.finalized`: the order is closed, which is COMPLETED in our words.
    static func finalized(_ json: JSONValue) throws(InboundWebhookRejection) -> InboundWebhookReading {
        guard let info = json["orderInfo"], case .object = info else {
            throw .unreadable(ValidationError(field: "orderInfo", message: "is required: order.finalized carries the order under orderInfo"))
        }
        guard let orderId = info["id"]?.idText else {
            throw .unreadable(ValidationError(field: "orderInfo.id", message: "must be Revel's order id"))
        }
        if info["closed"] == .bool(false) {
            return .ignored(reason: "Revel order \(orderId) is not closed yet (closed=false)")
        }
        // Revel writes dates with an offset; one without cannot be placed in time and is left out.
        let changedAt = [info["updated_date"], info["created_date"]].lazy.compactMap { $0?.stringValue }.first { !$0.isEmpty }
        return .statusUpdates([OrderStatusUpdate(
            externalOrderId: orderId, orderUUID: ourReference(json), status: .completed, posStatus: Self.finalizedEvent,
            occurredAt: changedAt.flatMap(RFC3339.parseMilliseconds))])
    }

    /// The Cata order uuid our cart sent as `paymentInfo.transaction_id`, as Revel lists the payment.
    static func ourReference(_ json: JSONValue) -> String? {
        let payments: [JSONValue] = switch json["payments"] ?? json["paymentInfo"] {
        case .array(let list)?: list
        case .object(let members)?: [.object(members)]
        default: []
        }
        return payments.lazy.compactMap { $0["transaction_id"]?.stringValue }.first { !$0.isEmpty }
    }
}

/// The path part of an absolute URL (`http://h:1/revel` → `/revel`).
enum URLPath {
    static func of(_ url: String) -> String? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let rest = url[schemeEnd.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return "" }
        return String(rest[slash...])
    }
}

// MARK: Menu import

/// Revel's online menu for one establishment, read from the weborders listings: products
/// (`/weborders/products/`), modifier classes with their modifiers (`/weborders/modifiers/`) and
/// categories (`/weborders/product_categories/`), each with `establishment={id}` and Revel's
/// `limit`/`offset` paging (`meta.next`). Only what is on the establishment's "Online" custom menu is
/// listed there, which is what an ordering channel may sell.
extension RevelConnector: MenuImporting {
    /// Revel's largest page.
    public static let menuPageSize = 250

    /// The weborders listings, in the order they are read: the key the pure mapping takes each under and its path.
    static let menuListings: [(key: String, path: String)] = [
        ("products", "/weborders/products/"), ("modifiers", "/weborders/modifiers/"), ("product_categories", "/weborders/product_categories/"),
    ]

    public func importMenu(_ request: POSMenuRequest) async throws(ConnectorFailure) -> ImportedMenu {
        let establishment = try Self.establishment(settings: request.settings, externalOutletId: request.externalOutletId)
        var listings: [(String, JSONValue)] = []
        for (key, path) in Self.menuListings {
            let elements = try await menuListing(request.access, path: path, establishment: establishment)
            listings.append((key, .array(elements)))
        }
        return try Self.importedMenu(.object(listings), currency: request.currency)
    }

    /// The establishment to read: `settings.establishmentId` (what dispatch sends carts to), else the
    /// outlet's Revel id (`externalOutletId`, what `remoteOutlets` lists). Revel's ids are integers.
    static func establishment(settings: JSONValue, externalOutletId: String) throws(ConnectorFailure) -> Int64 {
        let configured = MenuImport.integer(settings["establishmentId"])
        guard let id = configured ?? Int64(externalOutletId), id > 0 else {
            throw ConnectorFailure("no Revel establishment to read the menu of: set settings.establishmentId, or map the outlet to a Revel establishment id (got \"\(externalOutletId)\")")
        }
        return id
    }

    /// Every element of one listing, page after page (`meta.next`, a path on the same host).
    private func menuListing(_ access: ProviderAccess, path: String, establishment: Int64) async throws(ConnectorFailure) -> [JSONValue] {
        let step = "Revel \(path)"
        var elements: [JSONValue] = []
        var next: String? = "\(path)?establishment=\(establishment)&limit=\(Self.menuPageSize)&offset=0"
        for _ in 0..<MenuImport.maxPages {
            guard let page = next else { return elements }
            let json = try await exchange.menuCall(.GET, access.baseUrl + page, access: access, authorize: Self.authorize, step: step,
                                                   errorText: { $0.json?["errorMsg"]?.stringValue })
            // The weborders API reports a refusal as `{"status":"ERROR"}`, sometimes on a 200.
            if json["status"]?.stringValue == "ERROR" {
                throw ConnectorFailure("\(step) answered ERROR: \(json["errorMsg"]?.stringValue ?? "no errorMsg")")
            }
            guard case .array(let found)? = json["data"] ?? json["objects"] else {
                throw ConnectorFailure("\(step) answered without a data list")
            }
            elements += found
            next = json["meta"]?["next"]?.stringValue.flatMap { $0.hasPrefix("/") ? Self.relative($0, to: access.baseUrl) : nil }
        }
        if next == nil { return elements }
        throw ConnectorFailure("\(step) still had a next page after \(MenuImport.maxPages) pages")
    }

    /// The menu in our terms from the weborders listings (`{"products":[…],"modifiers":[…],"product_categories":[…]}`,
    /// each the concatenated `data` of its pages). Pure: the golden tests pin it.
    ///
    /// A product's PLU is its `sku`; its category the name of the category its `category` id names. A
    /// modifier class is a modifier group (`min`/`max` as its selection bounds, a `max` of 0 meaning none),
    /// its `modifiers` the options. Entries marked `active: false` are left out, and so are a product's
    /// references to classes the listing does not have. Duplicate ids (a page boundary that moved
    /// while reading) keep the first.
    public static func importedMenu(_ listings: JSONValue, currency: Currency) throws(ConnectorFailure) -> ImportedMenu {
        var categories: [String: String] = [:]
        for (index, category) in try MenuImport.array(listings["product_categories"], field: "product_categories").enumerated() {
            guard let id = category["id"]?.idText else { throw ConnectorFailure("Revel product_categories[\(index)] has no id") }
            if categories[id] == nil, let name = MenuImport.text(category["name"]) { categories[id] = name }
        }

        var groups: [ImportedMenu.ModifierGroup] = []
        var groupIds = Set<String>()
        for (index, modifierClass) in try MenuImport.array(listings["modifiers"], field: "modifiers").enumerated() {
            let field = "Revel modifiers[\(index)]"
            guard let id = modifierClass["id"]?.idText else { throw ConnectorFailure("\(field) has no id") }
            guard modifierClass["active"] != .bool(false), groupIds.insert(id).inserted else { continue }
            var options: [ImportedMenu.ModifierGroup.Option] = []
            var optionIds = Set<String>()
            let listed = try MenuImport.optionalArray(modifierClass["modifiers"], field: "\(field).modifiers")
            for (optionIndex, modifier) in listed.enumerated() {
                let optionField = "\(field).modifiers[\(optionIndex)]"
                guard let optionId = modifier["id"]?.idText else { throw ConnectorFailure("\(optionField) has no id") }
                guard modifier["active"] != .bool(false), optionIds.insert(optionId).inserted else { continue }
                options.append(.init(externalId: optionId, name: MenuImport.text(modifier["name"]) ?? optionId,
                                     price: try MenuImport.price(modifier["price"], currency: currency, field: "\(optionField).price"),
                                     plu: MenuImport.text(modifier["sku"])))
            }
            let maximum = MenuImport.count(MenuImport.first(modifierClass, "max", "maximum"))
            groups.append(.init(externalId: id, name: MenuImport.text(modifierClass["name"]) ?? id, options: options,
                                minSelections: MenuImport.count(MenuImport.first(modifierClass, "min", "minimum")),
                                maxSelections: maximum == 0 ? nil : maximum))
        }

        var products: [ImportedMenu.Product] = []
        var productIds = Set<String>()
        for (index, product) in try MenuImport.array(listings["products"], field: "products").enumerated() {
            let field = "Revel products[\(index)]"
            guard let id = product["id"]?.idText else { throw ConnectorFailure("\(field) has no id") }
            guard product["active"] != .bool(false), productIds.insert(id).inserted else { continue }
            let classes = try MenuImport.optionalArray(product["modifier_classes"], field: "\(field).modifier_classes")
            // A class appears as its id or as an object carrying it.
            var linked: [String] = []
            for reference in classes {
                guard let classId = reference.idText ?? reference["id"]?.idText, groupIds.contains(classId), !linked.contains(classId) else { continue }
                linked.append(classId)
            }
            products.append(.init(externalId: id, plu: MenuImport.text(product["sku"]), name: MenuImport.text(product["name"]) ?? id,
                                  price: try MenuImport.price(product["price"], currency: currency, field: "\(field).price"),
                                  modifierGroupIds: linked, category: categoryId(product["category"]).flatMap { categories[$0] }))
        }
        return ImportedMenu(products: products, modifierGroups: groups)
    }

    /// A product's `category`: an id, an object with one, or a resource URI ending in one (`/products/ProductCategory/12/`).
    static func categoryId(_ node: JSONValue?) -> String? {
        guard let node else { return nil }
        if let uri = node.stringValue, uri.hasPrefix("/") {
            return uri.split(separator: "/").last.map(String.init)
        }
        return node.idText ?? node["id"]?.idText
    }
}
