import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import Synchronization

// Plumbing shared by the POS doubles: request counting and failure injection per route, the
// `/_sandbox/` control endpoints, JSON responses, and a JSON checker that names the failing field.

/// The largest request body a double reads.
let sandboxMaxBodyBytes = 1 << 20

// MARK: - Requests and responses

/// What a double's handler sees of a request: the body is already read (up to 1 MiB).
struct SandboxRequest: Sendable {
    let method: HTTPRequest.Method
    let headers: HTTPFields
    let body: [UInt8]
    /// Path captures, e.g. `id` for `/api/v1/pos/orders/{id}`.
    let parameters: [String: String]
    let query: [String: String]

    func header(_ name: HTTPField.Name) -> String? { headers[name] }
}

enum SandboxHTTP {
    static func status(_ code: Int) -> HTTPResponse.Status {
        let reasons: [Int: String] = [
            200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
            413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
        ]
        return HTTPResponse.Status(code: code, reasonPhrase: reasons[code] ?? "")
    }

    static func json(_ code: Int, _ value: JSONValue) -> Response {
        Response(status: status(code), headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: value.serialized)))
    }

    static func html(_ code: Int, title: String) -> Response {
        let page = "<!DOCTYPE html>\n<html><head><title>\(code) \(title)</title></head><body><h1>\(title)</h1></body></html>\n"
        return Response(status: status(code), headers: [.contentType: "text/html; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: page)))
    }

    /// Seconds since the Unix epoch.
    static var unixNow: Int64 { Int64(Date().timeIntervalSince1970) }

    /// Now as RFC 3339 UTC text, for `receivedAt`.
    static var timestamp: String { RFC3339.format(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)) }
}

/// A request body that must be a JSON object.
enum SandboxBody {
    struct Problem: Error {
        let message: String
    }

    /// The body as a JSON object, or why it is not one.
    static func object(_ bytes: [UInt8]) throws(Problem) -> JSONNode {
        let node: JSONNode
        do {
            node = try JSONParser.parse(bytes)
        } catch {
            throw Problem(message: bytes.isEmpty ? "body is empty; a JSON object is expected" : "body is not valid JSON: \(error.description)")
        }
        guard case .object = node.kind else { throw Problem(message: "body must be a JSON object, not \(node.typeName)") }
        return node
    }
}

extension JSONValue {
    static func int(_ value: Int) -> JSONValue { .number(String(value)) }
    static func optionalString(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
    static func optionalInt(_ value: Int?) -> JSONValue { value.map(JSONValue.int) ?? .null }
}

/// Amounts in cents, written as JSON numbers with two decimals (`25.98`).
enum Cents {
    static func decimal(_ cents: Int64) -> String {
        let sign = cents < 0 ? "-" : ""
        let magnitude = cents.magnitude
        let fraction = String(magnitude % 100)
        return "\(sign)\(magnitude / 100).\(fraction.count == 1 ? "0" + fraction : fraction)"
    }

    static func number(_ cents: Int64) -> JSONValue { .number(decimal(cents)) }
}

// MARK: - Routes, counts and injected failures

/// A route a double serves: method plus the pattern after the double's prefix, `{id}` for captures.
struct SandboxRoute: Hashable, Sendable, CustomStringConvertible {
    let method: String
    let pattern: String

    init(_ method: HTTPRequest.Method, _ pattern: String) {
        self.method = method.rawValue
        self.pattern = Self.normalize(pattern)
    }

    var description: String { "\(method) \(pattern)" }

    /// `/order/create/` → `/order/create`; `:id` → `{id}`; a leading slash is added.
    static func normalize(_ pattern: String) -> String {
        let components = pattern.split(separator: "/", omittingEmptySubsequences: true).map { component -> String in
            component.first == ":" ? "{\(component.dropFirst())}" : String(component)
        }
        return "/" + components.joined(separator: "/")
    }

