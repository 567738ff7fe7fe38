/// What an event is about: the order, outlet or menu it concerns. Connector jobs (a status poll,
/// a menu import) name their subject the same way; alerts name the delivery, webhook or provider
/// connection they are about.
public struct EventSubject: Sendable, Equatable, Hashable {
    public enum Kind: String, Sendable {
        case order
        case outlet
        case menu
        case delivery
        case webhook
        case connection
    }

    public var kind: Kind
    public var id: String

    public init(_ kind: Kind, id: String) {
        self.kind = kind
        self.id = id
    }
}

/// One event in the outbox: its bytes are what every delivery of it sends (webhooks sign exactly
/// these bytes), whatever its type.
public struct OutboxEvent: Sendable, Equatable {
    public var id: String
    public var tenantId: String
    /// `order.paid`, `order.status_updated`, … or a connector job's name.
    public var type: String
    public var subject: EventSubject
    /// The outlet the event concerns, which picks the webhooks and the POS it goes to; nil for an
    /// event of the whole tenant (only its tenant-wide webhooks get it).
    public var outletId: String?
    public var payload: [UInt8]
    public var createdAt: Int64
    /// The W3C trace context of the request or attempt that emitted it, kept by the store so the
    /// worker's attempts join that trace; nil when tracing was off.
    public var traceparent: String?

    public init(id: String, tenantId: String, type: String, subject: EventSubject, outletId: String?, payload: [UInt8], createdAt: Int64,
                traceparent: String? = nil) {
        self.id = id
        self.tenantId = tenantId
        self.type = type
        self.subject = subject
        self.outletId = outletId
        self.payload = payload
        self.createdAt = createdAt
        self.traceparent = traceparent
    }
}

/// The events a webhook can subscribe to (`GET /api/v1/webhooks/events`).
public enum EventCatalogue {
    public struct Event: Sendable, Equatable {
        public let name: String
        public let description: String
        /// Whether `POST /orders/dispatch` may carry it (the others are emitted by the service itself).
        public let dispatchable: Bool
    }

    public static let orderPaid = "order.paid"
    public static let orderStatusUpdated = "order.status_updated"
    public static let orderCancelled = "order.cancelled"
    public static let menuUpdated = "menu.updated"
    public static let outletUpdated = "outlet.updated"
    public static let deliveryDeadLettered = "delivery.dead_lettered"
    public static let webhookDisabled = "webhook.disabled"
    public static let webhookCircuitOpened = "webhook.circuit_opened"
    public static let reauthorizationRequired = "provider_connection.reauthorization_required"

    public static let events: [Event] = [
        Event(name: orderPaid, description: "Triggered when an order is paid and ready for fulfillment", dispatchable: true),
        Event(name: orderStatusUpdated, description: "An order's status changed (accepted, in progress, ready, completed, rejected)",
              dispatchable: false),
        Event(name: orderCancelled, description: "An order was cancelled", dispatchable: false),
        Event(name: menuUpdated, description: "An outlet's menu was published or changed", dispatchable: false),
        Event(name: outletUpdated, description: "An outlet changed: opened, closed, busy", dispatchable: false),
        Event(name: deliveryDeadLettered, description: "Alert: a delivery gave up after its last attempt (to a webhook or a POS)",
              dispatchable: false),
        Event(name: webhookDisabled, description: "Alert: a webhook that only failed for too long was disabled", dispatchable: false),
        Event(name: webhookCircuitOpened, description: "Alert: a webhook failed enough times in a row that its circuit opened",
              dispatchable: false),
        Event(name: reauthorizationRequired, description: "Alert: a POS connection's refresh was refused; an admin authorizes it again",
              dispatchable: false),
    ]

    /// The events the service raises about its own deliveries and connections, for a tenant's ops relay.
    public static let alertNames: Set<String> = [deliveryDeadLettered, webhookDisabled, webhookCircuitOpened, reauthorizationRequired]

    public static func contains(_ name: String) -> Bool { events.contains { $0.name == name } }

    public static var names: [String] { events.map(\.name) }

    public static var dispatchableNames: [String] { events.filter(\.dispatchable).map(\.name) }
}
