import PosDomain

// What a POS connector can do is the protocols it adopts, one per capability, each a requirement
// or two. A connector adopts only what its POS can; callers ask the registry for "the connector
// for slug X that can do Y" and get nil otherwise, so there are no flags to keep in step and no
// throwing defaults. docs/adr/0003-connector-capabilities.md explains the shape.

/// Send an order to the POS: pure mapping plus its exchange(s), one attempt per call.
public protocol OrderDispatching: POSConnector {
    func dispatch(_ request: POSDispatch) async -> ConnectorOutcome
}

/// Cancel an order the POS already has.
public protocol OrderCancelling: POSConnector {
    func cancel(_ request: POSCancellation) async -> ConnectorOutcome
}

/// Receive the POS's own status webhooks. Verification comes first and is part of reading, so an
/// unverified body is never read. Pure: no I/O, the secret is the connection's `webhookSecret`
/// (nil when none is set — a connector whose POS always signs then refuses everything).
/// Signatures are compared in constant time.
public protocol InboundStatusReceiving: POSConnector {
    func readInbound(_ webhook: InboundWebhook, webhookSecret: String?) throws(InboundWebhookRejection) -> InboundWebhookReading
}

/// Ask the POS for an order's status (for a POS that cannot call us back).
public protocol OrderStatusPolling: POSConnector {
    func status(of order: POSOrderReference) async throws(ConnectorFailure) -> OrderStatusUpdate
}

/// Read the POS's menu for an outlet.
public protocol MenuImporting: POSConnector {
    func importMenu(_ request: POSMenuRequest) async throws(ConnectorFailure) -> ImportedMenu
}

/// Make a harmless authenticated call to prove the connection works.
public protocol ConnectionTesting: POSConnector {
    func testConnection(_ access: ProviderAccess) async -> ConnectionTestResult
}

/// List the POS's own outlets (to map ours onto).
public protocol RemoteOutletListing: POSConnector {
    func remoteOutlets(_ access: ProviderAccess) async throws(ConnectorFailure) -> [RemoteOutlet]
}

/// A capability by name, as the API shows it (`GET /provider-connections` → `capabilities`).
/// Derived from conformance, never declared separately.
public enum ConnectorCapability: String, CaseIterable, Sendable {
    case dispatchOrder
    case cancelOrder
    case inboundStatus
    case statusPolling
    case menuImport
    case testConnection
    case listRemoteOutlets

    /// Whether `connector` adopts this capability's protocol.
    public func isAdopted(by connector: any POSConnector) -> Bool {
        switch self {
        case .dispatchOrder: connector is any OrderDispatching
        case .cancelOrder: connector is any OrderCancelling
        case .inboundStatus: connector is any InboundStatusReceiving
        case .statusPolling: connector is any OrderStatusPolling
        case .menuImport: connector is any MenuImporting
        case .testConnection: connector is any ConnectionTesting
        case .listRemoteOutlets: connector is any RemoteOutletListing
        }
    }

    public static func of(_ connector: any POSConnector) -> [ConnectorCapability] {
        allCases.filter { $0.isAdopted(by: connector) }
    }
}

// MARK: Inputs and outputs of the capabilities still to be built (cancel, status, menu)

/// An order the POS already has, named both ways.
public struct POSOrderReference: Sendable {
    /// The POS's id (`externalOrderId` on our order).
    public var externalOrderId: String
    /// The Cata order's `uuid`.
    public var orderUUID: String
    public var externalOutletId: String
    public var access: ProviderAccess

    public init(externalOrderId: String, orderUUID: String, externalOutletId: String, access: ProviderAccess) {
        self.externalOrderId = externalOrderId
        self.orderUUID = orderUUID
        self.externalOutletId = externalOutletId
        self.access = access
    }
}

/// One attempt at cancelling an order (an outbox job like a dispatch).
public struct POSCancellation: Sendable {
    public var deliveryId: String
    public var attemptNumber: Int
    public var order: POSOrderReference
    /// Why, in the operator's words, when the POS takes a reason.
    public var reason: String?
    public var settings: JSONValue

    public init(deliveryId: String, attemptNumber: Int, order: POSOrderReference, reason: String?, settings: JSONValue) {
        self.deliveryId = deliveryId
        self.attemptNumber = attemptNumber
        self.order = order
        self.reason = reason
        self.settings = settings
    }
}

/// A status the POS reported for one of our orders, in our words; `posStatus` keeps the POS's own.
public struct OrderStatusUpdate: Sendable, Equatable {
    /// The POS's id for the order (our `externalOrderId`), when it names it.
    public var externalOrderId: String?
    /// The Cata order's `uuid` (the reference we sent), when the POS echoes it.
    public var orderUUID: String?
    /// nil when the POS's status has no equivalent of ours (the update is skipped, not an error).
    public var status: OrderStatus?
    public var posStatus: String
    /// When the POS says it happened (ms since the epoch).
    public var occurredAt: Int64?
    /// The POS's reason, for a rejection or cancellation.
    public var reason: String?
    /// The identity of the POS event that reported it, for a POS that delivers the same event more
    /// than once (Atlas): the service applies an event once and answers its repeats as duplicates.
    /// nil when the POS's deliveries need no such record.
    public var eventId: String?