    /// Parses `"/path"` or `"METHOD /path"` into an optional method and a normalised pattern.
    static func selector(_ text: String) -> (method: String?, pattern: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let space = trimmed.firstIndex(of: " ") {
            let method = trimmed[..<space].uppercased()
            return (method, normalize(String(trimmed[space...]).trimmingCharacters(in: .whitespaces)))
        }
        return (nil, normalize(trimmed))
    }
}

/// Which routes a double serves, how often each was called, and the failures queued for them.
final class RouteLedger: Sendable {
    struct Failure: Sendable {
        var method: String?
        var pattern: String
        var status: Int
        var remaining: Int
    }

    struct State {
        var counts: [SandboxRoute: Int] = [:]
        var failures: [Failure] = []
    }

    let routes: [SandboxRoute]
    private let state = Mutex(State())

    init(routes: [SandboxRoute]) {
        self.routes = routes
    }

    /// Why `selector` names no route of this double, or nil when it does.
    func unknownRouteReason(_ selector: String) -> String? {
        let (method, pattern) = SandboxRoute.selector(selector)
        let known = routes.contains { $0.pattern == pattern && (method == nil || $0.method == method) }
        guard !known else { return nil }
        return "unknown route \"\(selector)\"; known routes: " + routes.map(\.description).joined(separator: ", ")
    }

    func failNext(_ selector: String, status: Int, times: Int) {
        if let reason = unknownRouteReason(selector) { preconditionFailure(reason) }
        precondition((400...599).contains(status), "failNext status must be 400...599")
        precondition(times >= 1, "failNext times must be at least 1")
        let (method, pattern) = SandboxRoute.selector(selector)
        state.withLock { $0.failures.append(Failure(method: method, pattern: pattern, status: status, remaining: times)) }
    }

    func requestCount(_ selector: String) -> Int {
        let (method, pattern) = SandboxRoute.selector(selector)
        return state.withLock { state in
            state.counts.reduce(0) { sum, entry in
                entry.key.pattern == pattern && (method == nil || entry.key.method == method) ? sum + entry.value : sum
            }
        }
    }

    var counts: [SandboxRoute: Int] { state.withLock { $0.counts } }

    /// Counts the request and returns the status of an injected failure it must answer with, if any.
    func arrive(_ route: SandboxRoute) -> Int? {
        state.withLock { state in
            state.counts[route, default: 0] += 1
            guard let index = state.failures.firstIndex(where: {
                $0.pattern == route.pattern && ($0.method == nil || $0.method == route.method)
            }) else { return nil }
            let status = state.failures[index].status
            state.failures[index].remaining -= 1
            if state.failures[index].remaining == 0 { state.failures.remove(at: index) }
            return status
        }
    }

    func reset() {
        state.withLock { $0 = State() }
    }

    var countsJSON: JSONValue {
        let counts = self.counts
        return .object(routes.compactMap { route in counts[route].map { (route.description, .int($0)) } })
    }

    /// Registers `handler` for `route` under `prefix`: reads the body (1 MiB at most), counts the request,
    /// answers an injected failure before anything else, then calls the handler.
    func mount<Context: RequestContext>(
        _ route: SandboxRoute, on router: Router<Context>, prefix: String,
        errorResponse: @escaping @Sendable (_ status: Int, _ message: String) -> Response,
        handler: @escaping @Sendable (SandboxRequest) async -> Response
    ) {
        precondition(routes.contains(route), "\(route) is not declared")
        router.on(RouterPath(prefix + route.pattern), method: HTTPRequest.Method(route.method)!) { request, context -> Response in
            if let status = self.arrive(route) {
                return errorResponse(status, "injected failure (sandbox fail-next) for \(route)")
            }
            let body: [UInt8]
            do {
                body = Array(try await request.body.collect(upTo: sandboxMaxBodyBytes).readableBytesView)
            } catch {
                return errorResponse(413, "request body larger than \(sandboxMaxBodyBytes) bytes")
            }
            var parameters: [String: String] = [:]
            for (key, value) in context.parameters { parameters[String(key)] = String(value) }
            var query: [String: String] = [:]
            for (key, value) in request.uri.queryParameters where query[String(key)] == nil {
                query[String(key)] = String(value)
            }
            return await handler(SandboxRequest(method: request.method, headers: request.headers, body: body,
                                                parameters: parameters, query: query))
        }
    }

