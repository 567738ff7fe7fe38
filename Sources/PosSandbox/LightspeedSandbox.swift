import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import Synchronization

/// A double of the Lightspeed K-Series endpoints our connector uses, strict where Lightspeed is
/// (docs/sandbox.md, "Lightspeed"):
///
/// - `GET {prefix}/oauth/authorize?response_type=code&client_id&redirect_uri&state` answers 302 to
///   `redirect_uri?code=&state=` (as if the merchant approved); `POST {prefix}/oauth/token`, form
///   encoded, client by HTTP Basic or in the body: `authorization_code` (a code is spent once and must
///   come with the same `redirect_uri`) and `refresh_token` (**single-use**: a reused or unknown one
///   is `400 {"error":"invalid_grant"}`). Access tokens live ``accessTokenLifetime`` seconds.
/// - Every `/o/…` call needs `Authorization: Bearer <live token>` (401 otherwise).
/// - `GET /o/op/data/businesses`, `GET /o/op/1/onlineOrderReadiness?businessLocationId=` (READY, or
///   NOT_READY after ``setReady(_:)``).
/// - `PUT /o/wh/1/webhook` registers an endpoint (`endpointId`, `url`; 409 for an id that exists).
/// - `POST /o/op/1/order/toGo|local`: `businessLocationId` known, `thirdPartyReference` 1…48,
///   `endpointId` registered, `customerInfo.firstName`, items with `quantity` and a known `sku` (≤ 25),
///   money as JSON numbers, `payment.paymentAmount` required; Spring-style 400s; 409
///   `{"status":"fail","msg":"reference has already been used"}` on a reused reference; else 200
///   `{"status":"ok"}`. Webhooks (``sendWebhook(reference:status:reason:)``) go to the order's endpoint,
///   HTTP Basic when registered so, amounts as decimal strings.
/// - `GET {prefix}/_sandbox/orders`, `GET {prefix}/_sandbox/stats`, `POST {prefix}/_sandbox/expire-access-tokens`,
///   `POST {prefix}/_sandbox/ready` `{"ready":false}`, `POST {prefix}/_sandbox/webhook`
///   `{"thirdPartyReference","status","reason"?}`.
public final class LightspeedSandbox: Sendable {
    // Sandbox credentials, not secrets.
    public static let defaultClientId = "lightspeed-sandbox-client"
    public static let defaultClientSecret = "lightspeed-sandbox-secret"
    public static let businessId: Int64 = 4242
    public static let businessLocationId: Int64 = 45_454_545
    /// SKUs the double's menu knows.
    public static let knownSkus: Set<String> = ["BURGER-01", "FRIES-01", "CHEESE-01", "DELIVERY-FEE"]

    public let clientId: String
    public let clientSecret: String
    public let accessTokenLifetime: Int64
    /// Send `SUCCESS` to the order's endpoint right after answering a create (the CLI sandbox); tests
    /// send webhooks themselves with ``sendWebhook(reference:status:reason:)``.
    public let autoAccept: Bool

    public struct Stats: Sendable, Equatable {
        public var authorizationCodeGrants = 0
        public var refreshGrants = 0
        /// Grants refused as a reused or unknown code or refresh token.
        public var invalidGrants = 0
        public var webhookRegistrations = 0
        public var orderCalls = 0
        public var unauthorizedCalls = 0
    }

    public struct Endpoint: Sendable, Equatable {
        public var endpointId: String
        public var url: String
        public var username: String?
        public var password: String?
    }

    public struct Order: Sendable {
        public var path: String
        public var reference: String
        public var endpointId: String
        public var body: JSONValue
    }

    public struct WebhookDelivery: Sendable {
        public let body: [UInt8]
        public let status: Int
        public let responseBody: String
    }

    public typealias WebhookFailure = SandboxWebhookFailure

    struct State {
        var stats = Stats()
        var codes: [String: String] = [:]  // code → redirect_uri
        var accessTokens: [String: Int64] = [:]
        var refreshTokens: Set<String> = []
        var issued = 0
        var endpoints: [String: Endpoint] = [:]
        var orders: [Order] = []
        var ready = true
        var loseAnswers = 0
    }

