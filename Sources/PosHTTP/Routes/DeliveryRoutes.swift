import Hummingbird
import PosDomain
import PosServices
import PosStorage

/// Delivery inspection and replay (scope `internal` or `admin`).
struct DeliveryRoutes {
    let reader: RequestReader
    let deliveries: DeliveryService

    struct Requeued: Encodable {
        let code: Int
        let isSuccess: Bool
        let message: String
        let delivery: DeliveryView
    }

    func register(on router: Router<PosRequestContext>, table: RouteTable) {
        router.get(table.record(.get, "/api/v1/deliveries/{deliveryId}")) { request, context in
            let principal = try await reader.principal(request, anyOf: [.internal, .admin])
            let id = try context.parameters.require("deliveryId")
            return JSONResponse(DeliveryView(try await deliveries.delivery(id: id, tenant: principal.tenant)))
        }
        router.post(table.record(.post, "/api/v1/deliveries/{deliveryId}/retry")) { request, context in
            let principal = try await reader.principal(request, anyOf: [.internal, .admin])
            let id = try context.parameters.require("deliveryId")
            let detail = try await deliveries.retry(id: id, tenant: principal.tenant)
            return JSONResponse(Requeued(code: 202, isSuccess: true, message: "delivery queued for an attempt now",
                                         delivery: DeliveryView(detail)), status: .accepted)
        }
    }
}

/// A delivery with its attempts, as the API shows it.
struct DeliveryView: Encodable {
    struct AttemptView: Encodable {
        let attemptNumber: Int
        let attemptedAt: String
        let durationMs: Int64
        let statusCode: Int?
        let errorClass: String?
        let error: String?
        let responseExcerpt: String?
        let signedWith: String?

        init(_ attempt: DeliveryAttempt) {
            attemptNumber = attempt.attemptNumber
            attemptedAt = attempt.startedAt.rfc3339
            durationMs = attempt.durationMs
            statusCode = attempt.statusCode
            errorClass = attempt.errorClass
            error = attempt.error
            responseExcerpt = attempt.responseExcerpt
            signedWith = attempt.signedWith
        }
    }

    let id: String
    let orderId: String
    let webhookId: Int64?
    let connector: String
    let event: String
    let status: String
    let attemptCount: Int
    let nextAttemptAt: String?
    let lastStatusCode: Int?
    let lastError: String?
    let createdAt: String
    let deliveredAt: String?
    let attempts: [AttemptView]

    init(_ delivery: Delivery, attempts: [DeliveryAttempt]) {
        id = delivery.id
        orderId = delivery.orderId
        webhookId = delivery.webhookId
        connector = delivery.connector
        event = delivery.event
        status = delivery.status.rawValue
        attemptCount = delivery.attemptCount
        nextAttemptAt = delivery.nextAttemptAt?.rfc3339
        lastStatusCode = delivery.lastStatusCode
        lastError = delivery.lastError
        createdAt = delivery.createdAt.rfc3339
        deliveredAt = delivery.deliveredAt?.rfc3339
        self.attempts = attempts.map(AttemptView.init)
    }

    init(_ detail: DeliveryDetail) {
        self.init(detail.delivery, attempts: detail.attempts)
    }
}