    /// `GET|DELETE {prefix}/_sandbox/orders`, `POST {prefix}/_sandbox/fail-next`, `GET {prefix}/_sandbox/catalogue`.
    /// No authentication.
    func mountControl<Context: RequestContext>(
        on router: Router<Context>, prefix: String,
        snapshot: @escaping @Sendable () -> JSONValue,
        catalogue: @escaping @Sendable () -> JSONValue,
        reset: @escaping @Sendable () -> Void
    ) {
        router.get(RouterPath(prefix + "/_sandbox/orders")) { _, _ -> Response in
            SandboxHTTP.json(200, snapshot())
        }
        router.delete(RouterPath(prefix + "/_sandbox/orders")) { _, _ -> Response in
            reset()
            return SandboxHTTP.json(200, .object([("reset", .bool(true))]))
        }
        router.get(RouterPath(prefix + "/_sandbox/catalogue")) { _, _ -> Response in
            SandboxHTTP.json(200, catalogue())
        }
        router.post(RouterPath(prefix + "/_sandbox/fail-next")) { request, _ -> Response in
            func reject(_ reason: String) -> Response { SandboxHTTP.json(400, .object([("error", .string(reason))])) }
            let bytes: [UInt8]
            do {
                bytes = Array(try await request.body.collect(upTo: 64 * 1024).readableBytesView)
            } catch {
                return reject("body larger than 64 KiB")
            }
            guard let node = try? JSONParser.parse(bytes), case .object = node.kind else {
                return reject(#"body must be a JSON object such as {"route":"/order/create","status":503,"times":1}"#)
            }
            guard let routeNode = node["route"], case .string(let selector) = routeNode.kind else {
                return reject("route must be a string such as \"/order/create\" or \"POST /order/create\"")
            }
            if let reason = self.unknownRouteReason(selector) { return reject(reason) }
            guard let statusNode = node["status"], let status = JSONChecker.plainInteger(statusNode), (400...599).contains(status) else {
                return reject("status must be an integer 400...599")
            }
            var times = 1
            if let timesNode = node["times"] {
                guard let value = JSONChecker.plainInteger(timesNode), value >= 1 else { return reject("times must be an integer ≥ 1") }
                times = value
            }
            self.failNext(selector, status: status, times: times)
            return SandboxHTTP.json(200, .object([
                ("route", .string(selector)), ("status", .int(status)), ("times", .int(times)),
            ]))
        }
    }
}

// MARK: - Validation

/// A path to a field in a request body, rendered in the vendor's style.
struct FieldPath: Sendable {
    enum Component: Sendable {
        case key(String)
        case index(Int)
    }

    enum Style: Sendable {
        /// `items[1].price.value`
        case brackets
        /// `items.1.price` (Laravel)
        case dots
    }

    var components: [Component] = []

    static let root = FieldPath()

    func key(_ key: String) -> FieldPath { FieldPath(components: components + [.key(key)]) }
    func index(_ index: Int) -> FieldPath { FieldPath(components: components + [.index(index)]) }

