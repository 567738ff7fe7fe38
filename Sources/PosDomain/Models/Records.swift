/// Rows the stores hand back. Times are milliseconds since the Unix epoch.

public struct APIKeyRecord: Sendable, Equatable {
    public var apiKeyId: Int64
    public var tenantId: String
    public var scopes: [APIScope]
    public var secretHash: String
    public var createdAt: Int64
    public var expiresAt: Int64?
    public var revokedAt: Int64?
    /// What its issuer called it; empty for keys issued before keys had names.
    public var name: String
    /// `posk_<id>_` and the secret's first characters (``PrefixedKeyToken/displayPrefix``).
    public var prefix: String
    /// When it last authenticated a request, to the minute (written at most once a minute).
    public var lastUsedAt: Int64?

    public init(apiKeyId: Int64, tenantId: String, scopes: [APIScope], secretHash: String, createdAt: Int64, expiresAt: Int64?, revokedAt: Int64?,
                name: String = "", prefix: String? = nil, lastUsedAt: Int64? = nil) {
        self.apiKeyId = apiKeyId
        self.tenantId = tenantId
        self.scopes = scopes
        self.secretHash = secretHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.name = name
        self.prefix = prefix ?? APIKeyToken.displayPrefix(id: apiKeyId)
        self.lastUsedAt = lastUsedAt
    }

    public func isUsable(at now: Int64) -> Bool {
        revokedAt == nil && (expiresAt.map { $0 > now } ?? true)
    }
}

/// A platform operator's key (`posop_…`): no tenant, no scopes; issued only by the CLI.
public struct OperatorKeyRecord: Sendable, Equatable {
    public var operatorKeyId: Int64
    public var name: String
    /// `posop_<id>_` and the secret's first characters.
    public var prefix: String
    public var secretHash: String
    public var createdAt: Int64
    public var expiresAt: Int64?
    public var revokedAt: Int64?
    public var lastUsedAt: Int64?

    public init(operatorKeyId: Int64, name: String, prefix: String, secretHash: String, createdAt: Int64, expiresAt: Int64?, revokedAt: Int64?,
                lastUsedAt: Int64?) {
        self.operatorKeyId = operatorKeyId
        self.name = name
        self.prefix = prefix
        self.secretHash = secretHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
    }

    public func isUsable(at now: Int64) -> Bool {
        revokedAt == nil && (expiresAt.map { $0 > now } ?? true)
    }
}

public struct Webhook: Sendable, Equatable {
    public var id: Int64
    public var tenantId: String
    /// The outlet whose events it gets; nil for a tenant-wide webhook, which gets every subscribed
    /// event of the tenant (all outlets, and events of no outlet such as alerts about connections).
    public var outletId: String?
    public var provider: String
    public var callbackUrl: String
    public var events: [String]
    public var isActive: Bool
    public var createdAt: Int64
    public var updatedAt: Int64
    /// Why the service disabled it (endpoint health), if it did.
    public var disabledReason: String?
    /// The status code the registration ping got, nil when it got no HTTP answer.
    public var lastPingStatus: Int?
    public var lastPingError: String?
    /// Until when the previous secret still signs too (rotation overlap).
    public var previousSecretExpiresAt: Int64?
    /// Endpoint health: failures in a row, since when it has only failed, and until when its circuit is open.
    public var health: EndpointHealth = EndpointHealth()

    public init(id: Int64, tenantId: String, outletId: String?, provider: String, callbackUrl: String, events: [String], isActive: Bool, createdAt: Int64, updatedAt: Int64,
                disabledReason: String? = nil, lastPingStatus: Int? = nil, lastPingError: String? = nil, previousSecretExpiresAt: Int64? = nil,
                health: EndpointHealth = EndpointHealth()) {
        self.id = id
        self.tenantId = tenantId
        self.outletId = outletId
        self.provider = provider
        self.callbackUrl = callbackUrl
        self.events = events
        self.isActive = isActive
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.disabledReason = disabledReason
        self.lastPingStatus = lastPingStatus
        self.lastPingError = lastPingError
        self.previousSecretExpiresAt = previousSecretExpiresAt
        self.health = health
    }

