import Hummingbird
import PosDomain
import PosServices

/// Webhook registration and the event catalogue.
struct WebhookRoutes {
    let reader: RequestReader
    let webhooks: WebhookService
    let deliveries: DeliveryService

    struct Registered: Encodable {
        struct Body: Encodable {
            let id: Int64
            let outletId: String
            let provider: String
            let callbackUrl: String
            let events: [String]
            let secret: String
            let isActive: Bool
            let createdAt: String
        }
        struct Ping: Encodable {
            let delivered: Bool
            let statusCode: Int?
            let error: String?
        }
        let code: Int
        let isSuccess: Bool
        let message: String
        let webhook: Body
        let ping: Ping?
    }

    struct Rotated: Encodable {
        let code: Int
        let isSuccess: Bool
        let message: String
        let webhook: WebhookView
        /// The new `whsec_` secret, shown only here.
        let secret: String
        let previousSecretValidUntil: String?
    }

    struct Deleted: Encodable {
        let code: Int
        let isSuccess: Bool
        let message: String
        let deliveriesDeadLettered: Int
    }

    struct List: Encodable {
        let webhooks: [WebhookView]
    }

    struct Catalogue: Encodable {
        struct Event: Encodable {
            let name: String
            let description: String
        }
        let events: [Event]
    }

    func register(on router: Router<PosRequestContext>, table: RouteTable) {
        router.post(table.record(.post, "/api/v1/webhooks/register")) { request, _ in
            let principal = try await reader.principal(request, anyOf: [.partner, .admin])
            let registration = try await webhooks.register(body: try await reader.jsonBody(request), tenant: principal.tenant)
            let webhook = registration.webhook
            let ping = registration.ping
            return JSONResponse(Registered(
                code: 201, isSuccess: true, message: ping.succeeded ? "webhook registered" : "webhook registered; the ping got no 2xx",
                webhook: .init(id: webhook.id, outletId: webhook.outletId, provider: webhook.provider,
                               callbackUrl: webhook.callbackUrl, events: webhook.events, secret: registration.secret,
                               isActive: webhook.isActive, createdAt: webhook.createdAt.rfc3339),
                ping: .init(delivered: ping.succeeded, statusCode: ping.statusCode, error: ping.error)),
                status: .created)
        }
        router.get(table.record(.get, "/api/v1/webhooks")) { request, _ in
            let principal = try await reader.principal(request, anyOf: [.partner, .admin])
            return JSONResponse(List(webhooks: try await webhooks.webhooks(tenant: principal.tenant).map(WebhookView.init)))
        }
        router.get(table.record(.get, "/api/v1/webhooks/{webhookId}")) { request, context in
            let principal = try await reader.principal(request, anyOf: [.partner, .admin])
            return JSONResponse(WebhookView(try await webhooks.webhook(id: try Self.webhookId(context), tenant: principal.tenant)))
        }
        router.put(table.record(.put, "/api/v1/webhooks/{webhookId}")) { request, context in
            let principal = try await reader.principal(request, anyOf: [.partner, .admin])
            let body = try await reader.jsonBody(request)
            return JSONResponse(WebhookView(try await webhooks.update(id: try Self.webhookId(context), body: body, tenant: principal.tenant)))
        }
        router.delete(table.record(.delete, "/api/v1/webhooks/{webhookId}")) { request, context in
            let principal = try await reader.principal(request, anyOf: [.partner, .admin])
            let count = try await webhooks.delete(id: try Self.webhookId(context), tenant: principal.tenant)
            return JSONResponse(Deleted(code: 200, isSuccess: true, message: "webhook deleted", deliveriesDeadLettered: count))
        }
        router.get(table.record(.get, "/api/v1/webhooks/{webhookId}/deliveries")) { request, context in
            let principal = try await reader.principal(request, anyOf: [.partner, .admin])
            let webhook = try await webhooks.webhook(id: try Self.webhookId(context), tenant: principal.tenant)
            let query = request.uri.queryParameters
            let page = try await deliveries.list(
                tenant: principal.tenant, status: query["status"].map(String.init), outletId: nil, webhookId: String(webhook.id),
                since: query["since"].map(String.init), limit: query["limit"].map(String.init), cursor: query["cursor"].map(String.init))
            return JSONResponse(DeliveryRoutes.Page(deliveries: page.deliveries.map { DeliveryView($0, attempts: nil) }, nextCursor: page.nextCursor))
        }
        router.post(table.record(.post, "/api/v1/webhooks/{webhookId}/rotate-secret")) { request, context in
            let principal = try await reader.principal(request, anyOf: [.partner, .admin])
            let rotated = try await webhooks.rotateSecret(id: try Self.webhookId(context), tenant: principal.tenant)
            return JSONResponse(Rotated(code: 200, isSuccess: true, message: "secret rotated", webhook: WebhookView(rotated.webhook),
                                        secret: rotated.secret, previousSecretValidUntil: rotated.webhook.previousSecretExpiresAt?.rfc3339))
        }
        router.get(table.record(.get, "/api/v1/webhooks/events")) { _, _ in
            JSONResponse(Catalogue(events: EventCatalogue.events.map { .init(name: $0.name, description: $0.description) }))
        }
    }
}

extension WebhookRoutes {
    static func webhookId(_ context: PosRequestContext) throws -> Int64 {
        guard let id = context.parameters.get("webhookId").flatMap(Int64.init), id > 0 else {
            throw APIError(status: .notFound, message: "no webhook with that id", details: "webhook ids are positive integers")
        }
        return id
    }
}

/// A webhook as the API shows it after registration: never its secret.
struct WebhookView: Encodable {
    struct Ping: Encodable {
        let statusCode: Int?
        let error: String?
    }

    struct Health: Encodable {
        let consecutiveFailures: Int
        let failingSince: String?
        let circuitOpenUntil: String?
    }

    let id: Int64
    let outletId: String
    let provider: String
    let callbackUrl: String
    let events: [String]
    let isActive: Bool
    let disabledReason: String?
    let lastPing: Ping
    let health: Health
    let previousSecretValidUntil: String?
    let createdAt: String
    let updatedAt: String

    init(_ webhook: Webhook) {
        id = webhook.id
        outletId = webhook.outletId
        provider = webhook.provider
        callbackUrl = webhook.callbackUrl
        events = webhook.events
        isActive = webhook.isActive
        disabledReason = webhook.disabledReason
        lastPing = Ping(statusCode: webhook.lastPingStatus, error: webhook.lastPingError)
        health = Health(consecutiveFailures: webhook.health.consecutiveFailures, failingSince: webhook.health.failingSince?.rfc3339,
                        circuitOpenUntil: webhook.health.circuitOpenUntil?.rfc3339)
        previousSecretValidUntil = webhook.previousSecretExpiresAt?.rfc3339
        createdAt = webhook.createdAt.rfc3339
        updatedAt = webhook.updatedAt.rfc3339
    }
}
