import Crypto
import Foundation
import NIOHTTP1
import PosDomain

/// Lightspeed Restaurant K-Series, Order & Pay API (README, "Lightspeed K-Series"; ADR 0011).
///
/// - Auth: OAuth 2 authorization code. The merchant approves our client once
///   (`GET /api/v1/provider-connections/lightspeed/oauth/start` → `{baseUrl}/oauth/authorize`, back to
///   our callback); tokens come from `{baseUrl}/oauth/token`, access tokens live 60 minutes, refresh
///   tokens 14 days and are single-use (the credential provider spends each once across replicas).
/// - Before the first order, our status endpoint is registered once per connection with
///   `PUT /o/wh/1/webhook`; its `endpointId` is kept in the connection's `config`.
/// - Orders: `POST /o/op/1/order/toGo` (pickup, delivery) or `/o/op/1/order/local` (dine-in), items by
///   SKU, money as JSON numbers in major units, our order uuid as `thirdPartyReference` (Lightspeed
///   refuses a reused one with 409, which after a lost answer means it already has the order).
///   `{"status":"ok"}` only means received: acceptance arrives by webhook.
/// - Status webhooks: `{"type":"ORDER","status",…}`, optionally with HTTP Basic.
public struct LightspeedConnector: OrderDispatching, ConnectionTesting, RemoteOutletListing {
    public let slug = "lightspeed"
    private let exchange: POSExchange

    public init(exchange: POSExchange) {
        self.exchange = exchange
    }

    /// How long Lightspeed keeps trying to hand an order to the POS before it reports `FAILURE` (ms;
    /// Lightspeed's minimum is 60 000 and it recommends setting it).
    public static let maxTimeToAttemptOrderDeliverToPosMs: Int64 = 900_000
    /// Lightspeed's limits on `thirdPartyReference` and `sku`.
    public static let maxReferenceLength = 48
    public static let maxSkuLength = 25
    /// The scope ordering needs.
    public static let scope = "orders-api"

    // MARK: Settings and config

    /// Per-outlet settings (`PUT /outlet-providers/{outletId}`).
    public struct Settings: Sendable {
        public var mapping: ProductMapping
        /// Lightspeed's business location (int64) the orders go to.
        public var businessLocationId: Int64
        /// The order profile (`accountProfileCode`), when the merchant wants one other than the default.
        public var accountProfileCode: String?
        /// The merchant's payment method code for our payments (`OOPAYMENT`…); omitted: Lightspeed's default.
        public var paymentMethod: String?

        static let keys = ProductMapping.keys.union(["businessLocationId", "accountProfileCode", "paymentMethod"])

        public init(_ settings: JSONValue) throws(ValidationError) {
            let reader = SettingsReader(settings)
            try reader.rejectUnknownKeys(allowed: Self.keys)
            mapping = try ProductMapping(reader)
            businessLocationId = try reader.integer("businessLocationId", required: true)!
            guard businessLocationId > 0 else {
                throw ValidationError(field: "settings.businessLocationId", message: "must be a positive Lightspeed business location id")
            }
            accountProfileCode = try reader.string("accountProfileCode", required: false)
            paymentMethod = try reader.string("paymentMethod", required: false)
            for (id, sku) in mapping.products {
                guard let text = sku.stringValue, !text.isEmpty, text.count <= LightspeedConnector.maxSkuLength else {
                    throw ValidationError(field: "settings.productMap.\(id)",
                                          message: "must be a Lightspeed SKU: a string of 1 to \(LightspeedConnector.maxSkuLength) characters")
                }
            }
            for (id, target) in mapping.modifiers {
                guard let text = target.stringValue, !text.isEmpty, text.count <= LightspeedConnector.maxSkuLength else {
                    throw ValidationError(field: "settings.modifierMap.\(id)",
                                          message: "must be a string: a production instruction's modifierId, or a SKU for a priced option")
                }
            }
            if let fee = mapping.deliveryFeeProduct {
                guard let text = fee.stringValue, !text.isEmpty, text.count <= LightspeedConnector.maxSkuLength else {
                    throw ValidationError(field: "settings.deliveryFeeProductId", message: "must be a Lightspeed SKU: a string")
                }
            }
        }
    }

