import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import Synchronization

/// A double of Deliverect's Channel API as an ordering channel meets it (docs/sandbox.md, "Deliverect"):
///
/// - `POST {prefix}/oauth/token`, JSON `{client_id, client_secret, audience, grant_type: "client_credentials"}`
///   (all four required), answered `{access_token, expires_at, expires_in, scope, token_type}`; every call
///   is counted. Tokens expire after ``tokenLifetime`` seconds; an expired one is `401 {"code":"token_expired"}`.
/// - `POST {prefix}/{channelName}/order/{channelLinkId}`: the token's channel scope must be `channelName`
///   and the channel link known (403 otherwise); money must be integers and add up to `payment.amount`;
///   missing or wrong fields are `400 {"orderFieldsErrors":{…}}`, a payment that does not add up
///   `400 {"orderPaymentErrors":{…}}`; a repeated `channelOrderId` is answered 201 and not stored twice;
///   `status: 100` cancels. A good order is `201 {}`.
/// - Then, asynchronously, signed status webhooks (hex HMAC-SHA256 of the body in
///   `x-server-authorization-hmac-sha256`; the secret is the configured one, else the channel link id as
///   in Deliverect's staging) to the configured URL: by default an unknown status (999) then 20 ACCEPTED
///   for an order, 110 CANCELED for a cancel.
/// - `GET {prefix}/_sandbox/orders` (orders, token calls, webhooks sent), `POST {prefix}/_sandbox/fail-next`
///   (a 429 carries `Retry-After: 1`), `POST {prefix}/_sandbox/expire-tokens`,
///   `PUT {prefix}/_sandbox/webhook {"url","secret"?}`, `POST {prefix}/_sandbox/orders/{channelOrderId}/status {"status","reason"?}`.
public final class DeliverectSandbox: Sendable {
    // Sandbox credentials, not secrets.
    public static let defaultClientId = "deliverect-sandbox-client"
    public static let defaultClientSecret = "deliverect-sandbox-secret"
    public static let defaultChannelName = "catasandbox"
    public static let defaultChannelLinkIds = ["5f1e0c2b9d3a4b0012ab34cd"]
    /// Sent before ACCEPTED to prove a channel ignores codes it does not know.
    public static let unknownStatus = 999
    public static let defaultStatuses = [unknownStatus, 20]

    public let clientId: String
    public let clientSecret: String
    public let channelName: String
    public let channelLinkIds: [String]
    /// Seconds a token lives.
    public let tokenLifetime: Int64
    /// The statuses sent, in order, after each new order.
    public let statuses: [Int]
    /// How long the token endpoint takes, so concurrent callers overlap as against the real one.
    public let tokenLatency: Duration

    /// Where webhooks go; `secret` nil signs with the order's channel link id (Deliverect's staging rule).
    public struct WebhookTarget: Sendable, Equatable {
        public var url: String
        public var secret: String?

        public init(url: String, secret: String? = nil) {
            self.url = url
            self.secret = secret
        }
    }

    public struct Order: Sendable {
        public let channelOrderId: String
        public let channelLinkId: String
        /// The create body as parsed (numbers keep their source text).
        public let body: JSONValue
        /// Deliverect's own id (`orderId` on webhooks).
        public let id: String
        public internal(set) var status: Int
        public internal(set) var cancelRequested: Bool
    }

    /// One POST of a status webhook and the receiver's answer (0: no answer).
    public struct WebhookDelivery: Sendable {
        public let channelOrderId: String
        public let status: Int
        public let headers: [(String, String)]
        public let body: [UInt8]
        public let responseStatus: Int
        public let responseBody: String
    }

    struct State {
        var tokenCalls = 0
        var tokens: [String: Int64] = [:]
        var orders: [Order] = []
        var duplicates = 0
        var webhook: WebhookTarget?
        var deliveries: [WebhookDelivery] = []
        var waiters: [Int: Waiter] = [:]
        var nextWaiter = 0
    }

    struct Waiter {
        let matches: @Sendable (WebhookDelivery) -> Bool
        let continuation: CheckedContinuation<WebhookDelivery?, Never>
    }

