import PosDomain

/// What a connector is asked to deliver: one attempt of one delivery.
public struct ConnectorRequest: Sendable {
    public var deliveryId: String
    public var event: String
    public var attemptNumber: Int
    /// The `order` value exactly as dispatch received it.
    public var orderBytes: [UInt8]
    /// The typed order, for connectors that rewrite it into a POS's own API.
    public var order: CataOrder?
    public var destination: Destination

    public enum Destination: Sendable {
        /// A partner's signed webhook; `secrets` newest first.
        case webhook(url: String, secrets: [WebhookSecret])
    }

    public init(deliveryId: String, event: String, attemptNumber: Int, orderBytes: [UInt8], order: CataOrder?, destination: Destination) {
        self.deliveryId = deliveryId
        self.event = event
        self.attemptNumber = attemptNumber
        self.orderBytes = orderBytes
        self.order = order
        self.destination = destination
    }
}

/// Why an attempt failed, in classes the outbox and the operator act on. The raw values are what
/// `delivery_attempts.error_class` stores and the API shows; they never change.
public enum FailureClass: String, Sendable, CaseIterable {
    /// The receiver answered, with a status worth retrying (408, 425, 429, 5xx; any non-2xx for a webhook).
    case httpStatus = "http_status"
    case timeout
    case network
    /// The target URL cannot be called at all.
    case invalidTarget = "invalid_target"
    /// The outbound guard refused the target (SSRF protection).
    case forbiddenTarget = "forbidden_target"
    /// The POS refused our credentials (401/403), or the token endpoint refused to renew them.
    case auth
    /// The POS refused the request itself (another 4xx, or a 2xx saying no).
    case rejected
    /// The order cannot be mapped to this POS with these settings (an unmapped PLU, an amount that overflows).
    case mapping
    /// Our side is misconfigured (no mapping, an unreadable secret).
    case configuration
    /// A 2xx whose body is not what the POS documents.
    case unexpectedResponse = "unexpected_response"
    /// Our database could not record what the attempt needs.
    case storage
    /// The attempt began and never finished: the process making it died or lost its lease.
    case interrupted
}

/// How an attempt went, in terms the outbox can act on.
public struct ConnectorOutcome: Sendable, Equatable {
    public var statusCode: Int?
    /// nil on success.
    public var failureClass: FailureClass?
    public var error: String?
    public var responseExcerpt: String?
    public var signedWith: String?
    /// Whether trying again later can help (auth and validation failures cannot).
    public var retryable: Bool
    /// The wait the receiver's `Retry-After` asked for, in milliseconds.
    public var retryAfterMs: Int64?
    /// The POS's own id for the order, when it answered with one.
    public var externalOrderId: String?
    public var durationMs: Int64

    public var succeeded: Bool { failureClass == nil }

    /// ``failureClass`` as stored on the attempt record and shown by the API.
    public var errorClass: String? { failureClass?.rawValue }

    /// A 429 or a timeout: the receiver is struggling, so the retry waits longer.
    public var overloaded: Bool { statusCode == 429 || failureClass == .timeout }

    public init(statusCode: Int?, failureClass: FailureClass?, error: String?, responseExcerpt: String?, signedWith: String?,
                retryable: Bool, retryAfterMs: Int64?, externalOrderId: String?, durationMs: Int64) {
        self.statusCode = statusCode
        self.failureClass = failureClass
        self.error = error
        self.responseExcerpt = responseExcerpt
        self.signedWith = signedWith
        self.retryable = retryable
        self.retryAfterMs = retryAfterMs
        self.externalOrderId = externalOrderId
        self.durationMs = durationMs
    }

    /// A human-readable reason for the dispatch response (`HTTP 503 from receiver`, `timeout after 10 s`).
    public var reason: String {
        if succeeded {
            let delivered = statusCode.map { "delivered (HTTP \($0))" } ?? "delivered"
            return externalOrderId.map { "\(delivered); externalOrderId \($0)" } ?? delivered
        }
        return error ?? errorClass ?? "failed"
    }
}

/// Delivers an order to a partner's signed webhook: the verbatim order bytes, signed with the
/// partner's secrets. A POS is the other kind of delivery target (``OrderDispatching``); both answer
/// one attempt with one ``ConnectorOutcome`` and leave persistence and retries to the outbox
/// (docs/adr/0003).
public protocol SignedWebhookSending: Sendable {
    /// The name recorded on deliveries (`webhook`).
    var name: String { get }
    func send(_ request: ConnectorRequest) async -> ConnectorOutcome
}

/// The webhook sender's former name, kept for call sites in code being rewritten in parallel (the
/// HTTP edge, the outbox); new code says ``SignedWebhookSending``.
public typealias Connector = SignedWebhookSending

extension ConnectorOutcome {
    /// No request was made.
    public static let notSent = ConnectorOutcome(statusCode: nil, failureClass: nil, error: nil, responseExcerpt: nil, signedWith: nil,
                                                 retryable: false, retryAfterMs: nil, externalOrderId: nil, durationMs: 0)

    /// A failed attempt of class `failureClass` with its message.
    public static func failed(_ failureClass: FailureClass, _ message: String, retryable: Bool, statusCode: Int? = nil, signedWith: String? = nil,
                              durationMs: Int64 = 0) -> ConnectorOutcome {
        ConnectorOutcome(statusCode: statusCode, failureClass: failureClass, error: message, responseExcerpt: nil, signedWith: signedWith,
                         retryable: retryable, retryAfterMs: nil, externalOrderId: nil, durationMs: durationMs)
    }

    /// No credential could be had for the attempt.
    public static func credentialFailed(_ failure: CredentialFailure, durationMs: Int64 = 0) -> ConnectorOutcome {
        .failed(failure.failureClass, failure.message, retryable: failure.retryable, durationMs: durationMs)
    }
}
