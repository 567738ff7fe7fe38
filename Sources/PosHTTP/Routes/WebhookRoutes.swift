import Hummingbird
import PosDomain
import PosServices

/// Webhook registration and the event catalogue.
struct WebhookRoutes {
    let reader: RequestReader
    let webhooks: WebhookService

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
        let code: Int
        let isSuccess: Bool
        let message: String
        let webhook: Body
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
            return JSONResponse(Registered(
                code: 201, isSuccess: true, message: "webhook registered",
                webhook: .init(id: webhook.id, outletId: webhook.outletId, provider: webhook.provider,
                               callbackUrl: webhook.callbackUrl, events: webhook.events, secret: registration.secret,
                               isActive: webhook.isActive, createdAt: webhook.createdAt.rfc3339)),
                status: .created)
        }
        router.get(table.record(.get, "/api/v1/webhooks/events")) { _, _ in
            JSONResponse(Catalogue(events: EventCatalogue.events.map { .init(name: $0.name, description: $0.description) }))
        }
    }
}
