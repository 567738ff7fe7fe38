import PosDomain

/// Failures every store engine reports the same way.
public enum StoreError: Error, Equatable, Sendable {
    /// A unique rule would be broken (an existing subdomain, a second live webhook for one outlet and provider).
    case conflict(String)
    /// The database did not answer (down, restarting, out of connections).
    case unavailable(String)
}

public protocol TenantStore: Sendable {
    /// Throws ``StoreError/conflict(_:)`` when the subdomain is taken.
    func createTenant(_ tenant: Tenant, createdAt: Int64) async throws
    func tenant(id: String) async throws -> Tenant?
    func tenant(subdomain: String) async throws -> Tenant?
    func tenants() async throws -> [Tenant]
}

public struct NewAPIKey: Sendable {
    public var tenantId: String
    public var secretHash: String
    public var scopes: [APIScope]
    public var createdAt: Int64
    public var expiresAt: Int64?
    public var name: String
    /// The secret's first characters, for the stored display prefix (never more of it).
    public var secretStart: String

    public init(tenantId: String, secretHash: String, scopes: [APIScope], createdAt: Int64, expiresAt: Int64?, name: String = "",
                secretStart: String = "") {
        self.tenantId = tenantId
        self.secretHash = secretHash
        self.scopes = scopes
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.name = name
        self.secretStart = String(secretStart.prefix(APIKeyToken.secretCharacters))
    }
}

/// A rotation: the replacement key and the old key with its shortened expiry.
public struct APIKeyRotation: Sendable, Equatable {
    public var previous: APIKeyRecord
    public var replacement: APIKeyRecord

    public init(previous: APIKeyRecord, replacement: APIKeyRecord) {
        self.previous = previous
        self.replacement = replacement
    }
}

/// Tenants' API keys. Every engine holding them also holds the operator keys
/// (``OperatorKeyStore``): both are read on the same authentication path.
public protocol APIKeyStore: OperatorKeyStore {
    func createKey(_ key: NewAPIKey) async throws -> APIKeyRecord
    /// The key and its tenant, found by the id embedded in the presented key.
    func keyWithTenant(id: Int64) async throws -> (APIKeyRecord, Tenant)?
    func keys(tenantId: String) async throws -> [APIKeyRecord]
    /// A tenant's key by id; nil for another tenant's.
    func key(id: Int64, tenantId: String) async throws -> APIKeyRecord?
    /// Whether a key that was not yet revoked is now revoked.
    func revokeKey(id: Int64, at: Int64) async throws -> Bool
    /// In one transaction: the tenant's key `id`, when still usable at `at`, expires at
    /// `previousExpiresAt` unless it expires earlier already, and `replacement` is inserted.
    /// nil (and nothing written) when the key is not the tenant's, revoked or expired.
    func rotateKey(id: Int64, tenantId: String, previousExpiresAt: Int64, replacement: NewAPIKey, at: Int64) async throws -> APIKeyRotation?
    /// Sets the key's `lastUsedAt` to `at` unless it is already `notBefore` or later (another
    /// replica wrote it); whether it wrote.
    func touchKey(id: Int64, at: Int64, notBefore: Int64) async throws -> Bool
}

public struct NewOperatorKey: Sendable {
    public var name: String
    public var secretHash: String
    /// The secret's first characters, for the stored display prefix.
    public var secretStart: String
    public var createdAt: Int64
    public var expiresAt: Int64?

