import Hummingbird
import PosDomain
import PosServices
import PosStorage

/// Dispatch (kds-management-service) and order lookup.
struct OrderRoutes {
    let reader: RequestReader
    let dispatch: DispatchService

    func register(on router: Router<PosRequestContext>, table: RouteTable) {
        router.post(table.record(.post, "/api/v1/orders/dispatch")) { request, context in
            let principal = try await reader.principal(request, anyOf: [.internal])
            let body = try await reader.jsonBody(request)
            let dispatchRequest = try DispatchService.parse(body: body)
            var logger = context.logger
            logger[metadataKey: "tenant_id"] = .string(principal.tenant.id)
            return JSONResponse(try await dispatch.dispatch(dispatchRequest, tenant: principal.tenant, logger: logger))
        }
        router.get(table.record(.get, "/api/v1/orders/{orderId}")) { request, context in
            let principal = try await reader.principal(request, anyOf: [.internal, .partner])
            let orderId = try context.parameters.require("orderId")
            return JSONResponse(OrderView(try await dispatch.order(id: orderId, tenant: principal.tenant)))
        }
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
