import Foundation
import PosDomain

/// The standard path: POST the verbatim order bytes to the partner's callback URL, signed with
/// `X-Cata-Signature` and the Standard Webhooks headers.
public struct WebhookConnector: SignedWebhookSending {
    public let name = "webhook"
    private let transport: HTTPTransport
    private let clock: @Sendable () -> Int64

    public init(transport: HTTPTransport, clock: @escaping @Sendable () -> Int64) {
        self.transport = transport
        self.clock = clock
    }

    public func send(_ request: ConnectorRequest) async -> ConnectorOutcome {
        guard case .webhook(let url, let secrets) = request.destination else {
            return .invalidTarget("webhook connector needs a webhook destination")
        }
        let started = clock()
        let headers = WebhookSigning.headers(
            event: request.event,
            deliveryId: request.deliveryId,
            timestamp: started / 1000,
            body: request.orderBytes,
            secrets: secrets
        )
        let signedWith = secrets.count > 1 ? "current+previous" : "current"
        do {
            let response = try await transport.send(method: .POST, url: url, headers: headers.map { ($0.name, $0.value) }, body: request.orderBytes)
            let duration = clock() - started
            return ConnectorOutcome.fromHTTP(response, signedWith: signedWith, durationMs: duration, now: started + duration)
        } catch {
            return ConnectorOutcome.fromTransportFailure(error, signedWith: signedWith, durationMs: clock() - started)
        }
    }
}

extension ConnectorOutcome {
    static func invalidTarget(_ message: String) -> ConnectorOutcome {
        .failed(.invalidTarget, message, retryable: false)
    }

    /// 2xx is delivered; anything else is a failure worth retrying (decisions D5), with the
    /// receiver's `Retry-After` kept.
    public static func fromHTTP(_ response: HTTPTransport.Response, signedWith: String?, durationMs: Int64, now: Int64) -> ConnectorOutcome {
        let excerpt = String(decoding: response.body.prefix(1024), as: UTF8.self)
        let success = (200..<300).contains(response.status)
        return ConnectorOutcome(
            statusCode: response.status,
            failureClass: success ? nil : .httpStatus,
            error: success ? nil : "receiver answered HTTP \(response.status)",
            responseExcerpt: excerpt.isEmpty ? nil : excerpt,
            signedWith: signedWith,
            retryable: !success,
            retryAfterMs: response.header("Retry-After").flatMap { RetryAfter.milliseconds($0, now: now) },
            externalOrderId: success ? externalOrderId(in: response.body) : nil,
            durationMs: durationMs
        )
    }

    public static func fromTransportFailure(_ failure: HTTPTransport.Failure, signedWith: String?, durationMs: Int64) -> ConnectorOutcome {
        let (failureClass, message, retryable): (FailureClass, String, Bool) = switch failure {
        case .timeout(let message): (.timeout, message, true)
        case .network(let message): (.network, message, true)
        case .invalidURL(let message): (.invalidTarget, message, false)
        case .forbiddenTarget(let message): (.forbiddenTarget, message, false)
        }
        return .failed(failureClass, message, retryable: retryable, signedWith: signedWith, durationMs: durationMs)
    }

    /// A partner may answer `{ "externalOrderId": "…" }`; we keep it for status reconciliation.
    static func externalOrderId(in body: [UInt8]) -> String? {
        guard !body.isEmpty, let root = try? JSONParser.parse(body), case .string(let id)? = root["externalOrderId"]?.kind,
              !id.isEmpty, id.utf8.count <= 255
        else { return nil }
        return id
    }
}
