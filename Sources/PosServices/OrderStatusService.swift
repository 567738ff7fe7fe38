import Foundation
import Logging
import PosConnectors
import PosDomain
import PosStorage

/// A status someone reports for an order: a partner's `POST /orders/{id}/status`, a POS webhook,
/// a poll, or the platform cancelling.
public struct StatusReport: Sendable, Equatable {
    public var status: OrderStatus
    public var posOrderId: String?
    /// When it happened, as the reporter says (ms since the epoch).
    public var occurredAt: Int64?
    public var reason: String?

    public init(status: OrderStatus, posOrderId: String? = nil, occurredAt: Int64? = nil, reason: String? = nil) {
        self.status = status
        self.posOrderId = posOrderId
        self.occurredAt = occurredAt
        self.reason = reason
    }
}

/// What a report did to the order.
public struct StatusReportResult: Sendable, Equatable {
    public var order: OrderRecord
    /// Whether the status changed (false for a repeat or a stale report).
    public var changed: Bool
    /// Older than the last applied change: recorded in history only.
    public var stale: Bool

    public var message: String {
        if stale { return "stale update recorded; status stays \(order.status.rawValue)" }
        return changed ? "status updated to \(order.status.rawValue)" : "status already \(order.status.rawValue)"
    }
}

/// What `POST /orders/{id}/cancel` did.
public struct CancellationResult: Sendable, Equatable {
    public var report: StatusReportResult
    /// Whether a cancellation was queued for the POS (visible as a delivery of the order).
    public var pushedToPOS: Bool
    /// Why not, when it was not (`oktopos … cannot cancel`, `the order never reached a POS`).
    public var posNote: String
}

/// The order status path, one straight line for every source: read the order → the state machine
/// decides → compare-and-set the change with its history entry and its events, in one transaction.
/// A lost race (someone changed the order meanwhile) is decided again on the fresh order, unless the
/// caller pinned a version with `If-Match`.
public struct OrderStatusService: Sendable {
    private let store: any OrderStatusStore & OrderStore
    private let registry: ConnectorRegistry
    private let clock: ServiceClock
    private let makeId: @Sendable () -> String

    /// Name of the connector job that pushes a cancellation to the POS.
    public static let cancelJob = DeliveryKind.cancelJob
    /// Name of the connector job that asks the POS for an order's status.
    public static let pollJob = DeliveryKind.pollJob