    public func validate(settings: JSONValue) throws(ValidationError) {
        _ = try Settings(settings)
    }

    /// The connection's `config`: `redirectUri` (our OAuth callback as registered with Lightspeed),
    /// `webhookUsername` (the HTTP Basic user Lightspeed sends when the connection has a
    /// `webhookSecret`; default `cata`), and `endpointId`, which the connector writes itself once it
    /// registered our webhook endpoint.
    public struct Config: Sendable, Equatable {
        public var redirectUri: String
        public var webhookUsername: String
        public var endpointId: String?

        public static let defaultWebhookUsername = "cata"

        public init(_ config: JSONValue) throws(ValidationError) {
            let reader = SettingsReader(config, path: "config")
            try reader.rejectUnknownKeys(allowed: ["redirectUri", "webhookUsername", "endpointId"], kind: "a config key the lightspeed connector knows")
            guard let uri = try reader.string("redirectUri", required: true), let url = URL(string: uri),
                  let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http", url.host != nil
            else {
                throw ValidationError(field: "config.redirectUri", message: "must be the absolute https URL of our OAuth callback as registered with Lightspeed")
            }
            redirectUri = uri
            webhookUsername = try reader.string("webhookUsername", required: false) ?? Self.defaultWebhookUsername
            guard !webhookUsername.contains(":") else {
                throw ValidationError(field: "config.webhookUsername", message: "must not contain a colon (HTTP Basic)")
            }
            endpointId = try reader.string("endpointId", required: false)
        }
    }

    public func validate(config: JSONValue) throws(ValidationError) {
        _ = try Config(config)
    }

    public func credentialScheme(config: JSONValue, baseUrl: String) -> CredentialScheme {
        .oauth2AuthorizationCode(tokenURL: Self.trimmed(baseUrl) + "/oauth/token")
    }

    static func trimmed(_ baseUrl: String) -> String {
        baseUrl.hasSuffix("/") ? String(baseUrl.dropLast()) : baseUrl
    }

    /// Where the merchant approves our client (`response_type=code`, the `orders-api` scope).
    public static func authorizeURL(baseUrl: String, clientId: String, redirectUri: String, state: String) -> String {
        let query = [("response_type", "code"), ("client_id", clientId), ("redirect_uri", redirectUri), ("scope", scope), ("state", state)]
            .map { "\($0.0)=\(OAuthTokenEndpoint.formEncoded($0.1))" }.joined(separator: "&")
        return "\(trimmed(baseUrl))/oauth/authorize?\(query)"
    }

    // MARK: Mapping

    /// `toGo` for pickup and delivery, `local` for dine-in.
    public static func orderPath(_ deliveryMethod: String) -> String {
        switch deliveryMethod.uppercased().filter(\.isLetter) {
        case "DINEIN", "EATIN", "LOCAL": "/o/op/1/order/local"
        default: "/o/op/1/order/toGo"
        }
    }

