import Hummingbird
import PosDomain
import PosServices
import PosStorage

/// Dispatch (kds-management-service) and order lookup.
struct OrderRoutes: Sendable {
    let body: JSONBodyDecoder
    let orders: DispatchService

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

    func order(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<OrderView> {
        let orderId = try context.parameters.require("orderId")
        return JSONResponse(OrderView(try await orders.order(id: orderId, tenant: context.principal.tenant)))
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
        deliveries = detail.deliveries.map { delivery in
            DeliveryView(delivery, attempts: detail.attempts.filter { $0.deliveryId == delivery.id })
        }
    }
}