    public init(store: any OrderStatusStore & OrderStore, registry: ConnectorRegistry, clock: @escaping ServiceClock,
                makeId: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() }) {
        self.store = store
        self.registry = registry
        self.clock = clock
        self.makeId = makeId
    }

    /// `POST /orders/{id}/status`. Another tenant's order is not found.
    public func report(orderId: String, tenant: Tenant, _ report: StatusReport, source: StatusSource, ifMatch: Int64?) async throws -> StatusReportResult {
        try await apply(report, to: try await order(orderId, tenant: tenant), source: source, ifMatch: ifMatch).result
    }

    /// `POST /orders/{id}/cancel`: moves the order to CANCELLED and, when its POS has it (or is being
    /// sent it) and can cancel, queues the cancellation for the POS through the outbox.
    public func cancel(orderId: String, tenant: Tenant, reason: String) async throws -> CancellationResult {
        guard let detail = try await translatingStoreErrors({ try await store.order(id: orderId, tenantId: tenant.id) }) else {
            throw ServiceError.notFound("no order with id \"\(orderId)\"")
        }
        let order = detail.order
        let (pushed, note) = cancellationTarget(detail)
        let (result, _) = try await apply(StatusReport(status: .cancelled, reason: reason), to: order, source: .platform, ifMatch: nil,
                                          cancelJob: pushed ? order.builtInTransformer : nil)
        return CancellationResult(report: result, pushedToPOS: pushed && result.changed, posNote: result.changed ? note : "order was already cancelled")
    }

    /// Applies a status the POS reported (webhook or poll) to an order already found.
    public func apply(_ report: StatusReport, to order: OrderRecord, source: StatusSource) async throws -> StatusReportResult {
        try await apply(report, to: order, source: source, ifMatch: nil).result
    }

    private func order(_ id: String, tenant: Tenant) async throws -> OrderRecord {
        guard let order = try await translatingStoreErrors({ try await store.orderRecord(id: id, tenantId: tenant.id) }) else {
            throw ServiceError.notFound("no order with id \"\(id)\"")
        }
        return order
    }

    /// Whether a cancellation goes to the order's POS, and the words the response uses for it.
    private func cancellationTarget(_ detail: OrderDetail) -> (Bool, String) {
        guard let slug = detail.order.builtInTransformer else { return (false, "the order went to webhooks, not a built-in transformer") }
        guard registry.connector(slug, as: (any OrderCancelling).self) != nil else {
            return (false, "\(slug) cannot cancel orders through its API; cancel it at the POS")
        }
        // A dispatch still waiting in the outbox is dead-lettered instead: the POS never gets the order.
        let reached = detail.deliveries.contains { $0.kind == .posOrder && [.delivering, .delivered].contains($0.status) }
        return reached ? (true, "cancellation queued for \(slug)") : (false, "the order had not reached \(slug); its dispatch was stopped")
    }

    private func apply(_ report: StatusReport, to first: OrderRecord, source: StatusSource, ifMatch: Int64?,
                       cancelJob connector: String? = nil) async throws -> (result: StatusReportResult, order: OrderRecord) {
        var order = first
        // Each round re-reads the order a concurrent writer changed; the state machine decides again.
        for _ in 0..<8 {
            if let ifMatch, ifMatch != order.version {
                throw ServiceError.preconditionFailed("the order's version is \(order.version), not \(ifMatch)",
                                                      details: "read the order again and resend with If-Match: \"\(order.version)\"")
            }
            let decision = OrderStatusMachine.decide(current: order.status, lastChangeAt: order.statusChangedAt, fulfilment: order.fulfilment,
                                                     requested: report.status, occurredAt: report.occurredAt)
            let now = clock()
            let change = OrderStatusChange(status: report.status, previous: order.status, source: source.description, reason: report.reason,
                                           posOrderId: report.posOrderId, occurredAt: report.occurredAt, recordedAt: now,
                                           stale: decision == .stale)
            switch decision {
            case .unchanged:
                return (StatusReportResult(order: order, changed: false, stale: false), order)
            case .forbidden(let allowed):
                let next = allowed.isEmpty ? "none: \(order.status.rawValue) is final" : allowed.map(\.rawValue).joined(separator: ", ")
                throw ServiceError.conflict("cannot move order from \(order.status.rawValue) to \(report.status.rawValue)",
                                            details: "allowed next statuses: \(next)")
            case .stale, .apply:
                let write = StatusChangeWrite(
                    orderId: order.id, tenantId: order.tenantId, expectedVersion: order.version, change: change,
                    publications: decision == .apply ? publications(for: change, order: order, cancelJob: connector) : [],
                    deadLetterWaitingDispatch: decision == .apply && report.status == .cancelled ? "order cancelled before it was delivered" : nil)
                if let written = try await translatingStoreErrors({ try await store.recordStatusChange(write, makeDeliveryId: makeId) }) {
                    return (StatusReportResult(order: written, changed: decision == .apply, stale: decision == .stale), written)
                }
                guard let fresh = try await translatingStoreErrors({ try await store.orderRecord(id: order.id, tenantId: order.tenantId) }) else {
                    throw ServiceError.notFound("no order with id \"\(order.id)\"")
                }
                order = fresh
            }
        }
        throw ServiceError.unavailable("the order kept changing while its status was being updated; retry")
    }

    /// `order.status_updated` for every applied change, `order.cancelled` too for a cancellation,
    /// and the POS's cancel job when one is due.
    private func publications(for change: OrderStatusChange, order: OrderRecord, cancelJob connector: String?) -> [EventPublication] {
        let body = StatusEventBody(order: order, change: change)
        var types = [EventCatalogue.orderStatusUpdated]
        if change.status == .cancelled { types.append(EventCatalogue.orderCancelled) }
        var publications = types.map { type in
            EventPublication(event: OutboxEvent(id: makeId(), tenantId: order.tenantId, type: type, subject: EventSubject(.order, id: order.id),
                                                outletId: order.outletId, payload: body.json.bytes, createdAt: change.recordedAt))
        }
        if let connector {
            let reason: JSONValue = change.reason.map(JSONValue.string) ?? .null
            publications.append(EventPublication(
                event: OutboxEvent(id: makeId(), tenantId: order.tenantId, type: Self.cancelJob, subject: EventSubject(.order, id: order.id),
                                   outletId: order.outletId, payload: JSONValue.object([("reason", reason)]).bytes, createdAt: change.recordedAt),
                connector: connector))
        }
        return publications
    }
}

/// The body of `order.status_updated` and `order.cancelled`, as webhooks receive it.
struct StatusEventBody {
    let order: OrderRecord
    let change: OrderStatusChange

    var json: JSONValue {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        return .object([
            ("orderId", .string(order.id)),
            ("outletId", .string(order.outletId)),
            ("status", .string(change.status.rawValue)),
            ("previousStatus", text(change.previous?.rawValue)),
            ("source", .string(change.source)),
            ("reason", text(change.reason)),
            ("posOrderId", text(change.posOrderId ?? order.externalOrderId)),
            ("occurredAt", .string(RFC3339.format(milliseconds: change.occurredAt ?? change.recordedAt))),
            // The version this change makes.
            ("version", .integer(order.version + 1)),
        ])
    }
}

extension Principal {
    /// Who a status report from this caller comes from: a partner's key, or the platform's own.
    public var statusSource: StatusSource { has(anyOf: [.partner]) ? .partner : .platform }
}
