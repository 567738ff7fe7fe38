// What the stores read back for the API and the console: plain values, no storage behind them.

public struct DeliveryDetail: Sendable, Equatable {
    public var delivery: Delivery
    public var attempts: [DeliveryAttempt]
    /// Earlier deliveries of the same subject to the same target that are dead: this one did not
    /// wait for them, so its receiver saw it without them.
    public var deadBefore: [String]

    public init(delivery: Delivery, attempts: [DeliveryAttempt], deadBefore: [String] = []) {
        self.delivery = delivery
        self.attempts = attempts
        self.deadBefore = deadBefore
    }
}

public struct OrderDetail: Sendable, Equatable {
    public var order: OrderRecord
    public var deliveries: [Delivery]
    public var attempts: [DeliveryAttempt]
    /// Status changes after dispatch, oldest first.
    public var history: [OrderStatusChange]

    public init(order: OrderRecord, deliveries: [Delivery], attempts: [DeliveryAttempt], history: [OrderStatusChange] = []) {
        self.order = order
        self.deliveries = deliveries
        self.attempts = attempts
        self.history = history
    }
}

/// One inbound POS webhook as it was received and what became of it, for the tenant's admin.
public struct InboundRequestRecord: Sendable, Equatable {
    public var id: Int64
    public var tenantId: String
    public var provider: String
    /// Headers with secrets (signatures, authorization) masked, as JSON text.
    public var headers: String
    public var body: String
    /// `applied`, `unchanged`, `stale`, `skipped`, `duplicate`, `rejected`, `unverified`, `unreadable`, `failed`, `handshake`.
    public var outcome: String
    public var detail: String?
    public var statusCode: Int
    public var orderId: String?
    public var receivedAt: Int64

    public init(id: Int64 = 0, tenantId: String, provider: String, headers: String, body: String, outcome: String, detail: String?,
                statusCode: Int, orderId: String?, receivedAt: Int64) {
        self.id = id
        self.tenantId = tenantId
        self.provider = provider
        self.headers = headers
        self.body = body
        self.outcome = outcome
        self.detail = detail
        self.statusCode = statusCode
        self.orderId = orderId
        self.receivedAt = receivedAt
    }
}
