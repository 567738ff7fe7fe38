import Crypto
import Foundation
import NIOHTTP1
import PosDomain

/// Deliverect's Channel API, with us as the ordering channel (README, "Deliverect"; ADR 0010).
///
/// - Auth: OAuth 2 client credentials, `POST {baseUrl}/oauth/token` with a JSON body; the token is
///   kept (sealed) until its `expires_at` and fetched by one caller at a time across replicas — the
///   service's ``CredentialScheme/oauth2JSONClientCredentials(tokenURL:audience:)``.
/// - Orders: `POST {baseUrl}/{channelName}/order/{channelLinkId}`, money in integer minor units with
///   `decimalDigits`. `201 {}` means *received*, not accepted: the order stays as it is until the status
///   webhook says the POS accepted it.
/// - Cancel: the same URL with `status: 100`; the POS confirms with 110 on the status webhook.
/// - Status webhooks: signed with hex HMAC-SHA256 of the raw body in `x-server-authorization-hmac-sha256`;
///   the channel registration webhook (`status: "register"`) is answered with our URLs.
public struct DeliverectConnector: OrderDispatching, OrderCancelling, ConnectionTesting {
    public let slug = "deliverect"
    private let exchange: POSExchange

    public init(exchange: POSExchange) {
        self.exchange = exchange
    }

    /// The signature header of every webhook Deliverect sends.
    public static let signatureHeader = "x-server-authorization-hmac-sha256"
    /// The channel's cancel request (`status` on the order URL).
    public static let cancelStatus = 100

    /// Per-outlet settings (`PUT /outlet-providers/{outletId}`).
    public struct Settings: Sendable {
        public var mapping: ProductMapping
        /// The location's channel link (the `{channelLinkId}` of the order path).
        public var channelLinkId: String
        /// Who delivers: `"restaurant"` (the location or its dispatch partner, Deliverect's default here)
        /// or any other string naming the channel's own courier.
        public var courier: String

        static let keys: Set<String> = ["productMap", "modifierMap", "channelLinkId", "courier"]

        public init(_ settings: JSONValue) throws(ValidationError) {
            let reader = SettingsReader(settings)
            try reader.rejectUnknownKeys(allowed: Self.keys)
            mapping = try ProductMapping(reader)
            channelLinkId = try reader.string("channelLinkId", required: true)!
            courier = try reader.string("courier", required: false) ?? "restaurant"
            guard channelLinkId.utf8.allSatisfy(DeliverectConnector.isPathCharacter) else {
                throw ValidationError(field: "settings.channelLinkId", message: "must be Deliverect's channel link id (letters, digits, - and _)")
            }
            try mapping.requireIds("a Deliverect PLU: a string") { $0.stringValue != nil }
        }
    }

    public func validate(settings: JSONValue) throws(ValidationError) {
        _ = try Settings(settings)
    }

    /// The connection's `config`: `channelName` (the lowercase scope Deliverect issued) and `audience`
    /// (the token's audience; the connection's `baseUrl` when absent).
    public struct Config: Sendable, Equatable {
        public var channelName: String
        public var audience: String?

        public init(_ config: JSONValue) throws(ValidationError) {
            let reader = SettingsReader(config, path: "config")
            try reader.rejectUnknownKeys(allowed: ["channelName", "audience"], kind: "a config key the deliverect connector knows")
            guard let name = try reader.string("channelName", required: true) else {
                throw ValidationError(field: "config.channelName", message: "is required")
            }
            guard name.utf8.allSatisfy(DeliverectConnector.isPathCharacter), name == name.lowercased() else {
                throw ValidationError(field: "config.channelName", message: "must be the lowercase channel scope Deliverect issued (letters, digits, - and _)")
            }
            channelName = name
            audience = try reader.string("audience", required: false)
        }
    }

    public func validate(config: JSONValue) throws(ValidationError) {
        _ = try Config(config)
    }

