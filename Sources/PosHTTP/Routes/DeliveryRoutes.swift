import Hummingbird
import PosDomain
import PosServices

/// Delivery inspection and replay (scope `internal` or `admin`).
struct DeliveryRoutes: Sendable {
    let body: JSONBodyDecoder
    let deliveries: DeliveryService

    struct Requeued: Encodable {
        let delivery: DeliveryView
    }

    struct Page: Encodable {
        let deliveries: [DeliveryView]
        let nextCursor: String?
    }

    struct Recovered: Encodable {
        let requeued: Int
    }

    func list(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<Page> {
        let query = try DeliveryQuery(query: request.uri.queryParameters)
        let page = try await deliveries.list(query, tenant: context.principal.tenant)
        return JSONResponse(Page(deliveries: page.deliveries.map { DeliveryView($0, attempts: nil) }, nextCursor: page.nextCursor))
    }

    func recover(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Recovered> {
        let command = try await body.decode(RecoverDeliveries.self, from: request)
        let count = try await deliveries.recover(command, tenant: context.principal.tenant)
        return Envelope(.accepted, message: "deliveries queued for an attempt now", Recovered(requeued: count))
    }

    func delivery(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<DeliveryView> {
        let id = try context.parameters.require("deliveryId")
        return JSONResponse(DeliveryView(try await deliveries.delivery(id: id, tenant: context.principal.tenant)))
    }

    func retry(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Requeued> {
        let id = try context.parameters.require("deliveryId")
        let detail = try await deliveries.retry(id: id, tenant: context.principal.tenant)
        return Envelope(.accepted, message: "delivery queued for an attempt now", Requeued(delivery: DeliveryView(detail)))
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
    let eventId: String
    let subject: String
    /// Present when the event is about an order.
    let orderId: String?
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
    /// A multi-step connector's finished steps (desibits: order id and number, payment, KOT number).
    let progress: JSONValue?
    /// Omitted in lists.
    let attempts: [AttemptView]?
    /// Earlier deliveries of its subject to its target that are dead (it went without them); omitted in lists and when none.
    let deadBefore: [String]?

    init(_ delivery: Delivery, attempts: [DeliveryAttempt]?, deadBefore: [String] = []) {
        id = delivery.id
        eventId = delivery.eventId
        subject = delivery.subject.kind.rawValue
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
        progress = delivery.progress.flatMap { JSONValue(parsing: $0) }
        self.attempts = attempts?.map(AttemptView.init)
        self.deadBefore = deadBefore.isEmpty ? nil : deadBefore
    }

    init(_ detail: DeliveryDetail) {
        self.init(detail.delivery, attempts: detail.attempts, deadBefore: detail.deadBefore)
    }
}