    func rendered(_ style: Style) -> String {
        guard !components.isEmpty else { return "body" }
        var out = ""
        for component in components {
            switch (component, style) {
            case (.key(let key), _):
                out += out.isEmpty ? key : "." + key
            case (.index(let index), .brackets):
                out += "[\(index)]"
            case (.index(let index), .dots):
                out += out.isEmpty ? String(index) : ".\(index)"
            }
        }
        return out
    }
}

/// Walks a parsed body, recording every violation with the path of the field at fault.
///
/// Accessors return nil when the field is absent or wrong; a wrong field is recorded, an absent one only
/// when it is required. Optional fields that are present must have the right type (`null` included).
struct JSONChecker {
    enum Wording {
        /// `is required`, `must be an integer` — the vendor joins path and message.
        case plain
        /// Laravel's sentences: `The items.0.price field must be a number.`
        case laravel
    }

    struct Violation: Sendable, Equatable {
        let path: String
        let message: String
    }

    let style: FieldPath.Style
    let wording: Wording
    private(set) var violations: [Violation] = []

    init(style: FieldPath.Style, wording: Wording) {
        self.style = style
        self.wording = wording
    }

    var isValid: Bool { violations.isEmpty }

    mutating func fail(_ path: FieldPath, _ message: String) {
        violations.append(Violation(path: path.rendered(style), message: message))
    }

    /// Records a standard problem, worded for the vendor.
    mutating func fail(_ path: FieldPath, _ problem: Problem) {
        fail(path, message(for: problem, at: path.rendered(style)))
    }

    enum Problem {
        case required
        case type(String)
        case minimum(String)
        case maximum(String)
        case decimals(Int)
        case invalidChoice
    }

    func message(for problem: Problem, at path: String) -> String {
        switch (wording, problem) {
        case (.plain, .required): "is required"
        case (.plain, .type(let type)): "must be \(type)"
        case (.plain, .minimum(let minimum)): "must be at least \(minimum)"
        case (.plain, .maximum(let maximum)): "must not be greater than \(maximum)"
        case (.plain, .decimals(let digits)): "must have at most \(digits) decimal places"
        case (.plain, .invalidChoice): "is not one of the allowed values"
        case (.laravel, .required): "The \(path) field is required."
        case (.laravel, .type(let type)): "The \(path) field must be \(type)."
        case (.laravel, .minimum(let minimum)): "The \(path) field must be at least \(minimum)."
        case (.laravel, .maximum(let maximum)): "The \(path) field must not be greater than \(maximum)."
        case (.laravel, .decimals(let digits)): "The \(path) field must have 0-\(digits) decimal places."
        case (.laravel, .invalidChoice): "The selected \(path) is invalid."
        }
    }

    private func describe(_ node: JSONNode) -> String {
        switch node.kind {
        case .string(let text): "a string (\(JSONText.quoted(text.count > 40 ? String(text.prefix(40)) + "…" : text)))"
        case .number(let text): "a number (\(text))"
        default: node.typeName
        }
    }

    /// `key` of `object`, nil when absent (recorded when `required`).
    mutating func member(_ object: JSONNode, _ key: String, _ path: FieldPath, required: Bool) -> JSONNode? {
        let node = object[key]
        if node == nil, required { fail(path, .required) }
        return node
    }

    mutating func object(_ node: JSONNode?, _ path: FieldPath, required: Bool) -> JSONNode? {
        guard let node else {
            if required { fail(path, .required) }
            return nil
        }
        guard case .object = node.kind else {
            fail(path, wording == .plain ? "must be an object, not \(describe(node))" : message(for: .type("an object"), at: path.rendered(style)))
            return nil
        }
        return node
    }

    mutating func array(_ node: JSONNode?, _ path: FieldPath, required: Bool, nonEmpty: Bool) -> [JSONNode]? {
        guard let node else {
            if required { fail(path, .required) }
            return nil
        }
        guard case .array(let elements) = node.kind else {
            fail(path, wording == .plain ? "must be an array, not \(describe(node))" : message(for: .type("an array"), at: path.rendered(style)))
            return nil
        }
        if nonEmpty, elements.isEmpty {
            fail(path, wording == .plain ? "must not be empty" : "The \(path.rendered(style)) field is required.")
            return nil
        }
        return elements
    }