    /// Client credentials as JSON at `{baseUrl}/oauth/token`, the audience `config.audience` or the base URL.
    public func credentialScheme(config: JSONValue, baseUrl: String) -> CredentialScheme {
        let base = baseUrl.hasSuffix("/") ? String(baseUrl.dropLast()) : baseUrl
        let audience = (try? Config(config))?.audience ?? base
        return .oauth2JSONClientCredentials(tokenURL: base + "/oauth/token", audience: audience)
    }

    static func isPathCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "-"), UInt8(ascii: "_"): true
        default: false
        }
    }

    // MARK: Mapping

    /// Cata `deliveryMethod` → Deliverect `orderType`: 1 pickup, 2 delivery, 3 eat-in, 4 curbside, 5 drive-thru.
    public static func orderType(_ deliveryMethod: String) -> Int {
        switch deliveryMethod.uppercased().filter(\.isLetter) {
        case "DELIVERY": 2
        case "DINEIN", "EATIN", "LOCAL": 3
        case "CURBSIDE", "CURBSIDEPICKUP": 4
        case "DRIVETHRU", "DRIVETHROUGH": 5
        default: 1
        }
    }

    /// A UTC time as Deliverect writes it: `yyyy-MM-ddTHH:mm:ssZ`.
    static func utc(_ milliseconds: Int64) -> String {
        String(RFC3339.format(milliseconds: milliseconds).prefix(19)) + "Z"
    }

    /// `payment.type`: 0 paid online by card, 1 cash.
    static func paymentType(_ method: String) -> Int {
        method.uppercased() == "CASH" ? 1 : 0
    }

    /// The create-order body for a Cata order. Pure: the golden tests pin it.
    ///
    /// Every amount is an integer in the currency's minor units, `decimalDigits` says how many (3 for
    /// KWD). A line's `price` is its unit price without modifiers; mapped modifiers are `subItems` with
    /// their unit price and their quantity per parent unit; free unmapped modifiers go into the line's
    /// `remark`. `payment.amount` is what the guest paid: the order total plus the tip, which is also
    /// sent as `tip`, so the items, `deliveryCost`, `serviceCharge`, `tip` and `discountTotal` add up to it.
    public static func orderBody(_ order: CataOrder, settings: Settings) throws(ValidationError) -> JSONValue {
        var lines: [JSONValue] = []
        for (index, item) in order.items.enumerated() {
            let plu = try settings.mapping.product(for: item, at: index)
            var subItems: [JSONValue] = []
            for (modifierIndex, modifier) in item.modifiers.enumerated() {
                guard let modifierPlu = try settings.mapping.modifier(for: modifier, item: index, index: modifierIndex) else { continue }
                subItems.append(.object([
                    ("plu", modifierPlu), ("name", .string(modifier.modifierOptionName)),
                    ("price", .integer(modifier.price.minorUnits)), ("quantity", .integer(modifier.quantity)), ("subItems", .array([])),
                ]))
            }
            var line: [(String, JSONValue)] = [
                ("plu", plu), ("name", .string(item.name)), ("price", .integer(item.itemOnlyPrice.minorUnits)), ("quantity", .integer(item.quantity)),
            ]
            if let remark = settings.mapping.note(for: item) { line.append(("remark", .string(remark))) }
            line.append(("subItems", .array(subItems)))
            lines.append(.object(line))
        }
        let paid: Money
        do {
            paid = try order.payment.amount.plus(order.payment.tip)
        } catch {
            throw ValidationError(field: "order.payment.tip", message: "makes the amount paid larger than the largest amount this service can represent")
        }
        // Deliverect writes a discount as a negative amount.
        guard order.discountTotal.minorUnits != Int64.min else {
            throw ValidationError(field: "order.discountTotal", message: "is larger than the largest amount this service can represent")
        }
        let discount = -abs(order.discountTotal.minorUnits)
        let placed = utc(order.createdAt)
        let display = order.dailyQueueNo.isEmpty ? order.orderRefNo : order.dailyQueueNo
        return .object([
            ("channelOrderId", .string(order.uuid)),
            ("channelOrderDisplayId", .string(display)),
            ("orderType", .integer(Int64(orderType(order.deliveryMethod)))),
            ("deliveryIsAsap", .bool(!order.isPreorder)),
            ("placedTime", .string(placed)),
            ("pickupTime", .string(placed)),
            ("estimatedPickupTime", .string(placed)),
            ("courier", .string(settings.courier)),
            ("decimalDigits", .integer(Int64(order.currency.exponent))),
            ("orderIsAlreadyPaid", .bool(true)),
            ("payment", .object([
                ("amount", .integer(paid.minorUnits)), ("type", .integer(Int64(paymentType(order.payment.method)))), ("due", .integer(0)),
            ])),
            ("items", .array(lines)),
            ("deliveryCost", .integer(order.deliveryFee.minorUnits)),
            ("serviceCharge", .integer(order.serviceCharge.minorUnits)),
            ("tip", .integer(order.payment.tip.minorUnits)),
            ("discountTotal", .integer(discount)),
            ("note", .string("Cata order \(order.orderRefNo)")),
        ])
    }

    /// The cancel body: the order named by our reference, `status: 100`.
    public static func cancelBody(orderUUID: String, reason: String?) -> JSONValue {
        var body: [(String, JSONValue)] = [
            ("channelOrderId", .string(orderUUID)), ("channelOrderDisplayId", .string(orderUUID)), ("status", .integer(Int64(cancelStatus))),
        ]
        body.append(("cancellationReason", .string(reason.flatMap { $0.allSatisfy(\.isWhitespace) ? nil : $0 } ?? "Cancelled by the channel")))
        return .object(body)
    }

    // MARK: Exchanges

    static func orderURL(_ access: ProviderAccess, settings: Settings) throws(ValidationError) -> String {
        let config = try Config(access.config)
        return "\(access.baseUrl)/\(POSExchange.pathSegment(config.channelName))/order/\(POSExchange.pathSegment(settings.channelLinkId))"
    }

    static let authorize: @Sendable (Credential) -> [(String, String)] = { credential in
        switch credential {
        case .accessToken(let token): [("Authorization", "Bearer \(token)")]
        case .staticKey(let key, _): [("Authorization", "Bearer \(key)")]
        }
    }

    public func dispatch(_ request: POSDispatch) async -> ConnectorOutcome {
        let body: JSONValue, url: String
        do {
            let settings = try Settings(request.settings)
            body = try Self.orderBody(request.order, settings: settings)
            url = try Self.orderURL(request.access, settings: settings)
        } catch {
            return .mappingFailed(error)
        }
        let answer: POSExchange.Answer
        switch await exchange.send(.POST, url, access: request.access, authorize: Self.authorize, json: body) {
        case .failure(let failure): return failure.outcome
        case .success(let value): answer = value
        }
        guard answer.succeeded else {
            return .refused(answer, step: "Deliverect create order", message: Self.errorText(answer), durationMs: answer.durationMs)
        }
        // 201 {}: received, not accepted. Deliverect names orders by our channelOrderId; the POS's
        // acceptance arrives on the status webhook.
        return .accepted(answer, externalOrderId: request.order.uuid,
                         summary: "Deliverect received channelOrderId \(request.order.uuid) (HTTP \(answer.response.status)); "
                             + "accepted when the POS says so on the status webhook",
                         durationMs: answer.durationMs)
    }

    public func cancel(_ request: POSCancellation) async -> ConnectorOutcome {
        let url: String
        do {
            url = try Self.orderURL(request.order.access, settings: try Settings(request.settings))
        } catch {
            return .mappingFailed(error)
        }
        let body = Self.cancelBody(orderUUID: request.order.orderUUID, reason: request.reason)
        switch await exchange.send(.POST, url, access: request.order.access, authorize: Self.authorize, json: body) {
        case .failure(let failure):
            return failure.outcome
        case .success(let answer):
            guard answer.succeeded else {
                return .refused(answer, step: "Deliverect cancel order", message: Self.errorText(answer), durationMs: answer.durationMs)
            }
            return .accepted(answer, externalOrderId: request.order.externalOrderId,
                             summary: "Deliverect received the cancel request (status 100); the POS confirms with 110", durationMs: answer.durationMs)
        }
    }

    /// Deliverect's error: `{"code","description"}`, or the fields a 400 names
    /// (`{"orderFieldsErrors":{field: message},"orderPaymentErrors":{…}}`).
    static func errorText(_ answer: POSExchange.Answer) -> String? {
        guard let json = answer.json else { return nil }
        var parts: [String] = []
        if let code = json["code"]?.stringValue {
            parts.append([code, json["description"]?.stringValue].compactMap { $0 }.joined(separator: ": "))
        }
        for key in ["orderFieldsErrors", "orderPaymentErrors"] {
            if case .object(let members)? = json[key], !members.isEmpty {
                parts.append("\(key): " + members.map { "\($0.0) \($0.1.stringValue ?? $0.1.serialized)" }.joined(separator: "; "))
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// Proves the client id and secret by asking for a token (Deliverect has no harmless channel read).
    public func testConnection(_ access: ProviderAccess) async -> ConnectionTestResult {
        do throws(CredentialFailure) {
            _ = try await access.credentials.credential()
            return ConnectionTestResult(success: true, message: "Deliverect issued an access token for this client")
        } catch {
            return ConnectionTestResult(success: false, message: "Deliverect token: \(error.message)")
        }
    }
}

// MARK: Inbound webhooks

/// Deliverect's webhooks to a channel, at the connection's inbound URL: hex HMAC-SHA256 of the raw
/// body with the connection's `webhookSecret` in `x-server-authorization-hmac-sha256`, compared in
/// constant time. A status update `{orderId, status, timeStamp, reason, channelOrderId, …}` is mapped
/// to our states; a status we do not map (system codes, courier steps, codes Deliverect adds later) is
/// ignored and logged, answered 200. The registration webhook `{"status":"register", …}` is answered
/// with our URLs for this connection.
extension DeliverectConnector: InboundStatusReceiving {
    public static func signature(of body: [UInt8], secret: String) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8))))
    }

    public func readInbound(_ webhook: InboundWebhook, webhookSecret: String?) throws(InboundWebhookRejection) -> InboundWebhookReading {
        guard let secret = webhookSecret, !secret.isEmpty else {
            throw .unverified("no webhook secret is set for this Deliverect connection")
        }
        guard let presented = webhook.header(Self.signatureHeader)?.trimmingCharacters(in: .whitespaces), !presented.isEmpty else {
            throw .unverified("\(Self.signatureHeader) is missing")
        }
        let expected = Self.signature(of: webhook.body, secret: secret)
        guard ConstantTime.equals(Array(presented.lowercased().utf8), Array(expected.utf8)) else {
            throw .unverified("\(Self.signatureHeader) does not match the body")
        }
        return try Self.read(webhook.body, url: webhook.url)
    }

    /// What a verified body says; `url` is the URL it came in on (our `statusUpdateURL`). Pure.
    public static func read(_ body: [UInt8], url: String?) throws(InboundWebhookRejection) -> InboundWebhookReading {
        guard let parsed = try? JSONParser.parse(body), case .object = parsed.kind else {
            throw .unreadable(ValidationError(field: "body", message: "must be a JSON object"))
        }
        let json = JSONValue(parsed)
        if json["status"]?.stringValue?.lowercased() == "register" {
            guard let url else { throw .unreadable(ValidationError(field: "status", message: "register needs the URL it came in on")) }
            return .handshake(reply: registrationReply(url: url))
        }
        guard let statusNode = json["status"], statusNode != .null else {
            return .ignored(reason: "Deliverect webhook without a status (a menu, snooze or busy-mode call we do not act on)")
        }
        guard let code = statusNode.integerValue else {
            throw .unreadable(ValidationError(field: "status", message: "must be an integer Deliverect order status"))
        }
        guard let channelOrderId = json["channelOrderId"]?.stringValue, !channelOrderId.isEmpty else {
            throw .unreadable(ValidationError(field: "channelOrderId", message: "is required"))
        }
        guard let known = knownStatuses[code] else {
            return .ignored(reason: "Deliverect status \(code) is not one we know; ignored")
        }
        guard let status = status(code) else {
            return .ignored(reason: "Deliverect status \(code) \(known) has no equivalent here")
        }
        let deliverectId = json["orderId"]?.stringValue.map { " (Deliverect order \($0))" } ?? ""
        let reason = json["reason"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let timeStamp = json["timeStamp"]?.stringValue
        // Deliverect delivers at least once: the same order, status and time again is the same event.
        return .statusUpdates([OrderStatusUpdate(
            externalOrderId: channelOrderId, orderUUID: channelOrderId, status: status, posStatus: "\(code) \(known)\(deliverectId)",
            occurredAt: timeStamp.flatMap(Self.time),
            reason: status == .rejected || status == .cancelled ? reason : nil,
            eventId: [channelOrderId, String(code), timeStamp ?? "-"].joined(separator: "|"))])
    }

    /// A webhook's `timeStamp`: ISO 8601 in UTC, with or without fractions.
    static func time(_ text: String) -> Int64? {
        RFC3339.parseMilliseconds(text) ?? RFC3339.parseMilliseconds(text.replacingOccurrences(of: " ", with: "T") + (text.hasSuffix("Z") ? "" : "Z"))
    }

    /// The registration answer: every webhook of this channel comes to this connection's one inbound
    /// URL (status updates are read; the others are verified, logged and answered 200).
    static func registrationReply(url: String) -> JSONValue {
        .object(["statusUpdateURL", "menuUpdateURL", "snoozeUnsnoozeURL", "busyModeURL", "updatePrepTimeURL", "courierUpdateURL"]
            .map { ($0, JSONValue.string(url)) })
    }

    /// Deliverect's order statuses by code, for the log.
    static let knownStatuses: [Int64: String] = [
        1: "PARSED", 2: "RECEIVED", 3: "SENT TO DMA", 4: "BEFORE PARSED", 5: "RECEIPT NOT FOUND", 6: "RECEIVED BY DMA", 7: "PRINTED BY DMA",
        10: "NEW", 20: "ACCEPTED", 25: "SCHEDULED", 30: "DUPLICATE", 35: "DENIED", 40: "PRINTED", 50: "PREPARING", 60: "PREPARED",
        70: "PICKUP READY", 80: "IN DELIVERY", 81: "DELIVERY CREATED", 83: "EN ROUTE TO PICKUP", 84: "ALMOST AT PICKUP", 85: "ARRIVED AT PICKUP",
        87: "EN ROUTE TO DROPOFF", 89: "ARRIVED AT DROPOFF", 90: "FINALIZED", 95: "AUTO FINALIZED", 100: "CANCEL", 110: "CANCELED",
        115: "DELIVERY CANCELED", 120: "FAILED", 124: "PARSE FAILED",
    ]

    /// A Deliverect status in our words; nil for one with no equivalent (system steps, the courier's
    /// approach, our own cancel request echoed, a cancelled delivery job).
    static func status(_ code: Int64) -> OrderStatus? {
        switch code {
        case 20: .accepted
        case 40, 50: .inProgress
        case 60, 70: .ready
        case 80, 87, 89: .driverPickedUp
        case 90, 95: .completed
        case 110: .cancelled
        case 35, 120, 124: .rejected
        default: nil
        }
    }
}