    static let tokenRoute = SandboxRoute(.post, "/oauth/token")
    static let orderRoute = SandboxRoute(.post, "/{channelName}/order/{channelLinkId}")

    private let ledger = RouteLedger(routes: [tokenRoute, orderRoute])
    private let state = Mutex(State())

    public convenience init(clientId: String = DeliverectSandbox.defaultClientId, clientSecret: String = DeliverectSandbox.defaultClientSecret,
                channelName: String = DeliverectSandbox.defaultChannelName, channelLinkIds: [String] = DeliverectSandbox.defaultChannelLinkIds,
                tokenLifetime: Int64 = 3600, statuses: [Int] = DeliverectSandbox.defaultStatuses, webhook: WebhookTarget? = nil) {
        self.init(clientId: clientId, clientSecret: clientSecret, channelName: channelName, channelLinkIds: channelLinkIds,
                  tokenLifetime: tokenLifetime, statuses: statuses, webhook: webhook, tokenLatency: .zero)
    }

    public init(clientId: String = DeliverectSandbox.defaultClientId, clientSecret: String = DeliverectSandbox.defaultClientSecret,
                channelName: String = DeliverectSandbox.defaultChannelName, channelLinkIds: [String] = DeliverectSandbox.defaultChannelLinkIds,
                tokenLifetime: Int64 = 3600, statuses: [Int] = DeliverectSandbox.defaultStatuses, webhook: WebhookTarget? = nil,
                tokenLatency: Duration) {
        self.tokenLatency = tokenLatency
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.channelName = channelName
        self.channelLinkIds = channelLinkIds
        self.tokenLifetime = tokenLifetime
        self.statuses = statuses
        state.withLock { $0.webhook = webhook }
    }

    // MARK: In-process access

    /// Token requests received, good or bad.
    public var tokenCalls: Int { state.withLock { $0.tokenCalls } }
    public var orders: [Order] { state.withLock { $0.orders } }
    /// Creates answered 201 without storing, because the `channelOrderId` was known.
    public var duplicates: Int { state.withLock { $0.duplicates } }
    public var webhookDeliveries: [WebhookDelivery] { state.withLock { $0.deliveries } }
    public func requestCount(_ route: String) -> Int { ledger.requestCount(route) }
    public func failNext(_ route: String, status: Int, times: Int = 1) { ledger.failNext(route, status: status, times: times) }

    public func configureWebhook(url: String, secret: String? = nil) {
        state.withLock { $0.webhook = WebhookTarget(url: url, secret: secret) }
    }

    /// Every token issued so far expires now (the next call with one is `401 token_expired`).
    public func expireTokens() {
        state.withLock { state in
            for key in state.tokens.keys { state.tokens[key] = 0 }
        }
    }

    /// Forgets orders, tokens, counts and webhooks sent; the webhook target stays.
    public func reset() {
        // Waiters stay: a test waiting for a webhook is not dropped by a reset.
        state.withLock { $0 = State(webhook: $0.webhook, waiters: $0.waiters, nextWaiter: $0.nextWaiter) }
        ledger.reset()
    }

    /// The first webhook delivery (already made or still to come) matching `matches`; nil after `timeoutSeconds`.
    public func delivery(timeoutSeconds: Double = 10, where matches: @escaping @Sendable (WebhookDelivery) -> Bool) async -> WebhookDelivery? {
        await withCheckedContinuation { continuation in
            let id: Int? = state.withLock { state in
                if let seen = state.deliveries.first(where: matches) {
                    continuation.resume(returning: seen)
                    return nil
                }
                state.nextWaiter += 1
                state.waiters[state.nextWaiter] = Waiter(matches: matches, continuation: continuation)
                return state.nextWaiter
            }
            guard let id else { return }
            Task {
                try? await Task.sleep(for: .seconds(timeoutSeconds))
                let expired = self.state.withLock { $0.waiters.removeValue(forKey: id) }
                expired?.continuation.resume(returning: nil)
            }
        }
    }

    // MARK: Webhooks