    public func isSubscribed(to event: String) -> Bool { isActive && events.contains(event) }
}

/// A webhook together with its signing secrets, still sealed by the master key.
public struct WebhookTarget: Sendable, Equatable {
    public var webhook: Webhook
    public var sealedSecret: String
    /// The secret replaced by the last rotation, signing too until `webhook.previousSecretExpiresAt`.
    public var previousSealedSecret: String?

    public init(webhook: Webhook, sealedSecret: String, previousSealedSecret: String? = nil) {
        self.webhook = webhook
        self.sealedSecret = sealedSecret
        self.previousSealedSecret = previousSealedSecret
    }

    /// The sealed secrets that sign an attempt at `now`, newest first.
    public func signingSecrets(at now: Int64) -> [String] {
        guard let previous = previousSealedSecret, let until = webhook.previousSecretExpiresAt, until > now else { return [sealedSecret] }
        return [sealedSecret, previous]
    }
}

/// How far an order's dispatch has come.
public enum DispatchStatus: String, Sendable, Codable {
    /// Accepted and persisted; delivery not finished.
    case pending
    /// Every delivery answered 2xx.
    case dispatched
    /// A delivery failed; it stays in the outbox.
    case failed
    /// No active webhook or connector for the outlet: persisted, nothing to send.
    case noTarget = "no_target"
}

public struct OrderRecord: Sendable, Equatable {
    public var id: String
    public var tenantId: String
    public var outletId: String
    public var event: String
    public var orderUUID: String
    public var orderRefNo: String
    public var builtInTransformer: String?
    public var currency: String
    public var totalPayMinor: Int64
    public var payloadSHA256: String
    public var dispatchStatus: DispatchStatus
    public var dispatchReason: String?
    /// The JSON body of the first dispatch response, replayed verbatim to duplicates.
    public var firstResponse: String?
    public var externalOrderId: String?
    public var receivedAt: Int64
    public var updatedAt: Int64
    /// Where the order stands in the kitchen (``OrderStatusMachine``); `PAID` from dispatch.
    public var status: OrderStatus
    /// Bumped by every applied status change; the `ETag` of the order's status.
    public var version: Int64
    /// When the change that set `status` happened; updates older than this are stale.
    public var statusChangedAt: Int64?
    public var fulfilment: Fulfilment

    public init(id: String, tenantId: String, outletId: String, event: String, orderUUID: String, orderRefNo: String, builtInTransformer: String?, currency: String, totalPayMinor: Int64, payloadSHA256: String, dispatchStatus: DispatchStatus, dispatchReason: String?, firstResponse: String?, externalOrderId: String?, receivedAt: Int64, updatedAt: Int64,
                status: OrderStatus = .paid, version: Int64 = 1, statusChangedAt: Int64? = nil, fulfilment: Fulfilment = .unknown) {
        self.id = id
        self.tenantId = tenantId
        self.outletId = outletId
        self.event = event
        self.orderUUID = orderUUID
        self.orderRefNo = orderRefNo
        self.builtInTransformer = builtInTransformer
        self.currency = currency
        self.totalPayMinor = totalPayMinor
        self.payloadSHA256 = payloadSHA256
        self.dispatchStatus = dispatchStatus
        self.dispatchReason = dispatchReason
        self.firstResponse = firstResponse
        self.externalOrderId = externalOrderId
        self.receivedAt = receivedAt
        self.updatedAt = updatedAt
        self.status = status
        self.version = version
        self.statusChangedAt = statusChangedAt
        self.fulfilment = fulfilment
    }
}

/// One entry of an order's status history: an applied change, or a stale report kept for the record.
public struct OrderStatusChange: Sendable, Equatable {
    public var status: OrderStatus
    public var previous: OrderStatus?
    /// `partner`, `pos:<slug>`, `poll`, `platform`.
    public var source: String
    public var reason: String?
    /// The POS's order id the reporter named.
    public var posOrderId: String?
    /// When it happened, as the reporter said (ms since the epoch); nil when it did not say.
    public var occurredAt: Int64?
    public var recordedAt: Int64
    /// Older than the change already applied: recorded, not applied.
    public var stale: Bool

