import PosDomain

/// An event to publish in the same transaction as the change that caused it: to the outlet's
/// subscribed webhooks (and the tenant-wide ones), or as a job for `connector`, first due at
/// `dueAt` (now when nil).
public struct EventPublication: Sendable, Equatable {
    public var event: OutboxEvent
    public var connector: String?
    public var dueAt: Int64?
    /// The webhook that does not get it: the one an alert is about.
    public var exceptWebhookId: Int64?

    public init(event: OutboxEvent, connector: String? = nil, dueAt: Int64? = nil, exceptWebhookId: Int64? = nil) {
        self.event = event
        self.connector = connector
        self.dueAt = dueAt
        self.exceptWebhookId = exceptWebhookId
    }

    /// An alert: to the tenant's subscribed webhooks, never to a POS nor to the webhook it is about.
    public init(_ alert: Alert) {
        self.init(event: alert.event, exceptWebhookId: alert.aboutWebhookId)
    }
}

/// A status report to write if the order is still at `expectedVersion`.
public struct StatusChangeWrite: Sendable, Equatable {
    public var orderId: String
    public var tenantId: String
    public var expectedVersion: Int64
    /// The history entry; a stale one is recorded without changing the order.
    public var change: OrderStatusChange
    /// Published with the change (`order.status_updated`, `order.cancelled`, a cancel job).
    public var publications: [EventPublication]
    /// Order dispatch deliveries still waiting in the outbox are dead-lettered with this reason
    /// (a cancelled order must not reach the POS afterwards).
    public var deadLetterWaitingDispatch: String?

    public init(orderId: String, tenantId: String, expectedVersion: Int64, change: OrderStatusChange, publications: [EventPublication] = [],
                deadLetterWaitingDispatch: String? = nil) {
        self.orderId = orderId
        self.tenantId = tenantId
        self.expectedVersion = expectedVersion
        self.change = change
        self.publications = publications
        self.deadLetterWaitingDispatch = deadLetterWaitingDispatch
    }
}

/// Order status: the state machine's reads and its compare-and-set writes, history, and the log of
/// inbound POS webhooks. Which change is allowed is ``OrderStatusMachine``'s call, not the store's.
public protocol OrderStatusStore: Sendable {
    /// The tenant's order alone, without its deliveries and attempts (a status poll reads it on
    /// every look, and a poll's attempts grow all day).
    func orderRecord(id: String, tenantId: String) async throws -> OrderRecord?
    /// The tenant's order the POS knows by `externalOrderId`.
    func order(tenantId: String, externalOrderId: String) async throws -> OrderRecord?
    /// The tenant's order dispatched with Cata order `uuid`.
    func order(tenantId: String, orderUUID: String) async throws -> OrderRecord?
    /// Writes the history entry and, unless it is stale, the new status with version + 1, its time,
    /// and the reporter's POS order id where the order has none — plus the publications — in one
    /// transaction, if the order is still at `expectedVersion`. Returns the order after the write, or
    /// nil when its version moved on (someone else changed it first).
    func recordStatusChange(_ write: StatusChangeWrite, makeDeliveryId: @escaping @Sendable () -> String) async throws -> OrderRecord?
    /// Oldest first.
    func statusHistory(orderId: String, tenantId: String) async throws -> [OrderStatusChange]
    func recordInbound(_ request: InboundRequestRecord) async throws
    /// Newest first.
    func inboundRequests(tenantId: String, limit: Int) async throws -> [InboundRequestRecord]
    /// The connection an inbound URL's token names.
    func connection(token: String) async throws -> ProviderConnection?
    /// What became of the POS event `eventKey` from `provider` the first time it was decided on; nil when
    /// it has not been (for a POS that delivers events more than once).
    func inboundEvent(tenantId: String, provider: String, eventKey: String) async throws -> InboundEventRecord?
    /// Records that the POS event was decided on. The first record of an event wins: returns false (and
    /// changes nothing) when the event was already recorded.
    @discardableResult
    func recordInboundEvent(_ event: InboundEventRecord) async throws -> Bool
}

/// A POS event the service decided on, by its identity (`eventKey`, in the connector's words).
public struct InboundEventRecord: Sendable, Equatable {
    public var tenantId: String
    public var provider: String
    public var eventKey: String
    /// `applied`, `unchanged` or `stale`: what the state machine made of it.
    public var outcome: String
    public var orderId: String?
    public var receivedAt: Int64

    public init(tenantId: String, provider: String, eventKey: String, outcome: String, orderId: String?, receivedAt: Int64) {
        self.tenantId = tenantId
        self.provider = provider
        self.eventKey = eventKey
        self.outcome = outcome
        self.orderId = orderId
        self.receivedAt = receivedAt
    }
}