    mutating func string(_ node: JSONNode?, _ path: FieldPath, required: Bool, nonEmpty: Bool = false) -> String? {
        guard let node else {
            if required { fail(path, .required) }
            return nil
        }
        guard case .string(let text) = node.kind else {
            fail(path, wording == .plain ? "must be a string, not \(describe(node))" : message(for: .type("a string"), at: path.rendered(style)))
            return nil
        }
        if nonEmpty, text.isEmpty {
            fail(path, wording == .plain ? "must not be empty" : "The \(path.rendered(style)) field is required.")
            return nil
        }
        return text
    }

    mutating func bool(_ node: JSONNode?, _ path: FieldPath, required: Bool) -> Bool? {
        guard let node else {
            if required { fail(path, .required) }
            return nil
        }
        guard case .bool(let flag) = node.kind else {
            fail(path, wording == .plain ? "must be a boolean, not \(describe(node))" : "The \(path.rendered(style)) field must be true or false.")
            return nil
        }
        return flag
    }

    /// A JSON number written as a whole number (`15`, not `15.0`, `"15"` or `1.5e1`) that fits `Int`.
    static func plainInteger(_ node: JSONNode) -> Int? {
        guard case .number(let text) = node.kind else { return nil }
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }

    mutating func integer(_ node: JSONNode?, _ path: FieldPath, required: Bool, minimum: Int? = nil) -> Int? {
        guard let node else {
            if required { fail(path, .required) }
            return nil
        }
        guard let value = Self.plainInteger(node) else {
            fail(path, wording == .plain ? "must be an integer, not \(describe(node))" : message(for: .type("an integer"), at: path.rendered(style)))
            return nil
        }
        if let minimum, value < minimum {
            fail(path, .minimum(String(minimum)))
            return nil
        }
        return value
    }

    /// Number of digits after the decimal point in plain decimal number text, nil when the text is not
    /// `-?digits[.digits]` (exponents are not plain decimals).
    static func decimalPlaces(_ text: String) -> Int? {
        let unsigned = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        let parts = unsigned.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } })
        else { return nil }
        return parts.count == 2 ? parts[1].count : 0
    }

    /// Money as a JSON number in major units (`12.99`) with at most `maxDecimals` places; returns cents.
    /// A string here is the wrong money representation.
    mutating func moneyNumber(_ node: JSONNode?, _ path: FieldPath, required: Bool, maxDecimals: Int = 2,
                              positive: Bool = false) -> Int64? {
        guard let node else {
            if required { fail(path, .required) }
            return nil
        }
        guard case .number(let text) = node.kind else {
            if case .string = node.kind {
                fail(path, wording == .plain
                     ? "must be a JSON number such as 12.99, not \(describe(node)) (wrong money representation)"
                     : message(for: .type("a number"), at: path.rendered(style)))
            } else {
                fail(path, wording == .plain ? "must be a JSON number such as 12.99, not \(describe(node))"
                     : message(for: .type("a number"), at: path.rendered(style)))
            }
            return nil
        }
        guard let places = Self.decimalPlaces(text) else {
            fail(path, wording == .plain ? "must be a plain decimal number such as 12.99, not \(text) (wrong money representation)"
                 : message(for: .type("a number"), at: path.rendered(style)))
            return nil
        }
        guard places <= maxDecimals else {
            fail(path, wording == .plain ? "must have at most \(maxDecimals) decimal places, got \(text) (wrong money representation)"
                 : message(for: .decimals(maxDecimals), at: path.rendered(style)))
            return nil
        }
        guard !text.hasPrefix("-") || text.allSatisfy({ $0 == "-" || $0 == "0" || $0 == "." }) else {
            fail(path, .minimum("0"))
            return nil
        }
        guard let cents = try? ExactDecimal(text).scaled(by: 2) else {
            fail(path, wording == .plain ? "is out of range" : "The \(path.rendered(style)) field is out of range.")
            return nil
        }
        if positive, cents <= 0 {
            fail(path, wording == .plain ? "must be greater than 0" : "The \(path.rendered(style)) field must be greater than 0.")
            return nil
        }
        return cents
    }
}

