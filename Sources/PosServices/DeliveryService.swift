import Foundation
import PosDomain
import PosStorage

/// `POST /deliveries/recover`, validated: the window of dead and failed deliveries to re-queue.
public struct RecoverDeliveries: Sendable, Equatable {
    /// Epoch milliseconds.
    public let since: Int64
    public let webhookId: Int64?
    /// A built-in POS connector's slug: only its deliveries (the console's "replay this target").
    public let connector: String?
    public let outletId: String?

    public init(since: Int64, webhookId: Int64?, connector: String? = nil, outletId: String?) {
        self.since = since
        self.webhookId = webhookId
        self.connector = connector
        self.outletId = outletId
    }
}

extension RecoverDeliveries {
    var target: DeliveryTargetFilter {
        if let webhookId { return .webhook(webhookId) }
        if let connector { return .connector(connector) }
        return .any
    }
}

/// `GET /deliveries`, validated: which of the tenant's deliveries, and where the page starts.
public struct DeliveryQuery: Sendable, Equatable {
    public var status: DeliveryStatus?
    public var outletId: String?
    public var webhookId: Int64?
    /// Created at or after, epoch milliseconds.
    public var since: Int64?
    /// 1 to 200; the store's default when nil.
    public var limit: Int?
    /// The previous page's `nextCursor`, opaque to callers.
    public var cursor: String?

    public init(status: DeliveryStatus? = nil, outletId: String? = nil, webhookId: Int64? = nil, since: Int64? = nil,
                limit: Int? = nil, cursor: String? = nil) {
        self.status = status
        self.outletId = outletId
        self.webhookId = webhookId
        self.since = since
        self.limit = limit
        self.cursor = cursor
    }
}

/// Inspection and replay of deliveries, tenant-scoped.
public struct DeliveryService: Sendable {
    private let outbox: any OutboxStore
    private let worker: OutboxWorker
    private let clock: ServiceClock

    public init(outbox: any OutboxStore, worker: OutboxWorker, clock: @escaping ServiceClock) {
        self.outbox = outbox
        self.worker = worker
        self.clock = clock
    }

    public func delivery(id: String, tenant: Tenant) async throws -> DeliveryDetail {
        guard let detail = try await translatingStoreErrors({ try await outbox.delivery(id: id, tenantId: tenant.id) }) else {
            throw ServiceError.notFound("no delivery with id \"\(id)\"")
        }
        return detail
    }

    public struct Page: Sendable {
        public let deliveries: [Delivery]
        /// Pass as `cursor` for the next page; nil on the last.
        public let nextCursor: String?
    }

    /// A page of the tenant's deliveries, newest first.
    public func list(_ query: DeliveryQuery, tenant: Tenant) async throws -> Page {
        var filter = DeliveryFilter(status: query.status, outletId: query.outletId, webhookId: query.webhookId, since: query.since)
        if let limit = query.limit { filter.limit = limit }
        if let cursor = query.cursor {
            guard let position = DeliveryCursorText.decode(cursor) else {
                throw ServiceError.invalid(field: "cursor", message: "cursor is not one this service issued")
            }
            filter.after = position
        }
        let deliveries = try await translatingStoreErrors { try await outbox.deliveries(tenantId: tenant.id, filter: filter) }
        let next = deliveries.count == filter.limit ? deliveries.last.map { DeliveryCursorText.encode(DeliveryCursor(createdAt: $0.createdAt, id: $0.id)) } : nil
        return Page(deliveries: deliveries, nextCursor: next)
    }

    /// Re-queues every dead or failed delivery in the window; returns how many.
    public func recover(_ command: RecoverDeliveries, tenant: Tenant) async throws -> Int {
        let count = try await translatingStoreErrors {
            try await outbox.recoverDeliveries(tenantId: tenant.id, since: command.since, target: command.target,
                                               outletId: command.outletId, now: clock())
        }
        if count > 0 { worker.wake() }
        return count
    }

    /// Makes the delivery due now (also from `dead`) and wakes the worker. The retry keeps the
    /// delivery's id (`X-Cata-Delivery-ID`, `webhook-id`) with a new timestamp and signature.
    public func retry(id: String, tenant: Tenant) async throws -> DeliveryDetail {
        guard try await translatingStoreErrors({ try await outbox.requeueDelivery(id: id, tenantId: tenant.id, now: clock()) }) != nil else {
            throw ServiceError.notFound("no delivery with id \"\(id)\"")
        }
        worker.wake()
        return try await delivery(id: id, tenant: tenant)
    }
}

/// Cursors are opaque to callers: base64url of `<position>:<key>`, where a list sorted by a time
/// and then a key (deliveries, outlets, products) stopped.
enum PageCursorText {
    static func encode(_ position: Int64, _ key: String) -> String {
        Data("\(position):\(key)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> (position: Int64, key: String)? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let decoded = String(data: data, encoding: .utf8),
              let colon = decoded.firstIndex(of: ":"), let position = Int64(decoded[..<colon])
        else { return nil }
        return (position, String(decoded[decoded.index(after: colon)...]))
    }
}

enum DeliveryCursorText {
    static func encode(_ cursor: DeliveryCursor) -> String { PageCursorText.encode(cursor.createdAt, cursor.id) }

    static func decode(_ text: String) -> DeliveryCursor? {
        PageCursorText.decode(text).map { DeliveryCursor(createdAt: $0.position, id: $0.key) }
    }
}
