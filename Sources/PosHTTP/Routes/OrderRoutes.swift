import Hummingbird
import PosDomain
import PosServices

/// Dispatch (kds-management-service), order lookup, and the order's status (partners, platform).
struct OrderRoutes: Sendable {
    let body: JSONBodyDecoder
    let orders: DispatchService
    let statuses: OrderStatusService

    /// Seed 000's answer beside the envelope's three fields.
    struct Dispatched: Encodable {
        let orderId: String
        let dispatched: Bool
        let reason: String
    }

    func dispatch(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Dispatched> {
        let command = try await body.decode(DispatchRequest.self, from: request)
        let result = try await orders.dispatch(command, tenant: context.principal.tenant, logger: context.logger)
        return Envelope(message: result.message, Dispatched(orderId: result.orderId, dispatched: result.dispatched, reason: result.reason))
    }

    func order(_ request: Request, context: AuthenticatedContext) async throws -> Tagged<JSONResponse<OrderView>> {
        let orderId = try context.parameters.require("orderId")
        let detail = try await orders.order(id: orderId, tenant: context.principal.tenant)
        return Tagged(JSONResponse(OrderView(detail)), version: detail.order.version)
    }

    struct StatusChanged: Encodable {
        let changed: Bool
        let stale: Bool
        let order: OrderStatusView
    }

    struct Cancelled: Encodable {
        let changed: Bool
        let cancellationPushedToPOS: Bool
        let pos: String
        let order: OrderStatusView
    }

    func status(_ request: Request, context: AuthenticatedContext) async throws -> Tagged<Envelope<StatusChanged>> {
        let orderId = try context.parameters.require("orderId")
        let report = try await body.decode(StatusReport.self, from: request)
        let result = try await statuses.report(orderId: orderId, tenant: context.principal.tenant, report, source: context.principal.statusSource,
                                               ifMatch: try Self.ifMatch(request))
        return Tagged(Envelope(message: result.message, StatusChanged(changed: result.changed, stale: result.stale, order: OrderStatusView(result.order))),
                      version: result.order.version)
    }

    func cancel(_ request: Request, context: AuthenticatedContext) async throws -> Tagged<Envelope<Cancelled>> {
        let orderId = try context.parameters.require("orderId")
        let command = try await body.decode(CancelOrder.self, from: request)
        let result = try await statuses.cancel(orderId: orderId, tenant: context.principal.tenant, reason: command.reason)
        return Tagged(Envelope(message: result.report.changed ? "order cancelled" : result.report.message,
                               Cancelled(changed: result.report.changed, cancellationPushedToPOS: result.pushedToPOS, pos: result.posNote,
                                         order: OrderStatusView(result.report.order))),
                      version: result.report.order.version)
    }

    /// `If-Match: "<version>"` (or `W/"<version>"`, or `*` for any); nil without the header.
    static func ifMatch(_ request: Request) throws(ServiceError) -> Int64? {
        guard let raw = request.headers[.ifMatch]?.trimmingCharacters(in: .whitespaces), raw != "*" else { return nil }
        let tag = raw.hasPrefix("W/") ? String(raw.dropFirst(2)) : raw
        guard tag.count >= 3, tag.hasPrefix("\""), tag.hasSuffix("\""), let version = Int64(tag.dropFirst().dropLast()) else {
            throw .invalid(field: "If-Match", message: "If-Match must be the order's ETag, such as \"3\"")
        }
        return version
    }
}

/// An answer carrying the order's version as its `ETag`, for `If-Match` on the next status change.
struct Tagged<Inner: ResponseGenerator>: ResponseGenerator {
    let inner: Inner
    let version: Int64

    init(_ inner: Inner, version: Int64) {
        self.inner = inner
        self.version = version
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try inner.response(from: request, context: context)
        response.headers[.eTag] = "\"\(version)\""
        return response
    }
}

/// The order's status as a status change answers it.
struct OrderStatusView: Encodable {
    let id: String
    let status: String
    let version: Int64
    let externalOrderId: String?
    let updatedAt: String

    init(_ order: OrderRecord) {
        id = order.id
        status = order.status.rawValue
        version = order.version
        externalOrderId = order.externalOrderId
        updatedAt = order.updatedAt.rfc3339
    }
}

/// One entry of an order's status history.
struct StatusChangeView: Encodable {
    let status: String
    let previous: String?
    let source: String
    let reason: String?
    let posOrderId: String?
    let occurredAt: String?
    let recordedAt: String
    let stale: Bool

    init(_ change: OrderStatusChange) {
        status = change.status.rawValue
        previous = change.previous?.rawValue
        source = change.source
        reason = change.reason
        posOrderId = change.posOrderId
        occurredAt = change.occurredAt?.rfc3339
        recordedAt = change.recordedAt.rfc3339
        stale = change.stale
    }
}

/// `GET /api/v1/orders/{orderId}`: identifiers, dispatch status and every delivery with its attempts.
struct OrderView: Encodable {
    let orderId: String
    let orderUuid: String
    let orderRefNo: String
    let outletId: String
    let event: String
    let builtInTransformer: String?
    let currency: String
    let totalPay: String
    let dispatchStatus: String
    let dispatchReason: String?
    let externalOrderId: String?
    let receivedAt: String
    let updatedAt: String
    /// The kitchen status (PAID … COMPLETED) and its version, the order's `ETag`.
    let status: String
    let version: Int64
    /// Oldest first, starting with PAID from dispatch.
    let statusHistory: [StatusChangeView]
    let deliveries: [DeliveryView]

    init(_ detail: OrderDetail) {
        let order = detail.order
        orderId = order.id
        orderUuid = order.orderUUID
        orderRefNo = order.orderRefNo
        outletId = order.outletId
        event = order.event
        builtInTransformer = order.builtInTransformer
        currency = order.currency
        totalPay = Currency(code: order.currency).map { Money(minorUnits: order.totalPayMinor, currency: $0).decimalString } ?? String(order.totalPayMinor)
        dispatchStatus = order.dispatchStatus.rawValue
        dispatchReason = order.dispatchReason
        externalOrderId = order.externalOrderId
        receivedAt = order.receivedAt.rfc3339
        updatedAt = order.updatedAt.rfc3339
        status = order.status.rawValue
        version = order.version
        statusHistory = detail.timeline.map(StatusChangeView.init)
        deliveries = detail.deliveries.map { delivery in
            DeliveryView(delivery, attempts: detail.attempts.filter { $0.deliveryId == delivery.id })
        }
    }
}