    public init(status: OrderStatus, previous: OrderStatus?, source: String, reason: String?, posOrderId: String?, occurredAt: Int64?,
                recordedAt: Int64, stale: Bool) {
        self.status = status
        self.previous = previous
        self.source = source
        self.reason = reason
        self.posOrderId = posOrderId
        self.occurredAt = occurredAt
        self.recordedAt = recordedAt
        self.stale = stale
    }
}

/// A delivery's place in its lifecycle: `pending → delivering → delivered | failed → … → dead`.
public enum DeliveryStatus: String, Sendable, Codable {
    case pending
    case delivering
    case delivered
    case failed
    case dead
}

/// One outbox row: one event to one target (a webhook or a POS connector), retried until
/// delivered or dead.
public struct Delivery: Sendable, Equatable {
    public var id: String
    public var tenantId: String
    public var eventId: String
    public var subject: EventSubject
    public var webhookId: Int64?
    public var connector: String
    /// The event's type (`order.paid`, …).
    public var event: String
    public var status: DeliveryStatus
    /// Attempts that finished and were recorded.
    public var attemptCount: Int
    /// Attempts begun: counted when a delivery is leased, before the attempt runs, so one whose
    /// process died during it is still counted (``OutboxPolicy/interruptedAttempts(of:)``).
    public var attemptsStarted: Int
    public var nextAttemptAt: Int64?
    public var lastStatusCode: Int?
    public var lastError: String?
    public var createdAt: Int64
    public var updatedAt: Int64
    public var deliveredAt: Int64?
    /// The steps a multi-step connector finished (JSON text), so a retry resumes after them.
    public var progress: String?

    public init(id: String, tenantId: String, eventId: String, subject: EventSubject, webhookId: Int64?, connector: String, event: String,
                status: DeliveryStatus, attemptCount: Int, attemptsStarted: Int, nextAttemptAt: Int64?, lastStatusCode: Int?, lastError: String?,
                createdAt: Int64, updatedAt: Int64, deliveredAt: Int64?, progress: String? = nil) {
        self.id = id
        self.tenantId = tenantId
        self.eventId = eventId
        self.subject = subject
        self.webhookId = webhookId
        self.connector = connector
        self.event = event
        self.status = status
        self.attemptCount = attemptCount
        self.attemptsStarted = attemptsStarted
        self.nextAttemptAt = nextAttemptAt
        self.lastStatusCode = lastStatusCode
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deliveredAt = deliveredAt
        self.progress = progress
    }

    /// The order it concerns, when its subject is an order.
    public var orderId: String? { subject.kind == .order ? subject.id : nil }
}

/// What one attempt at a delivery did.
public struct DeliveryAttempt: Sendable, Equatable {
    public var deliveryId: String
    public var attemptNumber: Int
    public var startedAt: Int64
    public var durationMs: Int64
    public var statusCode: Int?
    /// `http_status`, `timeout`, `network`, `refused`… nil on success.
    public var errorClass: String?
    public var error: String?
    /// The first 1 KiB of the response body.
    public var responseExcerpt: String?
    /// Which secrets signed it (`current`, `current+previous`).
    public var signedWith: String?

    public init(deliveryId: String, attemptNumber: Int, startedAt: Int64, durationMs: Int64, statusCode: Int?, errorClass: String?, error: String?, responseExcerpt: String?, signedWith: String?) {
        self.deliveryId = deliveryId
        self.attemptNumber = attemptNumber
        self.startedAt = startedAt
        self.durationMs = durationMs
        self.statusCode = statusCode
        self.errorClass = errorClass
        self.error = error
        self.responseExcerpt = responseExcerpt
        self.signedWith = signedWith
    }

    public var succeeded: Bool { errorClass == nil && (statusCode.map { (200..<300).contains($0) } ?? false) }
}
