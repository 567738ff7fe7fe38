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
            for (key, map) in [("productMap", mapping.products), ("modifierMap", mapping.modifiers)] {
                if let bad = map.first(where: { $0.value.integerValue == nil }) {
                    throw ValidationError(field: "settings.\(key).\(bad.key)", message: "must be a Revel id: an integer")
                }
            }
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
