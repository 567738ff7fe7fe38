import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import Synchronization

/// A double of the loyalty service's host-to-host API (`/v1/h2h/…`), strict where the real one is:
///
/// - Every call needs `X-Api-Key: <apiKey>` (compared in constant time); otherwise 401.
/// - `GET /v1/h2h/points-balance?customerUuid=` → `{code: 0, isSuccess, message, balance,
///   numOfPointsWillExpire, nearestExpiryDateTimeUTC}`: points are kept in lots that expire; the
///   balance counts live lots, and the nearest expiry names the lot that expires first.
/// - `POST /v1/h2h/grant-points {customerUuid, points, refCode, displayNotes?}` adds a lot that
///   expires after ``pointsLifetimeMs``; `POST /v1/h2h/use-points {customerUuid, points, refCode}`
///   spends the lots that expire first, and refuses to overspend (200, `isSuccess: false`, code 1002).
/// - **refCode idempotency**: the first answer per (operation, refCode) is replayed for the same
///   request; the refCode with another customer or number of points is 409 (code 1003).
/// - `GET /v1/h2h/customer?identifier=` finds a customer by e-mail, phone or short code.
/// - Unknown customer: 404 (code 1001). A malformed request: 400 naming the field.
/// - `POST /_sandbox/fail-next {status?, delayMs?, times?}`: the next call(s) answer `status` with an
///   HTML page (nothing done: a 200 is an unreadable answer), or are done and answered `delayMs`
///   late (an answer that arrives after the caller gave up). `GET /_sandbox/state`, `DELETE
///   /_sandbox/state` (reset). No authentication on `/_sandbox/`.
public final class LoyaltySandbox: Sendable {
    // Sandbox values, not secrets.
    public static let defaultAPIKey = "loyalty-sandbox-key"
    public static let defaultCustomer = Customer(
        uuid: "3f2b8c1e-6d0a-4c5e-9f7b-2a1d4e6c8b90", email: "customer@example.com", phone: "+6281287730000", shortCode: "CUST01")
    /// The default customer's points: 10 that expire in 30 days, 120 in a year (130 in all).
    public static func defaultLots(now: Int64) -> [Lot] {
        [Lot(points: 10, expiresAt: now + 30 * 86_400_000), Lot(points: 120, expiresAt: now + 365 * 86_400_000)]
    }

    public struct Customer: Sendable, Equatable {
        public var uuid: String
        public var email: String
        public var phone: String
        public var shortCode: String

        public init(uuid: String, email: String, phone: String, shortCode: String) {
            self.uuid = uuid.lowercased()
            self.email = email
            self.phone = phone
            self.shortCode = shortCode
        }
    }

    /// Points that expire together (ms since the epoch).
    public struct Lot: Sendable, Equatable {
        public var points: Int64
        public var expiresAt: Int64

        public init(points: Int64, expiresAt: Int64) {
            self.points = points
            self.expiresAt = expiresAt
        }
    }

    /// One call as the double saw it.
    public struct Call: Sendable, Equatable {
        public var route: String
        public var refCode: String?
        public var keyAccepted: Bool
    }

    struct Move {
        let customerUuid: String
        let points: Int64
        let status: Int
        let answer: JSONValue
    }

    struct Injected {
        var status: Int?
        var delayMs: Int64
        var remaining: Int
    }

    struct State {
        var customers: [Customer] = []
        var lots: [String: [Lot]] = [:]
        /// "operation refCode" → the first answer.
        var moves: [String: Move] = [:]
        var calls: [Call] = []
        var injected: [Injected] = []
        /// Upstream grants and spends actually applied (replays excluded).
        var applied = 0
    }

    public let apiKey: String
    public let pointsLifetimeMs: Int64
    private let state: Mutex<State>

    public init(apiKey: String = LoyaltySandbox.defaultAPIKey, pointsLifetimeMs: Int64 = 365 * 86_400_000) {
        self.apiKey = apiKey
        self.pointsLifetimeMs = pointsLifetimeMs
        self.state = Mutex(Self.initialState())
    }

