import Hummingbird
import PosDomain
import PosServices

/// Webhook registration and management, and the event catalogue.
struct WebhookRoutes: Sendable {
    let body: JSONBodyDecoder
    let webhooks: WebhookService
    let deliveries: DeliveryService

    struct Registered: Encodable {
        struct Body: Encodable {
            let id: Int64
            /// Absent for a tenant-wide webhook.
            let outletId: String?
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
        let webhook: Body
        let ping: Ping?
    }

    struct Rotated: Encodable {
        let webhook: WebhookView
        /// The new `whsec_` secret, shown only here.
        let secret: String
        let previousSecretValidUntil: String?
    }

    struct Deleted: Encodable {
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

    func register(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Registered> {
        let command = try await body.decode(RegisterWebhook.self, from: request)
        let registration = try await webhooks.register(command, tenant: context.principal.tenant)
        let webhook = registration.webhook
        let ping = registration.ping
        return Envelope(
            .created, message: ping.delivered ? "webhook registered" : "webhook registered; the ping got no 2xx",
            Registered(
                webhook: .init(id: webhook.id, outletId: webhook.outletId, provider: webhook.provider,
                               callbackUrl: webhook.callbackUrl, events: webhook.events, secret: registration.secret,
                               isActive: webhook.isActive, createdAt: webhook.createdAt.rfc3339),
                ping: .init(delivered: ping.delivered, statusCode: ping.statusCode, error: ping.error)))
    }

    func list(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<List> {
        JSONResponse(List(webhooks: try await webhooks.webhooks(tenant: context.principal.tenant).map(WebhookView.init)))
    }

    func webhook(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<WebhookView> {
        JSONResponse(WebhookView(try await webhooks.webhook(id: try Self.webhookId(context), tenant: context.principal.tenant)))
    }

    func update(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<WebhookView> {
        let command = try await body.decode(UpdateWebhook.self, from: request)
        return JSONResponse(WebhookView(try await webhooks.update(id: try Self.webhookId(context), command, tenant: context.principal.tenant)))
    }

    func delete(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Deleted> {
        let count = try await webhooks.delete(id: try Self.webhookId(context), tenant: context.principal.tenant)
        return Envelope(message: "webhook deleted", Deleted(deliveriesDeadLettered: count))
    }

    func deliveries(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<DeliveryRoutes.Page> {
        let tenant = context.principal.tenant
        let webhook = try await webhooks.webhook(id: try Self.webhookId(context), tenant: tenant)
        let query = try DeliveryQuery(query: request.uri.queryParameters, webhookId: webhook.id)
        let page = try await deliveries.list(query, tenant: tenant)
        return JSONResponse(DeliveryRoutes.Page(deliveries: page.deliveries.map { DeliveryView($0, attempts: nil) }, nextCursor: page.nextCursor))
    }

    func rotateSecret(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Rotated> {
        let rotated = try await webhooks.rotateSecret(id: try Self.webhookId(context), tenant: context.principal.tenant)
        return Envelope(message: "secret rotated", Rotated(webhook: WebhookView(rotated.webhook), secret: rotated.secret,
                                                           previousSecretValidUntil: rotated.webhook.previousSecretExpiresAt?.rfc3339))
    }

    func events(_ request: Request, context: PosRequestContext) async throws -> JSONResponse<Catalogue> {
        JSONResponse(Catalogue(events: EventCatalogue.events.map { .init(name: $0.name, description: $0.description) }))
    }

    static func webhookId(_ context: AuthenticatedContext) throws -> Int64 {
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
    /// Absent for a tenant-wide webhook.
    let outletId: String?
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