    public static func signature(of body: [UInt8], secret: String) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8))))
    }

    /// Moves the order to `status` (unless it is a code the double does not know) and POSTs the signed
    /// status webhook; nil when no receiver is configured or the order is unknown.
    @discardableResult
    public func sendStatus(channelOrderId: String, status: Int, reason: String? = nil) async -> WebhookDelivery? {
        let found = state.withLock { state -> (Order, WebhookTarget)? in
            guard let target = state.webhook, let index = state.orders.firstIndex(where: { $0.channelOrderId == channelOrderId }) else { return nil }
            if status != Self.unknownStatus { state.orders[index].status = status }
            return (state.orders[index], target)
        }
        guard let found else { return nil }
        let (order, target) = found
        let body = JSONValue.object([
            ("orderId", .string(order.id)), ("status", .int(status)),
            ("timeStamp", .string(String(SandboxHTTP.timestamp.prefix(19)) + "Z")), ("receiptId", .string("R-\(order.id.suffix(6))")),
            ("reason", .string(reason ?? "")), ("channelOrderId", .string(order.channelOrderId)),
            ("location", .string("loc-\(order.channelLinkId.suffix(6))")), ("channelLink", .string(order.channelLinkId)),
        ]).bytes
        let headers = [("Content-Type", "application/json"), ("User-Agent", "Deliverect (sandbox)"),
                       ("x-server-authorization-hmac-sha256", Self.signature(of: body, secret: target.secret ?? order.channelLinkId))]
        var responseStatus = 0, responseBody = ""
        do throws(SandboxWebhookFailure) {
            (responseStatus, responseBody) = try await SandboxWebhookPost.send(to: target.url, headers: headers, body: body)
        } catch {
            if case .unreachable(let reason) = error { responseBody = "no answer: \(reason)" }
        }
        let delivery = WebhookDelivery(channelOrderId: channelOrderId, status: status, headers: headers, body: body,
                                       responseStatus: responseStatus, responseBody: responseBody)
        let ready = state.withLock { state -> [CheckedContinuation<WebhookDelivery?, Never>] in
            state.deliveries.append(delivery)
            let matched = state.waiters.filter { $0.value.matches(delivery) }
            for id in matched.keys { state.waiters.removeValue(forKey: id) }
            return matched.values.map(\.continuation)
        }
        for continuation in ready { continuation.resume(returning: delivery) }
        return delivery
    }

    // MARK: Routes

    public func addRoutes<Context: RequestContext>(to router: Router<Context>, prefix: String = "/deliverect") {
        ledger.mount(Self.tokenRoute, on: router, prefix: prefix, errorResponse: { Self.failure($0, $1) }) { request in
            if self.tokenLatency > .zero { try? await Task.sleep(for: self.tokenLatency) }
            return self.token(request)
        }
        ledger.mount(Self.orderRoute, on: router, prefix: prefix, errorResponse: { Self.failure($0, $1) }) { self.order($0) }
        ledger.mountControl(on: router, prefix: prefix, snapshot: { self.snapshot }, catalogue: {
            .object([("channelName", .string(self.channelName)), ("channelLinkIds", .array(self.channelLinkIds.map(JSONValue.string)))])
        }, reset: { self.reset() })
        router.post(RouterPath(prefix + "/_sandbox/expire-tokens")) { _, _ -> Response in
            self.expireTokens()
            return SandboxHTTP.json(200, .object([("expired", .bool(true))]))
        }
        router.put(RouterPath(prefix + "/_sandbox/webhook")) { request, _ -> Response in
            guard let node = await Self.controlBody(request), let urlNode = node["url"], case .string(let url) = urlNode.kind,
                  let parsed = URL(string: url), parsed.host != nil, ["http", "https"].contains(parsed.scheme?.lowercased() ?? "")
            else { return Self.failure(400, #"body must be a JSON object such as {"url":"http://127.0.0.1:8080/hook","secret":"…"}"#) }
            var secret: String?
            if let secretNode = node["secret"], case .string(let text) = secretNode.kind, !text.isEmpty { secret = text }
            self.configureWebhook(url: url, secret: secret)
            return SandboxHTTP.json(200, .object([("url", .string(url)), ("signedWith", .string(secret == nil ? "channelLinkId" : "secret"))]))
        }
        router.post(RouterPath(prefix + "/_sandbox/orders/{channelOrderId}/status")) { request, context -> Response in
            let id = context.parameters.get("channelOrderId") ?? ""
            guard let node = await Self.controlBody(request), let statusNode = node["status"], let status = JSONChecker.plainInteger(statusNode) else {
                return Self.failure(400, #"body must be a JSON object such as {"status":50}"#)
            }
            var reason: String?
            if let reasonNode = node["reason"], case .string(let text) = reasonNode.kind { reason = text }
            guard let sent = await self.sendStatus(channelOrderId: id, status: status, reason: reason) else {
                return Self.failure(404, "unknown channelOrderId or no webhook configured (PUT /_sandbox/webhook)")
            }
            return SandboxHTTP.json(200, .object([("status", .int(status)), ("answer", .int(sent.responseStatus)), ("body", .string(sent.responseBody))]))
        }
    }

    /// Deliverect's error shape `{"code","description"}`; a 429 is text/plain with `Retry-After: 1`.
    static func failure(_ status: Int, _ description: String) -> Response {
        if status == 429 {
            var response = Response(status: SandboxHTTP.status(429), headers: [.contentType: "text/plain"],
                                    body: .init(byteBuffer: ByteBuffer(string: "Too Many Requests")))
            response.headers[.retryAfter] = "1"
            return response
        }
        let code = switch status {
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Authorization error"
        case 404: "Not Found"
        default: "Error"
        }
        return SandboxHTTP.json(status, .object([("code", .string(code)), ("description", .string(description))]))
    }

    private static func controlBody(_ request: Request) async -> JSONNode? {
        guard let buffer = try? await request.body.collect(upTo: 64 * 1024) else { return nil }
        return try? SandboxBody.object(Array(buffer.readableBytesView))
    }

    // MARK: Token

    func token(_ request: SandboxRequest) -> Response {
        state.withLock { $0.tokenCalls += 1 }
        guard request.header(.contentType)?.lowercased().hasPrefix("application/json") == true else {
            return Self.failure(400, "the body must be application/json")
        }
        let node: JSONNode
        do { node = try SandboxBody.object(request.body) } catch { return Self.failure(400, error.message) }
        var checker = JSONChecker(style: .brackets, wording: .plain)
        let id = checker.string(node["client_id"], FieldPath.root.key("client_id"), required: true, nonEmpty: true)
        let secret = checker.string(node["client_secret"], FieldPath.root.key("client_secret"), required: true, nonEmpty: true)
        _ = checker.string(node["audience"], FieldPath.root.key("audience"), required: true, nonEmpty: true)
        let grant = checker.string(node["grant_type"], FieldPath.root.key("grant_type"), required: true, nonEmpty: true)
        if let grant, grant != "client_credentials" { checker.fail(FieldPath.root.key("grant_type"), "must be client_credentials") }
        guard checker.isValid else { return Self.failure(400, checker.violations.map { "\($0.path) \($0.message)" }.joined(separator: "; ")) }
        guard SandboxFormats.credentialMatches(id, clientId), SandboxFormats.credentialMatches(secret, clientSecret) else {
            return Self.failure(401, "invalid client credentials")
        }
        let now = SandboxHTTP.unixNow
        let token = "dlv-\(UUID().uuidString.lowercased())"
        state.withLock { $0.tokens[token] = now + tokenLifetime }
        return SandboxHTTP.json(200, .object([
            ("access_token", .string(token)), ("expires_at", .integer(now + tokenLifetime)), ("expires_in", .integer(tokenLifetime)),
            ("scope", .string("genericChannel:\(channelName)")), ("token_type", .string("Bearer")),
        ]))
    }

    // MARK: Orders

    func order(_ request: SandboxRequest) -> Response {
        guard let header = request.header(.authorization), header.hasPrefix("Bearer ") else {
            return Self.failure(401, "missing Authorization: Bearer token")
        }
        let presented = String(header.dropFirst("Bearer ".count))
        let expiry = state.withLock { $0.tokens[presented] }
        guard let expiry else { return Self.failure(401, "invalid token") }
        guard expiry > SandboxHTTP.unixNow else {
            return SandboxHTTP.json(401, .object([("code", .string("token_expired")), ("description", .string("token is expired"))]))
        }
        guard request.parameters["channelName"] == channelName else {
            return Self.failure(403, "you're not allowed to send in orders")
        }
        guard let link = request.parameters["channelLinkId"], channelLinkIds.contains(link) else {
            return Self.failure(403, "Not allowed access to this account.")
        }
        let node: JSONNode
        do { node = try SandboxBody.object(request.body) } catch { return Self.failure(400, error.message) }
        if let status = node["status"], JSONChecker.plainInteger(status) == 100 {
            return cancel(node, link: link)
        }
        var checker = JSONChecker(style: .brackets, wording: .plain)
        let computed = Self.validate(node, &checker)
        guard checker.isValid else {
            return SandboxHTTP.json(400, .object([
                ("orderFieldsErrors", .object(checker.violations.map { ($0.path, JSONValue.string($0.message)) })),
                ("orderPaymentErrors", .object([])),
            ]))
        }
        if let sums = computed, sums.0 != sums.1 {
            return SandboxHTTP.json(400, .object([
                ("orderFieldsErrors", .object([])),
                ("orderPaymentErrors", .object([("payment.amount", .string("is \(sums.1) but items and charges add up to \(sums.0)"))])),
            ]))
        }
        let body = JSONValue(node)
        let channelOrderId = body["channelOrderId"]?.stringValue ?? ""
        let isNew = state.withLock { state -> Bool in
            guard !state.orders.contains(where: { $0.channelOrderId == channelOrderId }) else {
                state.duplicates += 1
                return false
            }
            state.orders.append(Order(channelOrderId: channelOrderId, channelLinkId: link, body: body,
                                      id: String(UUID().uuidString.lowercased().filter(\.isHexDigit).prefix(24)), status: 10, cancelRequested: false))
            return true
        }
        if isNew { schedule(channelOrderId, statuses: statuses) }
        return SandboxHTTP.json(201, .object([]))
    }

    private func cancel(_ node: JSONNode, link: String) -> Response {
        var checker = JSONChecker(style: .brackets, wording: .plain)
        let id = checker.string(node["channelOrderId"], FieldPath.root.key("channelOrderId"), required: true, nonEmpty: true)
        _ = checker.string(node["channelOrderDisplayId"], FieldPath.root.key("channelOrderDisplayId"), required: true, nonEmpty: true)
        guard checker.isValid, let id else {
            return SandboxHTTP.json(400, .object([("orderFieldsErrors", .object(checker.violations.map { ($0.path, JSONValue.string($0.message)) }))]))
        }
        let known = state.withLock { state -> Bool in
            guard let index = state.orders.firstIndex(where: { $0.channelOrderId == id && $0.channelLinkId == link }) else { return false }
            state.orders[index].cancelRequested = true
            return true
        }
        guard known else { return Self.failure(404, "order \(id) not found") }
        schedule(id, statuses: [110])
        return SandboxHTTP.json(201, .object([]))
    }

    /// Sends `statuses` one after another, after the answer (a receiver that calls back sees the order).
    private func schedule(_ channelOrderId: String, statuses: [Int]) {
        guard state.withLock({ $0.webhook != nil }), !statuses.isEmpty else { return }
        Task {
            for status in statuses { await self.sendStatus(channelOrderId: channelOrderId, status: status) }
        }
    }

    /// Checks a create body; returns (what items and charges add up to, `payment.amount`) when both are readable.
    static func validate(_ node: JSONNode, _ checker: inout JSONChecker) -> (Int64, Int64)? {
        let root = FieldPath.root
        _ = checker.string(node["channelOrderId"], root.key("channelOrderId"), required: true, nonEmpty: true)
        _ = checker.string(node["channelOrderDisplayId"], root.key("channelOrderDisplayId"), required: true, nonEmpty: true)
        let orderType = checker.integer(node["orderType"], root.key("orderType"), required: true, minimum: 1)
        if let orderType, orderType > 5 { checker.fail(root.key("orderType"), .maximum("5")) }
        _ = checker.string(node["courier"], root.key("courier"), required: true)
        _ = checker.bool(node["deliveryIsAsap"], root.key("deliveryIsAsap"), required: true)
        let digits = checker.integer(node["decimalDigits"], root.key("decimalDigits"), required: true, minimum: 0)
        if let digits, digits > 3 { checker.fail(root.key("decimalDigits"), .maximum("3")) }
        for key in ["pickupTime", "deliveryTime", "placedTime", "estimatedPickupTime"] {
            if let text = checker.string(node[key], root.key(key), required: key == "pickupTime" && (orderType == 1 || orderType == 2)),
               RFC3339.parseMilliseconds(text) == nil {
                checker.fail(root.key(key), "must be a UTC time such as 2024-12-01T14:30:00Z")
            }
        }
        var total: Int64? = 0
        func add(_ value: Int64?) {
            guard let value, let sum = total else { total = nil; return }
            let (next, overflow) = sum.addingReportingOverflow(value)
            total = overflow ? nil : next
        }
        func money(_ node: JSONNode?, _ path: FieldPath, required: Bool) -> Int64? {
            guard let node else {
                if required { checker.fail(path, .required) }
                return nil
            }
            guard let value = JSONChecker.plainInteger(node) else {
                checker.fail(path, "must be an integer amount in minor units (500 = 5.00), not \(JSONValue(node).serialized.prefix(40))")
                return nil
            }
            return Int64(value)
        }
        func items(_ node: JSONNode?, _ path: FieldPath, required: Bool) -> Int64? {
            guard let list = checker.array(node, path, required: required, nonEmpty: required) else { return required ? nil : 0 }
            var sum: Int64? = 0
            for (index, item) in list.enumerated() {
                let itemPath = path.index(index)
                guard let item = checker.object(item, itemPath, required: true) else { sum = nil; continue }
                _ = checker.string(item["plu"], itemPath.key("plu"), required: true, nonEmpty: true)
                _ = checker.string(item["name"], itemPath.key("name"), required: false)
                let price = money(item["price"], itemPath.key("price"), required: true)
                let quantity = checker.integer(item["quantity"], itemPath.key("quantity"), required: true, minimum: 1)
                let children = items(item["subItems"], itemPath.key("subItems"), required: false)
                guard let price, let quantity, let children, let running = sum else { sum = nil; continue }
                let (unit, o1) = price.addingReportingOverflow(children)
                let (line, o2) = unit.multipliedReportingOverflow(by: Int64(quantity))
                let (next, o3) = running.addingReportingOverflow(line)
                sum = o1 || o2 || o3 ? nil : next
            }
            return sum
        }
        add(items(node["items"], root.key("items"), required: true))
        for key in ["deliveryCost", "serviceCharge", "tip", "driverTip", "bagFee", "discountTotal"] {
            add(money(node[key], root.key(key), required: false) ?? 0)
        }
        var amount: Int64?
        if let payment = checker.object(node["payment"], root.key("payment"), required: true) {
            amount = money(payment["amount"], root.key("payment").key("amount"), required: true)
            _ = checker.integer(payment["type"], root.key("payment").key("type"), required: true, minimum: 0)
            _ = money(payment["due"], root.key("payment").key("due"), required: false)
        }
        guard let total, let amount else { return nil }
        return (total, amount)
    }

    var snapshot: JSONValue {
        let (orders, tokenCalls, duplicates, deliveries) = state.withLock { ($0.orders, $0.tokenCalls, $0.duplicates, $0.deliveries) }
        return .object([
            ("orders", .array(orders.map { order in
                .object([
                    ("channelOrderId", .string(order.channelOrderId)), ("channelLinkId", .string(order.channelLinkId)), ("id", .string(order.id)),
                    ("status", .int(order.status)), ("cancelRequested", .bool(order.cancelRequested)), ("body", order.body),
                ])
            })),
            ("tokenCalls", .int(tokenCalls)), ("duplicates", .int(duplicates)),
            ("webhooks", .array(deliveries.map { .object([
                ("channelOrderId", .string($0.channelOrderId)), ("status", .int($0.status)), ("answer", .int($0.responseStatus)),
            ]) })),
            ("requestCounts", ledger.countsJSON),
        ])
    }
}