    private static func initialState() -> State {
        var state = State()
        state.customers = [defaultCustomer]
        state.lots[defaultCustomer.uuid] = defaultLots(now: Int64(Date().timeIntervalSince1970 * 1000))
        return state
    }

    // MARK: In-process access

    public func reset() {
        state.withLock { $0 = Self.initialState() }
    }

    public func addCustomer(_ customer: Customer, lots: [Lot] = []) {
        state.withLock { state in
            state.customers.append(customer)
            state.lots[customer.uuid] = lots
        }
    }

    /// Live points of a customer now.
    public func balance(_ customerUuid: String) -> Int64 {
        let now = Self.now
        return state.withLock { Self.live($0.lots[customerUuid.lowercased()] ?? [], now: now).reduce(0) { $0 + $1.points } }
    }

    public var calls: [Call] { state.withLock { $0.calls } }
    /// Grants and spends applied, not counting replays of a refCode.
    public var appliedMoves: Int { state.withLock { $0.applied } }

    /// The next `times` calls answer `status` (an HTML page, nothing done) and/or are answered `delayMs` late.
    public func failNext(status: Int? = nil, delayMs: Int64 = 0, times: Int = 1) {
        precondition(status.map { (200...599).contains($0) } ?? true && delayMs >= 0 && times >= 1, "failNext: bad arguments")
        state.withLock { $0.injected.append(Injected(status: status, delayMs: delayMs, remaining: times)) }
    }

    // MARK: Routes

    static let routes: [(HTTPRequest.Method, String)] = [
        (.get, "/v1/h2h/points-balance"), (.post, "/v1/h2h/grant-points"), (.post, "/v1/h2h/use-points"), (.get, "/v1/h2h/customer"),
    ]

