import Foundation
import PosDomain
import PosStorage

/// `/console/orders?…` before validation: every field as typed into the search form.
public struct OrderSearchQuery: Sendable, Equatable {
    public var text: String?
    public var outletId: String?
    public var status: String?
    /// `YYYY-MM-DD`, UTC: orders received that day or later / up to that day's end.
    public var from: String?
    public var until: String?
    public var cursor: String?

    public init(text: String? = nil, outletId: String? = nil, status: String? = nil, from: String? = nil, until: String? = nil, cursor: String? = nil) {
        self.text = text
        self.outletId = outletId
        self.status = status
        self.from = from
        self.until = until
        self.cursor = cursor
    }
}

/// Something an operator should look at now.
public struct AttentionItem: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case circuitOpen = "circuit open"
        case webhookDisabled = "webhook disabled"
        case reauthorizationRequired = "reauthorization required"
    }

    public var kind: Kind
    /// What it is about: `webhook 3 (acme-pos, outlet store-1)`, `connection lightspeed`.
    public var subject: String
    public var detail: String
    /// A webhook's id, to link to it; nil for connections.
    public var webhookId: Int64?
    public var connectionSlug: String?
}

/// The overview page's figures for one tenant.
public struct TenantOverview: Sendable, Equatable {
    public var tenant: Tenant
    public var now: Int64
    public var lastHourOrders: Int
    public var lastHourDelivered: Int
    public var outbox: OutboxSnapshot
    /// The window in 10-minute buckets, oldest first, every bucket present.
    public var activity: [ActivityBucket]
    public var attention: [AttentionItem]

    /// Delivered share of the last hour's orders, 0…1; nil without orders.
    public var lastHourDeliveredShare: Double? {
        lastHourOrders == 0 ? nil : Double(lastHourDelivered) / Double(lastHourOrders)
    }
}

/// What the people running the service look at: the overview, order search and dead letters.
public struct OperationsService: Sendable {
    public static let bucketMs: Int64 = 600_000
    public static let windowMs: Int64 = 86_400_000
    public static let pageSize = 50

    private let operations: any OperationsStore
    private let webhooks: any WebhookStore
    private let providers: any ProviderStore
    private let clock: ServiceClock

    public init(operations: any OperationsStore, webhooks: any WebhookStore, providers: any ProviderStore, clock: @escaping ServiceClock) {
        self.operations = operations
        self.webhooks = webhooks
        self.providers = providers
        self.clock = clock
    }

    /// The tenant's figures over the last `windowMs` (24 hours for its own overview; the platform
    /// view asks for the last hour of every tenant).
    public func overview(tenant: Tenant, windowMs: Int64 = windowMs) async throws -> TenantOverview {
        let now = clock()
        // Buckets aligned to the clock's 10 minutes, so a page reload does not shift them.
        let firstBucket = (now - windowMs) / Self.bucketMs * Self.bucketMs + Self.bucketMs
        let (counted, outbox, hooks, connections) = try await translatingStoreErrors {
            async let counted = operations.orderActivity(tenantId: tenant.id, since: firstBucket, bucketMs: Self.bucketMs)
            async let outbox = operations.outboxSnapshot(tenantId: tenant.id)
            async let hooks = webhooks.webhooks(tenantId: tenant.id)
            async let connections = providers.connections(tenantId: tenant.id)
            return try await (counted, outbox, hooks, connections)
        }
        let byStart = Dictionary(counted.map { ($0.start, $0) }, uniquingKeysWith: { first, _ in first })
        let activity = stride(from: firstBucket, through: now, by: Int(Self.bucketMs)).map {
            byStart[$0] ?? ActivityBucket(start: $0, orders: 0, delivered: 0, meanTimeToTargetMs: nil)
        }
        let lastHour = activity.filter { $0.start + Self.bucketMs > now - 3_600_000 }
        return TenantOverview(
            tenant: tenant, now: now,
            lastHourOrders: lastHour.reduce(0) { $0 + $1.orders }, lastHourDelivered: lastHour.reduce(0) { $0 + $1.delivered },
            outbox: outbox, activity: activity, attention: Self.attention(webhooks: hooks, connections: connections, now: now))
    }

