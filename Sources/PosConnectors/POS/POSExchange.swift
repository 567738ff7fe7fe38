import Foundation
import NIOHTTP1
import PosDomain

/// One HTTP call to a POS, answered in the terms the outbox acts on. Connectors make their
/// exchanges through this so every POS failure is classified the same way.
public struct POSExchange: Sendable {
    public let transport: HTTPTransport
    public let clock: @Sendable () -> Int64

    public init(transport: HTTPTransport, clock: @escaping @Sendable () -> Int64) {
        self.transport = transport
        self.clock = clock
    }

    public struct Answer: Sendable {
        public var response: HTTPTransport.Response
        public var durationMs: Int64
        public var finishedAt: Int64

        public var succeeded: Bool { (200..<300).contains(response.status) }

        /// The body parsed as JSON, when it is.
        public var json: JSONValue? {
            (try? JSONParser.parse(response.body)).map(JSONValue.init)
        }

        public var excerpt: String? {
            let text = String(decoding: response.body.prefix(1024), as: UTF8.self)
            return text.isEmpty ? nil : text
        }
    }

    /// Sends one request; a network failure or timeout comes back as the attempt's outcome.
    public func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)], json body: JSONValue? = nil,
                     contentType: String = "application/json") async -> Result<Answer, POSCallFailure> {
        var headers = headers
        if body != nil { headers.append(("Content-Type", contentType)) }
        headers.append(("Accept", "application/json"))
        let started = clock()
        do {
            let response = try await transport.send(method: method, url: url, headers: headers, body: body?.bytes)
            let finished = clock()
            return .success(Answer(response: response, durationMs: finished - started, finishedAt: finished))
        } catch {
            return .failure(POSCallFailure(outcome: .fromTransportFailure(error, signedWith: nil, durationMs: clock() - started)))
        }
    }
}

extension POSExchange {
    /// One call authorized with the connection's credential, built into headers by `authorize`. A 401
    /// asks the credential source for a replacement (an OAuth refresh, done by one caller across
    /// replicas) and retries exactly once; a second 401, or a 401 to a static key, is the answer.
    public func send(_ method: HTTPMethod, _ url: String, access: ProviderAccess, authorize: (Credential) -> [(String, String)],
                     json body: JSONValue? = nil, contentType: String = "application/json") async -> Result<Answer, POSCallFailure> {
        let credential: Credential
        do throws(CredentialFailure) {
            credential = try await access.credentials.credential()
        } catch {
            return .failure(POSCallFailure(outcome: .credentialFailed(error)))
        }
        let first = await send(method, url, headers: authorize(credential), json: body, contentType: contentType)
        guard case .success(let answer) = first, answer.response.status == 401 else { return first }
        let replacement: Credential?
        do throws(CredentialFailure) {
            replacement = try await access.credentials.credential(replacing: credential)
        } catch {
            return .failure(POSCallFailure(outcome: .credentialFailed(error, durationMs: answer.durationMs)))
        }
        guard let replacement else { return first }
        return await send(method, url, headers: authorize(replacement), json: body, contentType: contentType).map { retried in
            var retried = retried
            retried.durationMs += answer.durationMs
            return retried
        }
    }
}

extension POSExchange {
    /// `text` as one URL path segment: an id from a POS (or from an order) cannot add segments or a query.
    public static func pathSegment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreservedCharacters) ?? text
    }

    private static let unreservedCharacters = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}

/// A call that did not get an HTTP answer, already turned into the attempt's outcome.
public struct POSCallFailure: Error, Sendable {
    public var outcome: ConnectorOutcome
}

extension ConnectorOutcome {
    /// The POS accepted the order.
    public static func accepted(_ answer: POSExchange.Answer, externalOrderId: String?, summary: String? = nil, durationMs: Int64) -> ConnectorOutcome {
        ConnectorOutcome(statusCode: answer.response.status, failureClass: nil, error: nil, responseExcerpt: summary ?? answer.excerpt,
                         signedWith: nil, retryable: false, retryAfterMs: nil, externalOrderId: externalOrderId, durationMs: durationMs)
    }

    /// The POS said no. Auth (401/403) and validation (other 4xx) failures are not retried: the
    /// same request would fail again. 408/425/429 and 5xx are, honouring `Retry-After`.
    public static func refused(_ answer: POSExchange.Answer, step: String, message: String? = nil, durationMs: Int64) -> ConnectorOutcome {
        let status = answer.response.status
        let (failureClass, retryable): (FailureClass, Bool) = switch status {
        case 401, 403: (.auth, false)
        case 408, 425, 429, 500...599: (.httpStatus, true)
        default: (.rejected, false)
        }
        let detail = message.map { ": \($0)" } ?? ""
        return ConnectorOutcome(
            statusCode: status, failureClass: failureClass, error: "\(step) answered HTTP \(status)\(detail)", responseExcerpt: answer.excerpt,
            signedWith: nil, retryable: retryable,
            retryAfterMs: retryable ? answer.response.header("Retry-After").flatMap { RetryAfter.milliseconds($0, now: answer.finishedAt) } : nil,
            externalOrderId: nil, durationMs: durationMs)
    }

    /// A 2xx whose body is not what the POS documents: retrying will not make it so.
    public static func unexpectedAnswer(_ answer: POSExchange.Answer, step: String, expected: String, durationMs: Int64) -> ConnectorOutcome {
        ConnectorOutcome(statusCode: answer.response.status, failureClass: .unexpectedResponse,
                         error: "\(step) answered HTTP \(answer.response.status) without \(expected)", responseExcerpt: answer.excerpt,
                         signedWith: nil, retryable: false, retryAfterMs: nil, externalOrderId: nil, durationMs: durationMs)
    }

    /// The same outcome with the total time of every exchange of the attempt.
    func taking(_ durationMs: Int64) -> ConnectorOutcome {
        var copy = self
        copy.durationMs = durationMs
        return copy
    }
}

extension JSONValue {
    /// An id as text: `123` or `"abc"` both become `"123"` / `"abc"`.
    public var idText: String? {
        switch self {
        case .string(let text): text.isEmpty ? nil : text
        case .number: integerValue.map(String.init)
        default: nil
        }
    }
}