    /// The create-order body for a Cata order and the registered `endpointId`. Pure: the golden tests pin it.
    ///
    /// Lines go by SKU with their unit price as `customItemPrice` (the guest paid our price). A mapped
    /// option that costs nothing is a production instruction (`modifiers[].modifierId`); a mapped
    /// option with a price is a product of its own, a `subItems` entry by SKU with its unit price and
    /// its quantity per parent unit. Free unmapped options are named in `orderNote`. The delivery fee is
    /// a line by `deliveryFeeProductId` when set, else only in the payment. `payment.paymentAmount`
    /// includes the tip, as Lightspeed counts it; `tipAmount` names the tip.
    public static func orderBody(_ order: CataOrder, settings: Settings, endpointId: String) throws(ValidationError) -> JSONValue {
        guard !order.uuid.isEmpty, order.uuid.count <= maxReferenceLength else {
            throw ValidationError(field: "order.uuid", message: "must be 1 to \(maxReferenceLength) characters: it is Lightspeed's thirdPartyReference")
        }
        var items: [JSONValue] = []
        var notes: [String] = []
        for (index, item) in order.items.enumerated() {
            let sku = try settings.mapping.product(for: item, at: index)
            var instructions: [JSONValue] = []
            var subItems: [JSONValue] = []
            for (modifierIndex, modifier) in item.modifiers.enumerated() {
                guard let target = try settings.mapping.modifier(for: modifier, item: index, index: modifierIndex) else { continue }
                if modifier.price.minorUnits == 0 {
                    instructions.append(.object([("modifierId", target)]))
                } else {
                    subItems.append(.object([
                        ("quantity", .integer(modifier.quantity)),
                        ("sku", target),
                        ("customItemPrice", .decimal(modifier.price)),
                    ]))
                }
            }
            var line: [(String, JSONValue)] = [
                ("quantity", .integer(item.quantity)),
                ("sku", sku),
                ("customItemPrice", .decimal(item.itemOnlyPrice)),
            ]
            if !instructions.isEmpty { line.append(("modifiers", .array(instructions))) }
            if !subItems.isEmpty { line.append(("subItems", .array(subItems))) }
            items.append(.object(line))
            if let note = settings.mapping.note(for: item) { notes.append("\(item.name): \(note)") }
        }
        if order.deliveryFee.minorUnits > 0, let feeSku = settings.mapping.deliveryFeeProduct {
            items.append(.object([("quantity", .integer(1)), ("sku", feeSku), ("customItemPrice", .decimal(order.deliveryFee))]))
        }
        let paid: Money
        do {
            paid = try order.payment.amount.plus(order.payment.tip)
        } catch {
            throw ValidationError(field: "order.payment.tip", message: "makes the amount paid larger than the largest amount this service can represent")
        }
        var payment: [(String, JSONValue)] = []
        if let method = settings.paymentMethod { payment.append(("paymentMethod", .string(method))) }
        payment.append(("paymentAmount", .decimal(paid)))
        payment.append(("tipAmount", .decimal(order.payment.tip)))

        var body: [(String, JSONValue)] = [
            ("businessLocationId", .integer(settings.businessLocationId)),
            ("thirdPartyReference", .string(order.uuid)),
            ("endpointId", .string(endpointId)),
            ("customerInfo", .object([("firstName", .string("Cata")), ("lastName", .string(order.dailyQueueNo.isEmpty ? order.orderRefNo : order.dailyQueueNo))])),
            ("orderNote", .string((["Cata order \(order.orderRefNo)"] + notes).joined(separator: "; "))),
            ("maxTimeToAttemptOrderDeliverToPos", .integer(maxTimeToAttemptOrderDeliverToPosMs)),
        ]
        if let code = settings.accountProfileCode { body.append(("accountProfileCode", .string(code))) }
        if !order.dailyQueueNo.isEmpty, order.dailyQueueNo.count <= 8 { body.append(("collectionCode", .string(order.dailyQueueNo))) }
        body.append(("items", .array(items)))
        body.append(("payment", .object(payment)))
        return .object(body)
    }

    // MARK: Exchanges

    /// Where earlier attempts got to: `orderSent` once the create call is about to go out, so a 409
    /// "reference has already been used" on a later attempt is known to be our own earlier order.
    public struct Progress: Sendable, Equatable {
        public var orderSent: Bool

        public init(_ value: JSONValue?) {
            orderSent = value?["orderSent"] == .bool(true)
        }

        public var json: JSONValue { .object([("orderSent", .bool(orderSent))]) }
    }

    static let bearer: @Sendable (Credential) -> [(String, String)] = { credential in
        switch credential {
        case .accessToken(let token): [("Authorization", "Bearer \(token)")]
        case .staticKey(let key, _): [("Authorization", "Bearer \(key)")]
        }
    }

    /// Our endpoint id for a connection: derived from its inbound URL, so two replicas registering at
    /// once register the same endpoint.
    static func endpointId(forWebhookUrl url: String) -> String {
        "cata-" + String(Hex.encode(SHA256.hash(data: Array(url.utf8))).prefix(24))
    }

    /// The body of `PUT /o/wh/1/webhook`.
    public static func webhookBody(endpointId: String, url: String, username: String, password: String?) -> JSONValue {
        var body: [(String, JSONValue)] = [("endpointId", .string(endpointId)), ("url", .string(url))]
        if let password {
            body.append(contentsOf: [("withBasicAuth", .bool(true)), ("username", .string(username)), ("password", .string(password))])
        } else {
            body.append(("withBasicAuth", .bool(false)))
        }
        body.append(contentsOf: [
            ("provideAccount", .bool(true)), ("expandTransactions", .bool(false)), ("expandPayments", .bool(false)),
            ("subscribeTo", .array([.object([("name", .string("DELIVERED")), ("resource", .string("order"))])])),
        ])
        return .object(body)
    }