    public init(externalOrderId: String?, orderUUID: String?, status: OrderStatus?, posStatus: String, occurredAt: Int64?, reason: String? = nil,
                eventId: String? = nil) {
        self.externalOrderId = externalOrderId
        self.orderUUID = orderUUID
        self.status = status
        self.posStatus = posStatus
        self.occurredAt = occurredAt
        self.reason = reason
        self.eventId = eventId
    }
}

/// A webhook the POS sent us, as received.
public struct InboundWebhook: Sendable {
    /// Header names as sent; look them up with ``header(_:)`` (case-insensitive).
    public var headers: [(String, String)]
    public var body: [UInt8]
    public var receivedAt: Int64
    /// The connection's `config` (never secrets), for a POS whose verification is configurable
    /// (Atlas's custom token header).
    public var config: JSONValue
    /// The URL the webhook came in on (our inbound URL for the connection), for a POS that asks us
    /// for our URLs in a handshake (Deliverect's channel registration); nil when not known.
    public var url: String?

    public init(headers: [(String, String)], body: [UInt8], receivedAt: Int64, config: JSONValue = .object([]), url: String? = nil) {
        self.headers = headers
        self.body = body
        self.receivedAt = receivedAt
        self.config = config
        self.url = url
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }
}

/// What a verified inbound webhook says.
public enum InboundWebhookReading: Sendable, Equatable {
    /// Status changes to apply, in the order the POS sent them.
    case statusUpdates([OrderStatusUpdate])
    /// A handshake (Revel's first `{"ping":"pong"}`): answered 200 with `reply`, nothing applied.
    case handshake(reply: JSONValue)
    /// Verified but nothing we act on (an event type we do not map): answered 200 `{skipped: true, reason}`
    /// so the POS stops retrying.
    case ignored(reason: String)
}

/// Why an inbound webhook was not read.
public enum InboundWebhookRejection: Error, Sendable, Equatable {
    /// The signature (or shared token) did not verify, or none was sent: answered 401, never read.
    case unverified(String)
    /// Verified but not a body this connector can read: answered 400.
    case unreadable(ValidationError)
}

public struct POSMenuRequest: Sendable {
    public var externalOutletId: String
    public var settings: JSONValue
    public var access: ProviderAccess
    public var currency: Currency

    public init(externalOutletId: String, settings: JSONValue, access: ProviderAccess, currency: Currency) {
        self.externalOutletId = externalOutletId
        self.settings = settings
        self.access = access
        self.currency = currency
    }
}

/// A POS menu in our terms: products (with the PLU we map by) and their modifier groups.
public struct ImportedMenu: Sendable, Equatable {
    public var products: [Product]
    public var modifierGroups: [ModifierGroup]

    public struct Product: Sendable, Equatable {
        public var externalId: String
        public var plu: String?
        public var name: String
        public var price: Money?
        public var modifierGroupIds: [String]
        /// The POS's category (its name), when the POS files products under one.
        public var category: String?

        public init(externalId: String, plu: String?, name: String, price: Money?, modifierGroupIds: [String], category: String? = nil) {
            self.externalId = externalId
            self.plu = plu
            self.name = name
            self.price = price
            self.modifierGroupIds = modifierGroupIds
            self.category = category
        }
    }

    public struct ModifierGroup: Sendable, Equatable {
        public var externalId: String
        public var name: String
        public var options: [Option]
        /// How many options a guest must pick, when the POS says (nil: no minimum given).
        public var minSelections: Int?
        /// How many options a guest may pick at most, when the POS says (nil: no limit given).
        public var maxSelections: Int?

        public struct Option: Sendable, Equatable {
            public var externalId: String
            public var name: String
            public var price: Money?
            /// The option's own PLU/SKU in the POS, when it has one.
            public var plu: String?

            public init(externalId: String, name: String, price: Money?, plu: String? = nil) {
                self.externalId = externalId
                self.name = name
                self.price = price
                self.plu = plu
            }
        }

        public init(externalId: String, name: String, options: [Option], minSelections: Int? = nil, maxSelections: Int? = nil) {
            self.externalId = externalId
            self.name = name
            self.options = options
            self.minSelections = minSelections
            self.maxSelections = maxSelections
        }
    }

    public init(products: [Product], modifierGroups: [ModifierGroup]) {
        self.products = products
        self.modifierGroups = modifierGroups
    }
}