    private let state = Mutex(State())

    public init(clientId: String = LightspeedSandbox.defaultClientId, clientSecret: String = LightspeedSandbox.defaultClientSecret,
                accessTokenLifetime: Int64 = 3600, autoAccept: Bool = false) {
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.accessTokenLifetime = accessTokenLifetime
        self.autoAccept = autoAccept
    }

    // MARK: In-process control

    public var stats: Stats { state.withLock { $0.stats } }
    public var orders: [Order] { state.withLock { $0.orders } }
    public var endpoints: [Endpoint] { state.withLock { Array($0.endpoints.values) } }

    /// Every access token issued so far is expired (refresh tokens stay good).
    public func expireAccessTokens() { state.withLock { $0.accessTokens = [:] } }

    /// Every refresh token issued so far counts as spent (as if another client had used it): the next
    /// refresh with one is `invalid_grant`.
    public func revokeRefreshTokens() { state.withLock { $0.refreshTokens = [] } }

    /// Readiness: `NOT_READY` (sales period closed) when false.
    public func setReady(_ ready: Bool) { state.withLock { $0.ready = ready } }

    /// The next `times` creates are recorded but answered 504, as an answer lost on the way.
    public func loseNextAnswers(times: Int = 1) { state.withLock { $0.loseAnswers = max(0, times) } }

    public func reset() { state.withLock { $0 = State() } }

    /// Issues an authorization code for `redirectUri`, as `GET /oauth/authorize` does after the merchant approves.
    public func issueCode(redirectUri: String) -> String {
        state.withLock { state in
            state.issued += 1
            let code = "code-\(state.issued)-\(UUID().uuidString.lowercased())"
            state.codes[code] = redirectUri
            return code
        }
    }

    // MARK: Routes