// MARK: - Small validators

enum SandboxFormats {
    /// An IANA time-zone name Foundation knows (`Europe/Berlin`, `UTC`); offsets such as `GMT+1` are not names.
    static func isTimeZoneName(_ name: String) -> Bool {
        guard !name.isEmpty, TimeZone(identifier: name) != nil else { return false }
        return !name.contains("+") && !(name.contains("-") && (name.hasPrefix("GMT") || name.hasPrefix("UTC")))
            && !name.first!.isNumber
    }

    /// `YYYY-MM-DDTHH:MM:SS`, a local wall-clock time without offset.
    static func isLocalDateTime(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard b.count == 19 else { return false }
        for (index, byte) in b.enumerated() {
            switch index {
            case 4, 7: guard byte == UInt8(ascii: "-") else { return false }
            case 10: guard byte == UInt8(ascii: "T") else { return false }
            case 13, 16: guard byte == UInt8(ascii: ":") else { return false }
            default: guard byte >= 0x30, byte <= 0x39 else { return false }
            }
        }
        // Same calendar rules as RFC 3339, checked by parsing it as UTC.
        return RFC3339.parseMilliseconds(text + "Z") != nil
    }

    /// `^[\w\d\. \-]+$` with Unicode word characters.
    static func isIntermediary(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy { scalar in
            scalar == "_" || scalar == "." || scalar == " " || scalar == "-"
                || scalar.properties.isAlphabetic || scalar.properties.numericType != nil
                || scalar.properties.generalCategory == .nonspacingMark || scalar.properties.generalCategory == .spacingMark
                || scalar.properties.generalCategory == .connectorPunctuation
        }
    }

    /// Compares a presented credential with the configured one in constant time.
    static func credentialMatches(_ presented: String?, _ expected: String) -> Bool {
        guard let presented else { return false }
        return ConstantTime.equals(Array(presented.utf8), Array(expected.utf8))
    }
}

/// Why a double's webhook was not sent or got no answer — one type for every double that sends them.
public enum SandboxWebhookFailure: Error, Sendable, Equatable {
    /// No receiver set yet; `setup` says how to set one.
    case notConfigured(setup: String)
    case unknownOrder(String)
    case unreachable(String)

    public var message: String {
        switch self {
        case .notConfigured(let setup): "no webhook receiver configured: \(setup) first"
        case .unknownOrder(let id): "order \(id) not found"
        case .unreachable(let reason): "the webhook receiver did not answer: \(reason)"
        }
    }

    /// A control endpoint's answer: 404 unknown order, 409 no receiver, 502 no answer; `{"error"}`.
    var response: Response {
        let status = switch self {
        case .unknownOrder: 404
        case .notConfigured: 409
        case .unreachable: 502
        }
        return SandboxHTTP.json(status, .object([("error", .string(message))]))
    }
}

/// One webhook a double sent and what the receiver answered.
public struct SandboxWebhookDelivery: Sendable {
    public let event: String
    public let headers: [(String, String)]
    public let body: [UInt8]
    /// The receiver's answer.
    public let status: Int
    public let responseBody: String
}

/// How every double POSTs a webhook to its receiver.
enum SandboxWebhookPost {
    /// How long a double waits for the receiver.
    static let timeoutSeconds: Int64 = 10

    /// The receiver's status and answer; `.unreachable` when it gave none.
    static func send(to url: String, headers: [(String, String)], body: [UInt8]) async throws(SandboxWebhookFailure) -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeoutSeconds))
            let answer = try await response.body.collect(upTo: sandboxMaxBodyBytes)
            return (Int(response.status.code), String(buffer: answer))
        } catch {
            throw .unreachable(String(describing: error))
        }
    }
}
