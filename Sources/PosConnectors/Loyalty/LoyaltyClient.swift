import Foundation
import NIOCore
import PosDomain
import Tracing

/// Where a tenant's loyalty service is and how it is called.
public struct LoyaltyEndpoint: Sendable, Equatable {
    public var baseUrl: String
    public var apiKey: String
    public var timeoutMs: Int64

    public init(baseUrl: String, apiKey: String, timeoutMs: Int64) {
        self.baseUrl = baseUrl
        self.apiKey = apiKey
        self.timeoutMs = timeoutMs
    }
}

/// A readable answer of the loyalty service, at whatever status: `{code, isSuccess, message, …}`.
public struct LoyaltyAnswer: Sendable, Equatable {
    public var httpStatus: Int
    public var code: Int64
    public var isSuccess: Bool
    public var message: String
    /// What the partner gets for it on a 200: the envelope's three and the operation's own fields.
    public var body: JSONValue
}

/// The loyalty service did not give a readable answer.
public enum LoyaltyExchangeFailure: Error, Sendable, Equatable {
    /// No answer within the timeout: it may or may not have acted.
    case timeout(String)
    /// No connection, or the outbound guard refused the target.
    case unreachable(String)
    /// An answer we cannot use: not JSON, not the envelope, or missing the operation's fields.
    /// Carries the status only — the body may hold anything, secrets included.
    case unreadable(status: Int, reason: String)

    /// The failure's kind, for a span's status (the reasons may hold the URL).
    var kind: String {
        switch self {
        case .timeout: "timeout"
        case .unreachable: "unreachable"
        case .unreadable: "unreadable"
        }
    }
}

/// The loyalty service's `/v1/h2h/…` API: one HTTP exchange per call, over the shared transport
/// (its outbound guard and pool), authenticated with `X-Api-Key`. Pure mapping of the answer.
public struct LoyaltyClient: Sendable {
    private let transport: HTTPTransport

    public init(transport: HTTPTransport) {
        self.transport = transport
    }

    /// `GET` with query parameters (balance, customer) or `POST` with a JSON body (earn, use); a
    /// span `loyalty.<operation>` around the exchange.
    public func call(_ operation: LoyaltyOperation, endpoint: LoyaltyEndpoint, query: [(String, String)] = [],
                     body: JSONValue? = nil) async throws(LoyaltyExchangeFailure) -> LoyaltyAnswer {
        let result = await withSpan("loyalty.\(operation.rawValue)") { span -> Result<LoyaltyAnswer, LoyaltyExchangeFailure> in
            span.attributes["loyalty.operation"] = operation.rawValue
            do throws(LoyaltyExchangeFailure) {
                let answer = try await exchange(operation, endpoint: endpoint, query: query, body: body)
                span.updateAttributes { attributes in
                    attributes["http.response.status_code"] = answer.httpStatus
                    attributes["loyalty.success"] = answer.isSuccess
                }
                return .success(answer)
            } catch {
                span.setStatus(SpanStatus(code: .error, message: error.kind))
                return .failure(error)
            }
        }
        return try result.get()
    }

    private func exchange(_ operation: LoyaltyOperation, endpoint: LoyaltyEndpoint, query: [(String, String)],
                          body: JSONValue?) async throws(LoyaltyExchangeFailure) -> LoyaltyAnswer {
        let url = Self.url(endpoint.baseUrl, operation.upstreamPath, query: query)
        var headers = [("X-Api-Key", endpoint.apiKey), ("Accept", "application/json")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let response: HTTPTransport.Response
        do {
            response = try await transport.send(method: body == nil ? .GET : .POST, url: url, headers: headers, body: body?.bytes,
                                                timeout: .milliseconds(endpoint.timeoutMs))
        } catch {
            switch error {
            case .timeout(let reason): throw .timeout(reason)
            case .network(let reason), .invalidURL(let reason), .forbiddenTarget(let reason): throw .unreachable(reason)
            }
        }
        return try Self.answer(operation, status: response.status, body: response.body, truncated: response.truncated)
    }

    /// The request's URL: the base URL without a trailing slash, the path, and the query encoded.
    static func url(_ baseUrl: String, _ path: String, query: [(String, String)]) -> String {
        let base = baseUrl.hasSuffix("/") ? String(baseUrl.dropLast()) : baseUrl
        guard !query.isEmpty else { return base + path }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        let pairs = query.map { name, value in
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }
        return base + path + "?" + pairs.joined(separator: "&")
    }

    /// Reads an answer: the envelope (`code` an integer, `isSuccess` a boolean, `message` a string) and,
    /// on a success, the operation's fields. Anything else is unreadable.
    public static func answer(_ operation: LoyaltyOperation, status: Int, body: [UInt8], truncated: Bool = false)
        throws(LoyaltyExchangeFailure) -> LoyaltyAnswer {
        func unreadable(_ reason: String) -> LoyaltyExchangeFailure { .unreadable(status: status, reason: reason) }
        guard !truncated else { throw unreadable("the answer is larger than the service reads") }
        guard let node = try? JSONParser.parse(body), case .object = node.kind else { throw unreadable("the answer is not a JSON object") }
        let root = JSONValue(node)
        guard let code = root["code"]?.integerValue else { throw unreadable("the answer has no integer code") }
        guard case .bool(let isSuccess)? = root["isSuccess"] else { throw unreadable("the answer has no boolean isSuccess") }
        guard let message = root["message"]?.stringValue else { throw unreadable("the answer has no message") }
        var members: [(String, JSONValue)] = [("code", .integer(code)), ("isSuccess", .bool(isSuccess)), ("message", .string(message))]
        if isSuccess, (200...299).contains(status) {
            switch operation {
            case .balance:
                guard let balance = root["balance"]?.integerValue else { throw unreadable("the balance answer has no integer balance") }
                let expiring: Int64
                switch root["numOfPointsWillExpire"] {
                case nil, .null?: expiring = 0
                case let value?:
                    guard let number = value.integerValue else { throw unreadable("numOfPointsWillExpire is not an integer") }
                    expiring = number
                }
                let nearest: JSONValue
                switch root["nearestExpiryDateTimeUTC"] {
                case nil, .null?: nearest = .null
                case let value?:
                    guard let text = value.stringValue, let at = RFC3339.parseMilliseconds(text) else {
                        throw unreadable("nearestExpiryDateTimeUTC is not an RFC 3339 date-time")
                    }
                    nearest = .string(RFC3339.format(milliseconds: at))
                }
                members += [("balance", .integer(balance)), ("numOfPointsWillExpire", .integer(expiring)), ("nearestExpiryDateTimeUTC", nearest)]
            case .customer:
                guard let text = root["customerUuid"]?.stringValue, let customerUuid = try? LoyaltyRules.customerUuid(text) else {
                    throw unreadable("the customer answer has no customerUuid")
                }
                members.append(("customerUuid", .string(customerUuid)))
            case .earnPoints, .usePoints:
                break
            }
        }
        return LoyaltyAnswer(httpStatus: status, code: code, isSuccess: isSuccess, message: message, body: .object(members))
    }
}