    /// The registered endpoint, registering it first when the connection has none yet.
    enum EndpointStep {
        /// The endpoint id, and the time its registration took (0 when it was known).
        case ready(String, Int64)
        case failed(ConnectorOutcome)
    }

    private func ensureEndpoint(_ access: ProviderAccess, config: Config) async -> EndpointStep {
        if let known = config.endpointId { return .ready(known, 0) }
        guard !access.webhookUrl.isEmpty else {
            return .failed(.failed(.configuration, "the lightspeed connection has no webhookUrl: set it to the connection's inboundUrl so Lightspeed can report order status",
                                    retryable: false))
        }
        let id = Self.endpointId(forWebhookUrl: access.webhookUrl)
        let body = Self.webhookBody(endpointId: id, url: access.webhookUrl, username: config.webhookUsername, password: access.webhookSecret)
        let answer: POSExchange.Answer
        switch await exchange.send(.PUT, access.baseUrl + "/o/wh/1/webhook", access: access, authorize: Self.bearer, json: body) {
        case .failure(let failure): return .failed(failure.outcome)
        case .success(let value): answer = value
        }
        // 409: this endpoint id exists already (another replica registered it a moment ago).
        guard answer.succeeded || answer.response.status == 409 else {
            return .failed(.refused(answer, step: "Lightspeed webhook registration", message: Self.errorText(answer), durationMs: answer.durationMs))
        }
        do {
            try await access.rememberConfig?("endpointId", .string(id))
        } catch {
            return .failed(.checkpointFailed(error, durationMs: answer.durationMs))
        }
        return .ready(id, answer.durationMs)
    }

