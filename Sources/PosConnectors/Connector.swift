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

/// How an attempt went, in terms the outbox can act on.
public struct ConnectorOutcome: Sendable, Equatable {
    public var statusCode: Int?
    /// nil on success; otherwise `http_status`, `timeout`, `network`, `invalid_target`.
    public var errorClass: String?
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

    public var succeeded: Bool { errorClass == nil }

    /// A 429 or a timeout: the receiver is struggling, so the retry waits longer.
    public var overloaded: Bool { statusCode == 429 || errorClass == "timeout" }

    public init(statusCode: Int?, errorClass: String?, error: String?, responseExcerpt: String?, signedWith: String?,
                retryable: Bool, retryAfterMs: Int64?, externalOrderId: String?, durationMs: Int64) {
        self.statusCode = statusCode
        self.errorClass = errorClass
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

/// Delivers an order to one kind of target: the standard signed webhook, or a POS's own API.
/// A connector is pure mapping plus its HTTP exchange; persistence and retries live elsewhere.
public protocol Connector: Sendable {
    /// The name recorded on deliveries (`webhook`, or a POS slug).
    var name: String { get }
    func send(_ request: ConnectorRequest) async -> ConnectorOutcome
}

extension ConnectorOutcome {
    /// No request was made.
    public static let notSent = ConnectorOutcome(statusCode: nil, errorClass: nil, error: nil, responseExcerpt: nil, signedWith: nil,
                                                 retryable: false, retryAfterMs: nil, externalOrderId: nil, durationMs: 0)

    /// A failed attempt of class `errorClass` (`network`, `mapping`, `configuration`…) with its message.
    public static func failed(_ errorClass: String, _ message: String, retryable: Bool, statusCode: Int? = nil, signedWith: String? = nil,
                              durationMs: Int64 = 0) -> ConnectorOutcome {
        ConnectorOutcome(statusCode: statusCode, errorClass: errorClass, error: message, responseExcerpt: nil, signedWith: signedWith,
                         retryable: retryable, retryAfterMs: nil, externalOrderId: nil, durationMs: durationMs)
    }
}