    static func attention(webhooks: [Webhook], connections: [ProviderConnection], now: Int64) -> [AttentionItem] {
        var items: [AttentionItem] = []
        for webhook in webhooks {
            let subject = "webhook \(webhook.id) (\(webhook.provider), \(webhook.outletId.map { "outlet \($0)" } ?? "all outlets"))"
            if !webhook.isActive, let reason = webhook.disabledReason {
                items.append(AttentionItem(kind: .webhookDisabled, subject: subject, detail: reason, webhookId: webhook.id))
            } else if webhook.health.isOpen(at: now) {
                items.append(AttentionItem(kind: .circuitOpen, subject: subject,
                                           detail: "\(webhook.health.consecutiveFailures) failures in a row", webhookId: webhook.id))
            }
        }
        for connection in connections where connection.status == CredentialProvider.reauthorizationRequired {
            items.append(AttentionItem(kind: .reauthorizationRequired, subject: "connection \(connection.slug)",
                                       detail: "the POS refused our refresh token: connect again", connectionSlug: connection.slug))
        }
        return items
    }

    public struct OrderPage: Sendable {
        public let orders: [OrderRecord]
        public let nextCursor: String?
    }

    public func searchOrders(_ query: OrderSearchQuery, tenant: Tenant) async throws -> OrderPage {
        var search = OrderSearch(limit: Self.pageSize)
        search.text = query.text.nonEmptyTrimmed
        search.outletId = query.outletId.nonEmptyTrimmed
        if let status = query.status.nonEmptyTrimmed {
            guard let known = OrderStatus(rawValue: status.uppercased()) else {
                throw ServiceError.invalid(field: "status", message: "status must be one of \(OrderStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            search.status = known
        }
        if let from = query.from.nonEmptyTrimmed {
            guard let day = Self.dayStart(from) else { throw ServiceError.invalid(field: "from", message: "from must be a date, YYYY-MM-DD") }
            search.from = day
        }
        if let until = query.until.nonEmptyTrimmed {
            guard let day = Self.dayStart(until) else { throw ServiceError.invalid(field: "until", message: "until must be a date, YYYY-MM-DD") }
            search.until = day + 86_400_000
        }
        if let cursor = query.cursor.nonEmptyTrimmed {
            guard let position = PageCursorText.decode(cursor) else {
                throw ServiceError.invalid(field: "cursor", message: "cursor is not one this service issued")
            }
            search.after = (position.position, position.key)
        }
        let orders = try await translatingStoreErrors { try await operations.searchOrders(tenantId: tenant.id, search) }
        let next = orders.count == search.limit ? orders.last.map { PageCursorText.encode($0.receivedAt, $0.id) } : nil
        return OrderPage(orders: orders, nextCursor: next)
    }

    public func deadLetters(tenant: Tenant) async throws -> [DeadLetterGroup] {
        try await translatingStoreErrors { try await operations.deadLetterGroups(tenantId: tenant.id, limit: 50, sampleSize: 5) }
    }

    /// Midnight UTC of a `YYYY-MM-DD` day, epoch milliseconds.
    public static func dayStart(_ text: String) -> Int64? {
        let parts = text.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        guard let date = calendar.date(from: DateComponents(year: year, month: month, day: day)),
              calendar.component(.day, from: date) == day
        else { return nil }
        return Int64(date.timeIntervalSince1970 * 1000)
    }
}

extension Optional where Wrapped == String {
    var nonEmptyTrimmed: String? {
        guard let trimmed = self?.trimmingCharacters(in: .whitespacesAndNewlines), !trimmed.isEmpty else { return nil }
        return trimmed
    }
}