    public func dispatch(_ request: POSDispatch) async -> ConnectorOutcome {
        let settings: Settings
        let config: Config
        do {
            settings = try Settings(request.settings)
            config = try Config(request.access.config)
            // Mapped before anything is sent, so a mapping error registers nothing.
            _ = try Self.orderBody(request.order, settings: settings, endpointId: "-")
        } catch {
            return .mappingFailed(error)
        }
        let access = request.access
        var spent: Int64 = 0
        let endpointId: String
        switch await ensureEndpoint(access, config: config) {
        case .failed(let outcome): return outcome
        case .ready(let id, let took):
            endpointId = id
            spent += took
        }
        let body: JSONValue
        do {
            body = try Self.orderBody(request.order, settings: settings, endpointId: endpointId)
        } catch {
            return .mappingFailed(error)
        }
        var progress = Progress(request.progress)
        let sentBefore = progress.orderSent
        if !sentBefore {
            progress.orderSent = true
            do {
                try await request.checkpoint(progress.json)
            } catch {
                return .checkpointFailed(error, durationMs: spent)
            }
        }
        let answer: POSExchange.Answer
        switch await exchange.send(.POST, access.baseUrl + Self.orderPath(request.order.deliveryMethod), access: access, authorize: Self.bearer, json: body) {
        case .failure(let failure): return failure.outcome.taking(spent + failure.outcome.durationMs)
        case .success(let value): answer = value
        }
        spent += answer.durationMs
        if answer.succeeded {
            guard answer.json?["status"]?.stringValue == "ok" else {
                return .unexpectedAnswer(answer, step: "Lightspeed create order", expected: #"{"status":"ok"}"#, durationMs: spent)
            }
            return .accepted(answer, externalOrderId: nil,
                             summary: "Lightspeed received thirdPartyReference \(request.order.uuid); acceptance follows by webhook", durationMs: spent)
        }
        if answer.response.status == 409, sentBefore, Self.isReusedReference(answer) {
            // An earlier attempt's order reached Lightspeed and its answer was lost: it has the order.
            return .accepted(answer, externalOrderId: nil,
                             summary: "Lightspeed already had thirdPartyReference \(request.order.uuid) (409 on a retry: received earlier)",
                             durationMs: spent)
        }
        return .refused(answer, step: "Lightspeed create order", message: Self.errorText(answer), durationMs: spent)
    }

    /// 409 `{"status":"fail","msg":"reference has already been used …"}`.
    static func isReusedReference(_ answer: POSExchange.Answer) -> Bool {
        (answer.json?["msg"]?.stringValue ?? answer.json?["message"]?.stringValue)?.lowercased().contains("already been used") == true
    }

    /// Lightspeed's error text: Spring's 400 (`message` plus `errors[].field`/`defaultMessage`), its
    /// `{"status":"fail","msg"}`, or `{"message","apiSubExceptions":[{field,message}]}`.
    static func errorText(_ answer: POSExchange.Answer) -> String? {
        guard let json = answer.json else { return nil }
        let message = json["msg"]?.stringValue ?? json["message"]?.stringValue ?? json["error"]?.stringValue
        var fields: [String] = []
        for key in ["errors", "apiSubExceptions"] {
            if case .array(let entries)? = json[key] {
                fields += entries.compactMap { entry in
                    entry["field"]?.stringValue.map { "\($0): \((entry["defaultMessage"] ?? entry["message"])?.stringValue ?? "")" }
                }
            }
        }
        guard let message else { return fields.isEmpty ? nil : fields.joined(separator: "; ") }
        return fields.isEmpty ? message : "\(message) (\(fields.joined(separator: "; ")))"
    }

    // MARK: Discovery and the connection test

    /// `GET /o/op/data/businesses`: `[{id, name, businessLocations: [{id, name}]}]`.
    private func businesses(_ access: ProviderAccess) async throws(ConnectorFailure) -> [(business: String, id: String, name: String)] {
        let json = try await exchange.menuCall(.GET, access.baseUrl + "/o/op/data/businesses", access: access, authorize: Self.bearer,
                                               step: "Lightspeed businesses", errorText: Self.errorText)
        guard case .array(let list) = json else { throw ConnectorFailure("Lightspeed businesses answered without a list") }
        var locations: [(String, String, String)] = []
        for business in list {
            let businessName = business["name"]?.stringValue ?? business["id"]?.idText ?? "?"
            guard case .array(let entries)? = business["businessLocations"] else { continue }
            for location in entries {
                guard let id = location["id"]?.idText else { throw ConnectorFailure("a Lightspeed business location has no id") }
                locations.append((businessName, id, location["name"]?.stringValue ?? id))
            }
        }
        return locations
    }

    public func remoteOutlets(_ access: ProviderAccess) async throws(ConnectorFailure) -> [RemoteOutlet] {
        try await businesses(access).map { RemoteOutlet(id: $0.id, name: "\($0.business) — \($0.name)", address: nil) }
    }

    /// Lists the business locations and reads `onlineOrderReadiness` for each (the first ten): a
    /// location that is `NOT_READY` fails the test, with what Lightspeed says about it.
    public func testConnection(_ access: ProviderAccess) async -> ConnectionTestResult {
        do throws(ConnectorFailure) {
            let locations = try await businesses(access)
            guard !locations.isEmpty else { return ConnectionTestResult(success: false, message: "Lightspeed lists no business locations for this client") }
            var lines: [String] = []
            var ready = true
            for location in locations.prefix(10) {
                let json = try await exchange.menuCall(
                    .GET, access.baseUrl + "/o/op/1/onlineOrderReadiness?businessLocationId=\(OAuthTokenEndpoint.formEncoded(location.id))",
                    access: access, authorize: Self.bearer, step: "Lightspeed onlineOrderReadiness", errorText: Self.errorText)
                let status = json["status"]?.stringValue ?? "UNKNOWN"
                if status != "READY" { ready = false }
                var detail = "\(location.name) (\(location.id)): \(status)"
                if status != "READY" {
                    var why: [String] = []
                    if json["onlineOrderingApiConfiguration"]?["enabled"] == .bool(false) { why.append("online ordering API not enabled") }
                    if let period = json["posStatus"]?["salesPeriod"]?.stringValue { why.append("salesPeriod \(period)") }
                    if json["posStatus"]?["acceptingOnlineOrders"] == .bool(false) { why.append("not accepting online orders") }
                    if !why.isEmpty { detail += " — " + why.joined(separator: ", ") }
                }
                lines.append(detail)
            }
            return ConnectionTestResult(success: ready, message: "Lightspeed online ordering readiness: " + lines.joined(separator: "; "))
        } catch {
            return ConnectionTestResult(success: false, message: error.message)
        }
    }
}

// MARK: Inbound webhooks

/// Lightspeed's order notifications: `{"type":"ORDER","status","thirdPartyReference",
/// "businessLocationId","ikentooAccountIdentifier","reason"?,"account"?}`; amounts inside `account`
/// are decimal strings. Authenticated by HTTP Basic when the connection has a `webhookSecret` (the
/// password we registered, user `config.webhookUsername`), compared in constant time; without one
/// the connection token in the URL is the only proof, as Lightspeed sends nothing else.
extension LightspeedConnector: InboundStatusReceiving {
    public func readInbound(_ webhook: InboundWebhook, webhookSecret: String?) throws(InboundWebhookRejection) -> InboundWebhookReading {
        if let secret = webhookSecret, !secret.isEmpty {
            let username = (try? Config(webhook.config))?.webhookUsername ?? Config.defaultWebhookUsername
            guard let header = webhook.header("Authorization")?.trimmingCharacters(in: .whitespaces), !header.isEmpty else {
                throw .unverified("Authorization is missing")
            }
            guard header.count > 6, header.prefix(6).lowercased() == "basic ",
                  let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces))
            else { throw .unverified("Authorization is not HTTP Basic") }
            let expected = Array("\(username):\(secret)".utf8)
            guard ConstantTime.equals(Array(decoded), expected) else {
                throw .unverified("the Basic credentials do not match this connection's webhookUsername and webhookSecret")
            }
        }
        return try Self.read(webhook.body)
    }

    /// A Lightspeed order status in our words; nil for one with no equivalent (`CHECK_WAS_UPDATED`, `ABANDONED`).
    static func status(_ status: String) -> OrderStatus? {
        switch status {
        case "SUCCESS": .accepted
        case "FAILURE": .rejected
        case "READY_FOR_PICKUP": .ready
        case "IN_DELIVERY": .driverPickedUp
        case "CLOSED", "DELIVERED": .completed
        case "CANCELLED": .cancelled
        default: nil
        }
    }

    /// What a verified body says. Pure.
    public static func read(_ body: [UInt8]) throws(InboundWebhookRejection) -> InboundWebhookReading {
        guard let parsed = try? JSONParser.parse(body), case .object = parsed.kind else {
            throw .unreadable(ValidationError(field: "body", message: "must be a JSON object"))
        }
        let json = JSONValue(parsed)
        guard let type = json["type"]?.stringValue, !type.isEmpty else {
            throw .unreadable(ValidationError(field: "type", message: "is required"))
        }
        guard type == "ORDER" else { return .ignored(reason: "Lightspeed \(type) notification carries no order status") }
        guard let status = json["status"]?.stringValue, !status.isEmpty else {
            throw .unreadable(ValidationError(field: "status", message: "is required"))
        }
        guard let reference = json["thirdPartyReference"]?.stringValue, !reference.isEmpty else {
            throw .unreadable(ValidationError(field: "thirdPartyReference", message: "is required: it names our order"))
        }
        // Amounts are decimal strings; one that is not is a body we do not understand.
        if let account = json["account"], case .object = account {
            for key in ["paidAmount", "currentAmount", "serviceCharge"] {
                guard let node = account[key], node != .null else { continue }
                guard let text = node.stringValue, Decimal(string: text) != nil else {
                    throw .unreadable(ValidationError(field: "account.\(key)", message: "must be a decimal string"))
                }
            }
        }
        let accountId = (json["ikentooAccountIdentifier"] ?? json["ikentooAccountId"] ?? json["iKentooAccountId"])?.idText
        let mapped = Self.status(status)
        return .statusUpdates([OrderStatusUpdate(
            externalOrderId: accountId, orderUUID: reference, status: mapped, posStatus: status, occurredAt: nil,
            reason: mapped == .rejected || mapped == .cancelled ? json["reason"]?.stringValue : nil)])
    }
}