    public func addRoutes<Context: RequestContext>(to router: Router<Context>, prefix: String = "/lightspeed") {
        router.get(RouterPath(prefix + "/oauth/authorize")) { request, _ -> Response in
            let query = request.uri.queryParameters
            guard query["response_type"].map(String.init) == "code" else { return Self.oauthError(400, "unsupported_response_type", "response_type must be code") }
            guard query["client_id"].map(String.init) == self.clientId else { return Self.oauthError(400, "invalid_client", "unknown client_id") }
            guard let redirect = query["redirect_uri"].map(String.init), !redirect.isEmpty else {
                return Self.oauthError(400, "invalid_request", "redirect_uri is required")
            }
            let code = self.issueCode(redirectUri: redirect)
            var location = redirect + (redirect.contains("?") ? "&" : "?") + "code=\(code)"
            if let state = query["state"].map(String.init) { location += "&state=\(state.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? state)" }
            return Response(status: .found, headers: [.location: location])
        }
        router.post(RouterPath(prefix + "/oauth/token")) { request, _ -> Response in
            let body = Array(try await request.body.collect(upTo: 64 * 1024).readableBytesView)
            return self.grant(headers: request.headers, body: body)
        }
        router.get(RouterPath(prefix + "/o/op/data/businesses")) { request, _ -> Response in
            if let denied = self.authenticate(request.headers) { return denied }
            return SandboxHTTP.json(200, .array([.object([
                ("id", .integer(Self.businessId)), ("name", .string("Cata Sandbox Bistro")),
                ("businessLocations", .array([.object([("id", .integer(Self.businessLocationId)), ("name", .string("Downtown"))])])),
            ])]))
        }
        router.get(RouterPath(prefix + "/o/op/1/onlineOrderReadiness")) { request, _ -> Response in
            if let denied = self.authenticate(request.headers) { return denied }
            guard let id = request.uri.queryParameters["businessLocationId"].flatMap({ Int64(String($0)) }), id == Self.businessLocationId else {
                return Self.springError(path: "/o/op/1/onlineOrderReadiness", field: "businessLocationId", message: "unknown business location")
            }
            let ready = self.state.withLock { $0.ready }
            return SandboxHTTP.json(200, .object([
                ("status", .string(ready ? "READY" : "NOT_READY")), ("lastUpdatedAt", .string("2024-12-01T14:00:00Z")),
                ("onlineOrderingApiConfiguration", .object([("enabled", .bool(true)), ("orderProfileId", .integer(1)), ("staffId", .integer(7))])),
                ("posStatus", .object([("salesPeriod", .string(ready ? "OPENED" : "CLOSED")), ("acceptingOnlineOrders", .bool(ready)),
                                       ("availableDevices", .integer(ready ? 1 : 0))])),
            ]))
        }
        router.put(RouterPath(prefix + "/o/wh/1/webhook")) { request, _ -> Response in
            if let denied = self.authenticate(request.headers) { return denied }
            let body = Array(try await request.body.collect(upTo: 64 * 1024).readableBytesView)
            return self.registerWebhook(body)
        }
        for (kind, local) in [("toGo", false), ("local", true)] {
            let path = "/o/op/1/order/" + kind
            router.post(RouterPath(prefix + path)) { request, _ -> Response in
                if let denied = self.authenticate(request.headers) { return denied }
                let body = Array(try await request.body.collect(upTo: 256 * 1024).readableBytesView)
                return self.createOrder(body, path: path, local: local)
            }
        }
        router.get(RouterPath(prefix + "/_sandbox/orders")) { _, _ -> Response in
            SandboxHTTP.json(200, .object([("orders", .array(self.orders.map { order in
                .object([("path", .string(order.path)), ("thirdPartyReference", .string(order.reference)),
                         ("endpointId", .string(order.endpointId)), ("body", order.body)])
            }))]))
        }
        router.get(RouterPath(prefix + "/_sandbox/stats")) { _, _ -> Response in
            let stats = self.stats
            return SandboxHTTP.json(200, .object([
                ("authorizationCodeGrants", .int(stats.authorizationCodeGrants)), ("refreshGrants", .int(stats.refreshGrants)),
                ("invalidGrants", .int(stats.invalidGrants)), ("webhookRegistrations", .int(stats.webhookRegistrations)),
                ("orderCalls", .int(stats.orderCalls)), ("unauthorizedCalls", .int(stats.unauthorizedCalls)),
            ]))
        }
        router.post(RouterPath(prefix + "/_sandbox/expire-access-tokens")) { _, _ -> Response in
            self.expireAccessTokens()
            return SandboxHTTP.json(200, .object([("expired", .bool(true))]))
        }
        router.post(RouterPath(prefix + "/_sandbox/ready")) { request, _ -> Response in
            let body = Array(try await request.body.collect(upTo: 4096).readableBytesView)
            guard let json = try? JSONValue(JSONParser.parse(body)), case .bool(let ready)? = json["ready"] else {
                return SandboxHTTP.json(400, .object([("error", .string(#"send {"ready": true|false}"#))]))
            }
            self.setReady(ready)
            return SandboxHTTP.json(200, .object([("ready", .bool(ready))]))
        }
        router.post(RouterPath(prefix + "/_sandbox/webhook")) { request, _ -> Response in
            let body = Array(try await request.body.collect(upTo: 4096).readableBytesView)
            guard let json = try? JSONValue(JSONParser.parse(body)), let reference = json["thirdPartyReference"]?.stringValue,
                  let status = json["status"]?.stringValue
            else { return SandboxHTTP.json(400, .object([("error", .string(#"send {"thirdPartyReference","status","reason"?}"#))])) }
            do throws(WebhookFailure) {
                let sent = try await self.sendWebhook(reference: reference, status: status, reason: json["reason"]?.stringValue)
                return SandboxHTTP.json(200, .object([("status", .int(sent.status)), ("response", .string(sent.responseBody))]))
            } catch {
                return error.response
            }
        }
    }

    // MARK: OAuth

    static func oauthError(_ status: Int, _ code: String, _ description: String) -> Response {
        SandboxHTTP.json(status, .object([("error", .string(code)), ("error_description", .string(description))]))
    }

    func grant(headers: HTTPFields, body: [UInt8]) -> Response {
        guard headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            return Self.oauthError(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
        }
        let form = OAuthTokenSandbox.formFields(String(decoding: body, as: UTF8.self))
        let client = OAuthTokenSandbox.basicCredentials(headers[.authorization]) ?? (form["client_id"] ?? "", form["client_secret"] ?? "")
        guard client.0 == clientId, client.1 == clientSecret else {
            return Self.oauthError(401, "invalid_client", "unknown client or wrong secret")
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return state.withLock { state -> Response in
            switch form["grant_type"] ?? "" {
            case "authorization_code":
                state.stats.authorizationCodeGrants += 1
                guard let code = form["code"], let redirect = state.codes.removeValue(forKey: code) else {
                    state.stats.invalidGrants += 1
                    return Self.oauthError(400, "invalid_grant", "the authorization code is unknown or was already used")
                }
                guard form["redirect_uri"] == redirect else {
                    state.stats.invalidGrants += 1
                    return Self.oauthError(400, "invalid_grant", "redirect_uri does not match the authorization request")
                }
            case "refresh_token":
                state.stats.refreshGrants += 1
                guard let presented = form["refresh_token"], state.refreshTokens.remove(presented) != nil else {
                    state.stats.invalidGrants += 1
                    return Self.oauthError(400, "invalid_grant", "the refresh token is unknown or was already used")
                }
            case let other:
                return Self.oauthError(400, "unsupported_grant_type", "grant_type \(other.isEmpty ? "(missing)" : other) is not supported")
            }
            state.issued += 1
            let access = "ls-at-\(state.issued)-\(UUID().uuidString.lowercased())"
            let refresh = "ls-rt-\(state.issued)-\(UUID().uuidString.lowercased())"
            state.accessTokens[access] = now + accessTokenLifetime * 1000
            state.refreshTokens.insert(refresh)
            return SandboxHTTP.json(200, .object([
                ("access_token", .string(access)), ("token_type", .string("Bearer")), ("expires_in", .number(String(accessTokenLifetime))),
                ("refresh_token", .string(refresh)), ("scope", .string("orders-api")),
            ]))
        }
    }

    func authenticate(_ headers: HTTPFields) -> Response? {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return state.withLock { state -> Response? in
            guard let header = headers[.authorization], header.hasPrefix("Bearer "),
                  let expiresAt = state.accessTokens[String(header.dropFirst("Bearer ".count))], expiresAt > now
            else {
                state.stats.unauthorizedCalls += 1
                var response = Self.oauthError(401, "invalid_token", "the access token is missing, expired or revoked")
                response.headers[.wwwAuthenticate] = #"Bearer error="invalid_token""#
                return response
            }
            return nil
        }
    }

    // MARK: Webhook registration and orders

    /// Spring Boot's validation answer.
    static func springError(path: String, field: String, message: String, rejected: JSONValue = .null) -> Response {
        SandboxHTTP.json(400, .object([
            ("timestamp", .string("2024-12-01T14:00:00.000+00:00")), ("status", .int(400)), ("error", .string("Bad Request")),
            ("message", .string("Validation failed for object='order'. Error count: 1")),
            ("errors", .array([.object([
                ("codes", .array([.string("NotNull.order.\(field)")])), ("arguments", .null), ("defaultMessage", .string(message)),
                ("objectName", .string("order")), ("field", .string(field)), ("rejectedValue", rejected), ("bindingFailure", .bool(false)),
                ("code", .string("NotNull")),
            ])])),
            ("path", .string(path)),
        ]))
    }

    func registerWebhook(_ bytes: [UInt8]) -> Response {
        let path = "/o/wh/1/webhook"
        guard let json = try? JSONValue(JSONParser.parse(bytes)), case .object = json else {
            return Self.springError(path: path, field: "body", message: "must be a JSON object")
        }
        guard let id = json["endpointId"]?.stringValue, !id.isEmpty else { return Self.springError(path: path, field: "endpointId", message: "must not be blank") }
        guard let url = json["url"]?.stringValue, url.hasPrefix("http") else { return Self.springError(path: path, field: "url", message: "must be a URL") }
        var endpoint = Endpoint(endpointId: id, url: url, username: nil, password: nil)
        if json["withBasicAuth"] == .bool(true) {
            guard let user = json["username"]?.stringValue, let password = json["password"]?.stringValue else {
                return Self.springError(path: path, field: "username", message: "username and password are required with withBasicAuth")
            }
            endpoint.username = user
            endpoint.password = password
        }
        return state.withLock { state -> Response in
            state.stats.webhookRegistrations += 1
            guard state.endpoints[id] == nil else {
                return SandboxHTTP.json(409, .object([("status", .string("fail")), ("msg", .string("endpoint \(id) already exists"))]))
            }
            state.endpoints[id] = endpoint
            return SandboxHTTP.json(200, .object([("status", .string("ok"))]))
        }
    }

    func createOrder(_ bytes: [UInt8], path: String, local: Bool) -> Response {
        state.withLock { $0.stats.orderCalls += 1 }
        guard let json = try? JSONValue(JSONParser.parse(bytes)), case .object = json else {
            return Self.springError(path: path, field: "body", message: "must be a JSON object")
        }
        guard let location = json["businessLocationId"]?.integerValue else {
            return Self.springError(path: path, field: "businessLocationId", message: "must not be null")
        }
        guard location == Self.businessLocationId else {
            return Self.springError(path: path, field: "businessLocationId", message: "unknown business location", rejected: .integer(location))
        }
        guard let reference = json["thirdPartyReference"]?.stringValue, (1...48).contains(reference.count) else {
            return Self.springError(path: path, field: "thirdPartyReference", message: "size must be between 1 and 48")
        }
        guard let endpointId = json["endpointId"]?.stringValue else {
            return Self.springError(path: path, field: "endpointId", message: "must not be null")
        }
        guard let first = json["customerInfo"]?["firstName"]?.stringValue, (1...128).contains(first.count) else {
            return Self.springError(path: path, field: "customerInfo.firstName", message: "size must be between 1 and 128")
        }
        if let ttl = json["maxTimeToAttemptOrderDeliverToPos"], ttl != .null {
            guard let ms = ttl.integerValue, ms >= 60_000 else {
                return Self.springError(path: path, field: "maxTimeToAttemptOrderDeliverToPos", message: "must be at least 60000")
            }
        }
        guard case .array(let items)? = json["items"], !items.isEmpty else {
            return Self.springError(path: path, field: "items", message: "must not be empty")
        }
        func checkItems(_ list: [JSONValue], field: String) -> Response? {
            for (index, item) in list.enumerated() {
                let at = "\(field)[\(index)]"
                guard let quantity = item["quantity"]?.integerValue, quantity >= 1 else {
                    return Self.springError(path: path, field: "\(at).quantity", message: "must be a positive integer")
                }
                guard let sku = item["sku"]?.stringValue, (1...25).contains(sku.count) else {
                    return Self.springError(path: path, field: "\(at).sku", message: "size must be between 1 and 25")
                }
                guard Self.knownSkus.contains(sku) else {
                    return Self.springError(path: path, field: "\(at).sku", message: "unknown sku", rejected: .string(sku))
                }
                if let price = item["customItemPrice"], price != .null, !Self.isNumber(price) {
                    return Self.springError(path: path, field: "\(at).customItemPrice", message: "must be a number", rejected: price)
                }
                if case .array(let modifiers)? = item["modifiers"] {
                    for (m, modifier) in modifiers.enumerated() where modifier["modifierId"]?.stringValue?.isEmpty != false {
                        return Self.springError(path: path, field: "\(at).modifiers[\(m)].modifierId", message: "must not be blank")
                    }
                }
                if case .array(let subs)? = item["subItems"], let problem = checkItems(subs, field: "\(at).subItems") { return problem }
            }
            return nil
        }
        if let problem = checkItems(items, field: "items") { return problem }
        guard let amount = json["payment"]?["paymentAmount"], Self.isNumber(amount) else {
            return Self.springError(path: path, field: "payment.paymentAmount", message: "must be a number")
        }
        if local, json["deliveryAddress"] != nil {
            return Self.springError(path: path, field: "deliveryAddress", message: "is not accepted for local orders")
        }
        let outcome = state.withLock { state -> (Response, Bool) in
            guard state.endpoints[endpointId] != nil else {
                return (Self.springError(path: path, field: "endpointId", message: "no webhook endpoint with this id", rejected: .string(endpointId)), false)
            }
            guard !state.orders.contains(where: { $0.reference == reference }) else {
                return (SandboxHTTP.json(409, .object([("status", .string("fail")),
                                                      ("msg", .string("reference has already been used: \(reference)"))])), false)
            }
            state.orders.append(Order(path: path, reference: reference, endpointId: endpointId, body: json))
            if state.loseAnswers > 0 {
                state.loseAnswers -= 1
                return (SandboxHTTP.json(504, .object([("status", .string("504")), ("message", .string("Gateway Timeout"))])), false)
            }
            return (SandboxHTTP.json(200, .object([("status", .string("ok"))])), true)
        }
        if outcome.1 && autoAccept {
            Task { _ = try? await self.sendWebhook(reference: reference, status: "SUCCESS", reason: nil) }
        }
        return outcome.0
    }

    /// A JSON number as Lightspeed writes amounts in webhooks: a decimal string with two places (`"38.4"` → `"38.40"`).
    static func decimalString(_ number: String) -> String {
        let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts.first.map(String.init) ?? "0"
        var fraction = parts.count > 1 ? String(parts[1]) : ""
        while fraction.count < 2 { fraction += "0" }
        return "\(whole.isEmpty ? "0" : whole).\(fraction)"
    }

    static func isNumber(_ value: JSONValue) -> Bool {
        if case .number = value { true } else { false }
    }

    // MARK: Webhooks

    /// Sends an order notification for `reference` to its endpoint (HTTP Basic when registered so), with
    /// the account's amounts as decimal strings, and returns what the receiver answered.
    public func sendWebhook(reference: String, status: String, reason: String? = nil) async throws(WebhookFailure) -> WebhookDelivery {
        let found = state.withLock { state -> (Order, Endpoint)? in
            guard let order = state.orders.first(where: { $0.reference == reference }), let endpoint = state.endpoints[order.endpointId] else { return nil }
            return (order, endpoint)
        }
        guard let found else { throw .unknownOrder(reference) }
        let (order, endpoint) = found
        let paid = order.body["payment"]?["paymentAmount"]?.serialized ?? "0"
        let amount = Self.decimalString(paid)
        var body: [(String, JSONValue)] = [
            ("type", .string("ORDER")), ("status", .string(status)), ("thirdPartyReference", .string(reference)),
            ("businessLocationId", .integer(Self.businessLocationId)), ("ikentooAccountIdentifier", .string("A\(Self.businessLocationId % 100_000).\(order.reference.count)")),
        ]
        if let reason { body.append(("reason", .string(reason))) }
        body.append(("account", .object([
            ("uuid", .string(UUID().uuidString.lowercased())), ("openDate", .string("2024-12-01T13:24:49.265+0000")),
            ("paidAmount", .string(amount)), ("currentAmount", .string(amount)), ("serviceCharge", .string("0.00")),
            ("name", .string("Cata \(reference.prefix(8))")),
        ])))
        let bytes = JSONValue.object(body).bytes
        var headers = [("Content-Type", "application/json")]
        if let user = endpoint.username, let password = endpoint.password {
            headers.append(("Authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()))
        }
        let answer = try await SandboxWebhookPost.send(to: endpoint.url, headers: headers, body: bytes)
        return WebhookDelivery(body: bytes, status: answer.status, responseBody: answer.body)
    }
}