    public init(name: String, secretHash: String, secretStart: String, createdAt: Int64, expiresAt: Int64?) {
        self.name = name
        self.secretHash = secretHash
        self.secretStart = String(secretStart.prefix(OperatorKeyToken.secretCharacters))
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// The platform operators' keys (`posop_…`), belonging to no tenant.
public protocol OperatorKeyStore: Sendable {
    func createOperatorKey(_ key: NewOperatorKey) async throws -> OperatorKeyRecord
    func operatorKey(id: Int64) async throws -> OperatorKeyRecord?
    func operatorKeys() async throws -> [OperatorKeyRecord]
    /// Whether a key that was not yet revoked is now revoked.
    func revokeOperatorKey(id: Int64, at: Int64) async throws -> Bool
    /// As ``APIKeyStore/touchKey(id:at:notBefore:)``.
    func touchOperatorKey(id: Int64, at: Int64, notBefore: Int64) async throws -> Bool
}

public struct NewWebhook: Sendable {
    public var tenantId: String
    /// nil: tenant-wide.
    public var outletId: String?
    public var provider: String
    public var callbackUrl: String
    public var events: [String]
    public var sealedSecret: String
    public var createdAt: Int64

    public init(tenantId: String, outletId: String?, provider: String, callbackUrl: String, events: [String], sealedSecret: String, createdAt: Int64) {
        self.tenantId = tenantId
        self.outletId = outletId
        self.provider = provider
        self.callbackUrl = callbackUrl
        self.events = events
        self.sealedSecret = sealedSecret
        self.createdAt = createdAt
    }
}

/// What `PUT /webhooks/{id}` may change; nil leaves a field alone.
public struct WebhookChange: Sendable, Equatable {
    public var callbackUrl: String?
    public var events: [String]?
    public var isActive: Bool?

    public init(callbackUrl: String? = nil, events: [String]? = nil, isActive: Bool? = nil) {
        self.callbackUrl = callbackUrl
        self.events = events
        self.isActive = isActive
    }
}

public protocol WebhookStore: Sendable {
    /// Throws ``StoreError/conflict(_:)`` when the outlet (or the tenant, for a tenant-wide webhook)
    /// already has a live webhook for the provider.
    func createWebhook(_ webhook: NewWebhook) async throws -> Webhook
    func webhook(id: Int64, tenantId: String) async throws -> Webhook?
    /// The live webhook with its sealed signing secrets (for a test ping); nil when there is none.
    func webhookTarget(id: Int64, tenantId: String) async throws -> WebhookTarget?
    /// The tenant's live (not deleted) webhooks.
    func webhooks(tenantId: String) async throws -> [Webhook]
    /// Applies a change; activating clears a disabled reason. nil when there is no such live webhook.
    func updateWebhook(id: Int64, tenantId: String, change: WebhookChange, at: Int64) async throws -> Webhook?
    /// Soft-deletes it and dead-letters its waiting deliveries ("webhook deleted"); returns how many,
    /// or nil when there is no such live webhook.
    func deleteWebhook(id: Int64, tenantId: String, at: Int64) async throws -> Int?
    /// Installs a new sealed secret; the current one keeps signing until `previousValidUntil`.
    func rotateWebhookSecret(id: Int64, tenantId: String, sealedSecret: String, previousValidUntil: Int64, at: Int64) async throws -> Webhook?
    /// Keeps what the registration ping got.
    func recordPing(webhookId: Int64, status: Int?, error: String?) async throws
}

/// An order as dispatch accepts it, before the store gives it an outbox.
public struct NewOrder: Sendable {
    public var id: String
    public var tenantId: String
    public var outletId: String
    public var event: String
    public var orderUUID: String
    public var orderRefNo: String
    public var builtInTransformer: String?
    public var currency: String
    public var totalPayMinor: Int64
    public var payload: [UInt8]
    public var payloadSHA256: String
    public var receivedAt: Int64
    public var fulfilment: Fulfilment
    /// Held on the order's deliveries while the dispatch request makes their first attempt, so
    /// no worker takes them meanwhile; if this process dies, the lease runs out and a worker does.
    public var firstAttemptLease: DeliveryLease

    public init(id: String, tenantId: String, outletId: String, event: String, orderUUID: String, orderRefNo: String, builtInTransformer: String?, currency: String, totalPayMinor: Int64, payload: [UInt8], payloadSHA256: String, receivedAt: Int64, fulfilment: Fulfilment = .unknown, firstAttemptLease: DeliveryLease) {
        self.id = id
        self.tenantId = tenantId
        self.outletId = outletId
        self.event = event
        self.orderUUID = orderUUID
        self.orderRefNo = orderRefNo
        self.builtInTransformer = builtInTransformer
        self.currency = currency
        self.totalPayMinor = totalPayMinor
        self.payload = payload
        self.payloadSHA256 = payloadSHA256
        self.receivedAt = receivedAt
        self.fulfilment = fulfilment
        self.firstAttemptLease = firstAttemptLease
    }
}

/// Who is attempting a delivery, and until when no one else may.
public struct DeliveryLease: Sendable, Equatable {
    public var owner: String
    public var expiresAt: Int64

    public init(owner: String, expiresAt: Int64) {
        self.owner = owner
        self.expiresAt = expiresAt
    }
}

/// A delivery a worker has leased, with the event it carries.
public struct ClaimedDelivery: Sendable, Equatable {
    public var delivery: Delivery
    /// The webhook it goes to; nil for a POS connector's delivery (found by the event's outlet).
    public var target: WebhookTarget?
    public var event: OutboxEvent

    public init(delivery: Delivery, target: WebhookTarget?, event: OutboxEvent) {
        self.delivery = delivery
        self.target = target
        self.event = event
    }
}

/// The outbox as workers and operators see it.
public protocol OutboxStore: Sendable {
    /// Writes an event and its deliveries in one transaction — one to `connector` when given (a
    /// connector job), otherwise one per active webhook of the event's outlet subscribed to its type —
    /// due now for the worker. Returns the deliveries (none when nobody subscribed).
    func publish(_ event: OutboxEvent, connector: String?, makeDeliveryId: @escaping @Sendable () -> String) async throws -> [PlannedDelivery]
    /// Leases up to `limit` due deliveries — pending or failed whose time has come, or delivering
    /// whose lease ran out — to `lease.owner`, in one transaction, counting each as an attempt
    /// started. Deliveries to inactive webhooks wait.
    func claimDueDeliveries(lease: DeliveryLease, now: Int64, limit: Int) async throws -> [ClaimedDelivery]
    /// Makes a delivery due now (a manual retry, also from `dead`). nil when the tenant has no such
    /// delivery; throws ``StoreError/conflict(_:)`` while it is being attempted.
    func requeueDelivery(id: String, tenantId: String, now: Int64) async throws -> Delivery?
    func delivery(id: String, tenantId: String) async throws -> DeliveryDetail?
    /// Newest first, at most `filter.limit`.
    func deliveries(tenantId: String, filter: DeliveryFilter) async throws -> [Delivery]
    /// Makes every dead or failed delivery created since `since` (optionally of one webhook or
    /// outlet) due now; returns how many.
    func recoverDeliveries(tenantId: String, since: Int64, target: DeliveryTargetFilter, outletId: String?, now: Int64) async throws -> Int
}

/// Which deliveries `GET /deliveries` lists, newest first.
/// Which target's deliveries a recovery re-queues.
public enum DeliveryTargetFilter: Sendable, Equatable {
    case any
    case webhook(Int64)
    /// A built-in POS connector, by slug.
    case connector(String)
}

public struct DeliveryFilter: Sendable, Equatable {
    public var status: DeliveryStatus?
    public var outletId: String?
    public var webhookId: Int64?
    /// Created at or after this time.
    public var since: Int64?
    public var limit: Int
    /// Continue after this (createdAt, id), from the previous page.
    public var after: DeliveryCursor?

    public init(status: DeliveryStatus? = nil, outletId: String? = nil, webhookId: Int64? = nil, since: Int64? = nil,
                limit: Int = 50, after: DeliveryCursor? = nil) {
        self.status = status
        self.outletId = outletId
        self.webhookId = webhookId
        self.since = since
        self.limit = limit
        self.after = after
    }
}

/// A position in the newest-first delivery list.
public struct DeliveryCursor: Sendable, Equatable {
    public var createdAt: Int64
    public var id: String

    public init(createdAt: Int64, id: String) {
        self.createdAt = createdAt
        self.id = id
    }
}

/// Engines that can tell every replica's worker about due work at once (PostgreSQL LISTEN/NOTIFY);
/// polling stays the fallback.
public protocol OutboxNotifications: Sendable {
    func onOutboxNotification(_ handler: @escaping @Sendable () -> Void)
}

public enum AcceptedOrder: Sendable, Equatable {
    /// The order is new; its deliveries were written in the same transaction.
    case created(OrderRecord, [PlannedDelivery])
    /// (tenant, order uuid, event) was seen before: this is the first order.
    case existing(OrderRecord)
}

/// The outcome an attempt leaves on its delivery.
public struct DeliveryTransition: Sendable, Equatable {
    public var status: DeliveryStatus
    public var nextAttemptAt: Int64?

    public init(status: DeliveryStatus, nextAttemptAt: Int64?) {
        self.status = status
        self.nextAttemptAt = nextAttemptAt
    }
}

/// What an order's dispatch came to, with the response replayed to duplicates (kept from the first).
public struct DispatchCompletion: Sendable, Equatable {
    public var orderId: String
    public var status: DispatchStatus
    public var reason: String?
    /// The POS's own id for the order, when the receiver answered with one.
    public var externalOrderId: String?
    /// Stored only if the order has none yet: duplicates replay the first.
    public var response: String?
    public var at: Int64
    /// Published with it (the status poll of an order the POS now has).
    public var publications: [EventPublication]

    public init(orderId: String, status: DispatchStatus, reason: String?, externalOrderId: String? = nil, response: String?, at: Int64,
                publications: [EventPublication] = []) {
        self.orderId = orderId
        self.status = status
        self.reason = reason
        self.externalOrderId = externalOrderId
        self.response = response
        self.at = at
        self.publications = publications
    }
}

/// A webhook's health after an attempt, and whether it is disabled now.
public struct EndpointHealthUpdate: Sendable, Equatable {
    public var webhookId: Int64
    public var verdict: EndpointHealthPolicy.Verdict
    public var at: Int64

    public init(webhookId: Int64, verdict: EndpointHealthPolicy.Verdict, at: Int64) {
        self.webhookId = webhookId
        self.verdict = verdict
        self.at = at
    }
}

/// One finished attempt and where it leaves its delivery.
public struct RecordedAttempt: Sendable, Equatable {
    public var attempt: DeliveryAttempt
    public var transition: DeliveryTransition
    public var at: Int64

    public init(attempt: DeliveryAttempt, transition: DeliveryTransition, at: Int64) {
        self.attempt = attempt
        self.transition = transition
        self.at = at
    }
}

public protocol OrderStore: Sendable {
    /// Persists the order, its event (the order's bytes) and one delivery per active webhook of the
    /// outlet subscribed to the event — or, for an order with a `builtInTransformer`, one delivery to
    /// that connector instead — in one transaction, the deliveries leased for the caller's first
    /// attempt; or returns the first order for the same (tenant, uuid, event).
    /// An order with nothing to deliver is stored already completed with `completionWithoutTargets`.
    func acceptOrder(_ order: NewOrder, completionWithoutTargets: DispatchCompletion,
                     makeDeliveryId: @escaping @Sendable () -> String) async throws -> AcceptedOrder
    /// Records attempts and moves their deliveries — and, when given, completes the order's
    /// dispatch and updates the endpoints' health — in one transaction, with the alerts these
    /// transitions raise (`delivery.dead_lettered`, `webhook.circuit_opened`, `webhook.disabled`),
    /// each once per transition.
    func recordAttempts(_ attempts: [RecordedAttempt], completion: DispatchCompletion?, health: [EndpointHealthUpdate]) async throws
    func order(id: String, tenantId: String) async throws -> OrderDetail?
    func orderCount(tenantId: String) async throws -> Int
}

/// Provider connections, outlet mappings, and connector progress.
public protocol ProviderStore: Sendable {
    /// Creates or replaces the tenant's connection for `connection.slug`; keeps the first `createdAt`.
    func upsertConnection(_ connection: ProviderConnection) async throws -> ProviderConnection
    func connection(tenantId: String, slug: String) async throws -> ProviderConnection?
    func connections(tenantId: String) async throws -> [ProviderConnection]
    /// Deletes the connection and the outlet mappings to it; returns how many mappings went, or nil
    /// when there was no such connection.
    func deleteConnection(tenantId: String, slug: String) async throws -> Int?
    /// Creates or replaces the outlet's mapping (one provider per outlet); keeps the first `createdAt`.
    func upsertOutletProvider(_ mapping: OutletProvider) async throws -> OutletProvider
    func outletProvider(tenantId: String, outletId: String) async throws -> OutletProvider?
    /// Records a multi-step connector's finished steps on its delivery, at once.
    func saveProgress(deliveryId: String, progress: String, at: Int64) async throws
    /// Sets an active connection's status to `status` and publishes `alert` with the change, in one
    /// transaction; false (and no alert) when the connection is missing or was not active.
    func markConnection(tenantId: String, slug: String, status: String, at: Int64, alert: Alert) async throws -> Bool
}

/// Health of the database itself, for `/ready`.
public protocol StoreHealth: Sendable {
    func ping() async throws
    /// The migration versions this build knows that the database has not applied (empty when up to date).
    func pendingMigrations() async throws -> [Int]
}

/// Everything the service needs from persistence. One engine implements it all.
public typealias Stores = TenantStore & APIKeyStore & WebhookStore & OrderStore & OrderStatusStore & OutboxStore & ProviderStore & ProviderTokenStore
    & CatalogStore & MenuStore & LoyaltyStore & OAuthStateStore & ConsoleSessionStore & OperationsStore & StoreHealth

/// An engine's stores with their lifecycle: schema migration at start, closing at the end.
public protocol StoreEngine: TenantStore, APIKeyStore, WebhookStore, OrderStore, OrderStatusStore, OutboxStore, ProviderStore, ProviderTokenStore,
    CatalogStore, MenuStore, LoyaltyStore, OAuthStateStore, ConsoleSessionStore, OperationsStore, StoreHealth {
    /// Brings the schema up to date; returns the migration versions it applied.
    @discardableResult
    func migrate() async throws -> [Int]
    func shutdown() async
}