    public func addRoutes<Context: RequestContext>(to router: Router<Context>, prefix: String = "/loyalty") {
        for (method, path) in Self.routes {
            router.on(RouterPath(prefix + path), method: method) { request, _ -> Response in
                let body = Array(try await request.body.collect(upTo: sandboxMaxBodyBytes).readableBytesView)
                var query: [String: String] = [:]
                for (key, value) in request.uri.queryParameters where query[String(key)] == nil { query[String(key)] = String(value) }
                let key = request.headers[HTTPField.Name("X-Api-Key")!]
                let injected = self.arrive()
                if let status = injected?.status {
                    if let delay = injected?.delayMs, delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
                    self.record(Call(route: path, refCode: nil, keyAccepted: SandboxFormats.credentialMatches(key, self.apiKey)))
                    return SandboxHTTP.html(status, title: "injected failure (sandbox fail-next)")
                }
                let response = self.handle(path, key: key, query: query, body: body)
                if let delay = injected?.delayMs, delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
                return response
            }
        }
        router.post(RouterPath(prefix + "/_sandbox/fail-next")) { request, _ -> Response in
            let bytes = Array(try await request.body.collect(upTo: 64 * 1024).readableBytesView)
            func reject(_ reason: String) -> Response { SandboxHTTP.json(400, .object([("error", .string(reason))])) }
            guard let node = try? SandboxBody.object(bytes) else {
                return reject(#"body must be a JSON object such as {"status":500} or {"delayMs":2000}"#)
            }
            var status: Int?
            if let value = node["status"] {
                guard let code = JSONChecker.plainInteger(value), (200...599).contains(code) else { return reject("status must be an integer 200...599") }
                status = code
            }
            var delayMs = 0
            if let value = node["delayMs"] {
                guard let delay = JSONChecker.plainInteger(value), (0...600_000).contains(delay) else { return reject("delayMs must be an integer 0...600000") }
                delayMs = delay
            }
            var times = 1
            if let value = node["times"] {
                guard let count = JSONChecker.plainInteger(value), count >= 1 else { return reject("times must be an integer ≥ 1") }
                times = count
            }
            guard status != nil || delayMs > 0 else { return reject("give status, delayMs or both") }
            self.failNext(status: status, delayMs: Int64(delayMs), times: times)
            return SandboxHTTP.json(200, .object([("status", .optionalInt(status)), ("delayMs", .int(delayMs)), ("times", .int(times))]))
        }
        router.get(RouterPath(prefix + "/_sandbox/state")) { _, _ -> Response in
            SandboxHTTP.json(200, self.snapshot)
        }
        router.delete(RouterPath(prefix + "/_sandbox/state")) { _, _ -> Response in
            self.reset()
            return SandboxHTTP.json(200, .object([("reset", .bool(true))]))
        }
    }

    private func arrive() -> Injected? {
        state.withLock { state in
            guard !state.injected.isEmpty else { return nil }
            let first = state.injected[0]
            state.injected[0].remaining -= 1
            if state.injected[0].remaining == 0 { state.injected.removeFirst() }
            return first
        }
    }

    private func record(_ call: Call) {
        state.withLock { $0.calls.append(call) }
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    static func answer(_ status: Int, code: Int, _ message: String, _ extra: [(String, JSONValue)] = []) -> (Int, JSONValue) {
        (status, .object([("code", .int(code)), ("isSuccess", .bool(code == 0)), ("message", .string(message))] + extra))
    }

    /// Lots not yet expired, the first to expire first.
    static func live(_ lots: [Lot], now: Int64) -> [Lot] {
        lots.filter { $0.expiresAt > now && $0.points > 0 }.sorted { $0.expiresAt < $1.expiresAt }
    }

    func handle(_ path: String, key: String?, query: [String: String], body: [UInt8]) -> Response {
        let (status, value) = answer(path, key: key, query: query, body: body)
        return SandboxHTTP.json(status, value)
    }

    private func answer(_ path: String, key: String?, query: [String: String], body: [UInt8]) -> (Int, JSONValue) {
        let keyAccepted = SandboxFormats.credentialMatches(key, apiKey)
        guard keyAccepted else {
            record(Call(route: path, refCode: nil, keyAccepted: false))
            return Self.answer(401, code: 401, key == nil ? "X-Api-Key is required" : "invalid API key")
        }
        switch path {
        case "/v1/h2h/points-balance":
            record(Call(route: path, refCode: nil, keyAccepted: true))
            guard let customerUuid = query["customerUuid"].flatMap({ try? LoyaltyRules.customerUuid($0) }) else {
                return Self.answer(400, code: 400, "customerUuid must be a UUID")
            }
            let now = Self.now
            return state.withLock { state in
                guard let lots = state.lots[customerUuid] else { return Self.answer(404, code: 1001, "customer not found") }
                let live = Self.live(lots, now: now)
                let balance = live.reduce(Int64(0)) { $0 + $1.points }
                let nearest = live.first
                let expiring = live.filter { $0.expiresAt == nearest?.expiresAt }.reduce(Int64(0)) { $0 + $1.points }
                return Self.answer(200, code: 0, "OK", [
                    ("balance", .integer(balance)), ("numOfPointsWillExpire", .integer(expiring)),
                    ("nearestExpiryDateTimeUTC", nearest.map { JSONValue.string(RFC3339.format(milliseconds: $0.expiresAt / 1000 * 1000)) } ?? .null),
                ])
            }
        case "/v1/h2h/customer":
            record(Call(route: path, refCode: nil, keyAccepted: true))
            guard let identifier = query["identifier"], !identifier.isEmpty else { return Self.answer(400, code: 400, "identifier is required") }
            return state.withLock { state in
                guard let customer = state.customers.first(where: {
                    $0.email.caseInsensitiveCompare(identifier) == .orderedSame || $0.phone == identifier || $0.shortCode == identifier
                }) else { return Self.answer(404, code: 1001, "customer not found") }
                return Self.answer(200, code: 0, "OK", [("customerUuid", .string(customer.uuid))])
            }
        default:
            return move(path, body: body)
        }
    }

    /// Grant or use: validated, then done once per refCode.
    private func move(_ path: String, body: [UInt8]) -> (Int, JSONValue) {
        let grant = path == "/v1/h2h/grant-points"
        let node: JSONNode
        do {
            node = try SandboxBody.object(body)
        } catch {
            record(Call(route: path, refCode: nil, keyAccepted: true))
            return Self.answer(400, code: 400, error.message)
        }
        var checker = JSONChecker(style: .brackets, wording: .plain)
        let customerText = checker.string(node["customerUuid"], FieldPath.root.key("customerUuid"), required: true, nonEmpty: true)
        let points = checker.integer(node["points"], FieldPath.root.key("points"), required: true, minimum: 1)
        let refCode = checker.string(node["refCode"], FieldPath.root.key("refCode"), required: true, nonEmpty: true)
        if grant {
            _ = checker.string(node["displayNotes"], FieldPath.root.key("displayNotes"), required: false)
        } else if node["displayNotes"] != nil {
            checker.fail(FieldPath.root.key("displayNotes"), "is not a field of use-points")
        }
        record(Call(route: path, refCode: refCode, keyAccepted: true))
        let customerUuid = customerText.flatMap { try? LoyaltyRules.customerUuid($0) }
        if customerText != nil, customerUuid == nil { checker.fail(FieldPath.root.key("customerUuid"), "must be a UUID") }
        if let refCode, refCode.utf8.count > 64 { checker.fail(FieldPath.root.key("refCode"), "must be at most 64 characters") }
        guard checker.isValid, let customerUuid, let points, let refCode else {
            let first = checker.violations.first
            return Self.answer(400, code: 400, first.map { "\($0.path) \($0.message)" } ?? "invalid request")
        }
        let amount = Int64(points)
        let now = Self.now
        return state.withLock { state -> (Int, JSONValue) in
            let key = "\(path) \(refCode)"
            if let earlier = state.moves[key] {
                guard earlier.customerUuid == customerUuid, earlier.points == amount else {
                    return Self.answer(409, code: 1003, "refCode \(refCode) was already used for a different request")
                }
                return (earlier.status, earlier.answer)
            }
            let result: (Int, JSONValue)
            if let lots = state.lots[customerUuid] {
                let live = Self.live(lots, now: now)
                let (balance, overflow) = live.reduce((Int64(0), false)) { sum, lot in
                    let (total, over) = sum.0.addingReportingOverflow(lot.points)
                    return (total, sum.1 || over)
                }
                if grant {
                    let (_, grantOverflow) = balance.addingReportingOverflow(amount)
                    if overflow || grantOverflow {
                        result = Self.answer(200, code: 1004, "the balance would be too large")
                    } else {
                        state.lots[customerUuid] = live + [Lot(points: amount, expiresAt: now + pointsLifetimeMs)]
                        state.applied += 1
                        result = Self.answer(200, code: 0, "OK")
                    }
                } else if overflow || balance < amount {
                    result = Self.answer(200, code: 1002, "insufficient points: balance \(balance), requested \(amount)")
                } else {
                    var remaining = amount
                    var kept: [Lot] = []
                    for var lot in live {
                        let spent = min(lot.points, remaining)
                        remaining -= spent
                        lot.points -= spent
                        if lot.points > 0 { kept.append(lot) }
                    }
                    state.lots[customerUuid] = kept
                    state.applied += 1
                    result = Self.answer(200, code: 0, "OK")
                }
            } else {
                result = Self.answer(404, code: 1001, "customer not found")
            }
            state.moves[key] = Move(customerUuid: customerUuid, points: amount, status: result.0, answer: result.1)
            return result
        }
    }

    var snapshot: JSONValue {
        let now = Self.now
        return state.withLock { state in
            .object([
                ("customers", .array(state.customers.map { customer -> JSONValue in
                    let live = Self.live(state.lots[customer.uuid] ?? [], now: now)
                    return .object([
                        ("customerUuid", .string(customer.uuid)), ("email", .string(customer.email)), ("phone", .string(customer.phone)),
                        ("shortCode", .string(customer.shortCode)), ("balance", .integer(live.reduce(Int64(0)) { $0 + $1.points })),
                        ("lots", .array(live.map { lot -> JSONValue in
                            .object([("points", .integer(lot.points)), ("expiresAt", .string(RFC3339.format(milliseconds: lot.expiresAt)))])
                        })),
                    ])
                })),
                ("refCodes", .int(state.moves.count)),
                ("appliedMoves", .int(state.applied)),
                ("calls", .int(state.calls.count)),
                ("rejectedKeys", .int(state.calls.filter { !$0.keyAccepted }.count)),
            ])
        }
    }
}
