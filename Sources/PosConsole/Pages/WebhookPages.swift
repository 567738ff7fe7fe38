import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import PosHTTP
import PosServices

/// `/console/webhooks`: where each outlet's events go, how healthy each endpoint is, and its
/// delivery log; register, edit, ping, rotate the secret (shown once) and delete.
struct WebhookPages: Sendable {
    let kit: ConsoleKit

    static let deliveriesPerPage = 25

    func register(on router: Router<PosRequestContext>) {
        router.get("\(Console.root)/webhooks", use: kit.page(list))
        router.post("\(Console.root)/webhooks", use: kit.action(create))
        router.get("\(Console.root)/webhooks/:webhookId", use: kit.page(detail))
        router.post("\(Console.root)/webhooks/:webhookId", use: kit.action(update))
        router.post("\(Console.root)/webhooks/:webhookId/rotate-secret", use: kit.action(rotateSecret))
        router.post("\(Console.root)/webhooks/:webhookId/ping", use: kit.action(ping))
        router.post("\(Console.root)/webhooks/:webhookId/delete", use: kit.action(delete))
    }

    // MARK: Views

    struct EventOption {
        let name: String
        let description: String
        let checked: Bool
    }

    static func eventOptions(checked: [String]) -> [EventOption] {
        EventCatalogue.events.map { EventOption(name: $0.name, description: $0.description, checked: checked.contains($0.name)) }
    }

    struct WebhookRow {
        let id: Int64
        let provider: String
        let outletId: String
        let callbackUrl: String
        let eventList: String
        let isActive: Bool
        let disabledReason: String?
        let circuit: String
        let circuitOpen: Bool
        let consecutiveFailures: Int
        let failing: Bool
        let failingSince: String?
        let lastPing: String
        let pingFailed: Bool
        let previousSecretValidUntil: String?
        let createdAt: String
        let updatedAt: String

        init(_ webhook: Webhook, now: Int64) {
            id = webhook.id
            provider = webhook.provider
            outletId = WebhookPages.outlet(of: webhook)
            callbackUrl = webhook.callbackUrl
            eventList = webhook.events.joined(separator: ", ")
            isActive = webhook.isActive
            disabledReason = webhook.disabledReason.map { SecretMask.excerpt($0) }
            let openUntil = webhook.health.circuitOpenUntil.flatMap { $0 > now ? $0 : nil }
            circuitOpen = openUntil != nil
            circuit = openUntil.map { "open until \(Format.time($0))" } ?? "closed"
            consecutiveFailures = webhook.health.consecutiveFailures
            failing = webhook.health.consecutiveFailures > 0
            failingSince = webhook.health.failingSince.map(Format.time)
            lastPing = Self.ping(status: webhook.lastPingStatus, error: webhook.lastPingError)
            pingFailed = !(webhook.lastPingStatus.map { (200..<300).contains($0) } ?? false)
            previousSecretValidUntil = webhook.previousSecretExpiresAt.flatMap { $0 > now ? Format.time($0) : nil }
            createdAt = Format.time(webhook.createdAt)
            updatedAt = Format.time(webhook.updatedAt)
        }

        /// The receiver's answer to a ping: third-party text, so masked and cut short.
        static func ping(status: Int?, error: String?) -> String {
            switch (status, error) {
            case (let status?, nil): "HTTP \(status)"
            case (let status?, let error?): "HTTP \(status): \(SecretMask.excerpt(error, limit: 120))"
            case (nil, let error?): SecretMask.excerpt(error, limit: 120)
            case (nil, nil): "no answer"
            }
        }
    }

    struct CreateValues {
        let outletId: String
        let provider: String
        let callbackUrl: String
    }

    struct ListView {
        let webhooks: [WebhookRow]
        let events: [EventOption]
        let values: CreateValues
        let error: String?
        let notice: String?
    }

    @Sendable func list(_ visit: Visit) async throws -> Response {
        try await renderList(visit, values: CreateValues(outletId: "", provider: "", callbackUrl: ""), checked: [EventCatalogue.orderPaid],
                             error: nil, status: .ok)
    }

    private func renderList(_ visit: Visit, values: CreateValues, checked: [String], error: String?,
                            status: HTTPResponse.Status) async throws -> Response {
        let webhooks = try await kit.services.webhooks.webhooks(tenant: try visit.tenant())
        let view = ListView(webhooks: webhooks.map { WebhookRow($0, now: visit.now) }, events: Self.eventOptions(checked: checked),
                            values: values, error: error, notice: Notice.text(visit.query("done")))
        return try kit.render("webhooks", title: "Webhooks", view: view, visit: visit, section: .webhooks, status: status)
    }

    // MARK: Create

    struct CreateForm: Decodable {
        let outletId: String?
        let provider: String?
        let callbackUrl: String?
        let events: [String]?
    }

    /// What a one-time secret page shows: the secret, what it belongs to, and where to go next.
    struct SecretView {
        let heading: String
        let secret: String
        let note: String
        let facts: [Fact]
        let back: String
        let backLabel: String
    }

    struct Fact {
        let label: String
        let value: String
    }

    /// The webhook's outlet as the console shows it; a tenant-wide webhook gets the events of all outlets.
    static func outlet(of webhook: Webhook) -> String { webhook.outletId ?? "all outlets" }

    @Sendable func create(_ visit: Visit) async throws -> Response {
        let tenant = try visit.tenant()
        let form = try visit.form(CreateForm.self)
        let values = CreateValues(outletId: Self.trimmed(form.outletId), provider: Self.trimmed(form.provider),
                                  callbackUrl: Self.trimmed(form.callbackUrl))
        let events = form.events ?? []
        let registration: WebhookService.Registration
        do {
            // A blank outlet registers a tenant-wide webhook, as an absent `outletId` does in the API.
            let command = RegisterWebhook(outletId: values.outletId.isEmpty ? nil : values.outletId, provider: values.provider,
                                          callbackUrl: values.callbackUrl, events: events)
            registration = try await kit.services.webhooks.register(command, tenant: tenant)
        } catch let error as ServiceError {
            guard let message = Self.formMessage(error) else { throw error }
            return try await renderList(visit, values: values, checked: events, error: message, status: .badRequest)
        }
        let webhook = registration.webhook
        let ping = registration.ping
        kit.logger.info("console registered webhook", metadata: ["tenant_id": .string(tenant.id), "webhook_id": .stringConvertible(webhook.id)])
        let view = SecretView(
            heading: "Webhook \(webhook.id) registered", secret: registration.secret,
            note: "This is the webhook's signing secret. Copy it now into the receiver's configuration: it is shown only on this page, never again.",
            facts: [Fact(label: "Provider", value: webhook.provider), Fact(label: "Outlet", value: Self.outlet(of: webhook)),
                    Fact(label: "URL", value: webhook.callbackUrl), Fact(label: "Events", value: webhook.events.joined(separator: ", ")),
                    Fact(label: "Ping", value: ping.delivered ? "delivered (\(WebhookRow.ping(status: ping.statusCode, error: nil)))"
                        : "not delivered: \(WebhookRow.ping(status: ping.statusCode, error: ping.error))")],
            back: "\(Console.root)/webhooks/\(webhook.id)", backLabel: "Go to the webhook")
        return try kit.render("secret-once", title: "Webhook registered", view: view, visit: visit, section: .webhooks, status: .created)
    }

    /// The message a form shows again with the values entered, for a refusal the person can fix
    /// there; nil for the rest (an error page).
    static func formMessage(_ error: ServiceError) -> String? {
        let api = APIError(error)
        guard api.status == .badRequest || api.status == .conflict || api.status == .unprocessableContent else { return nil }
        return api.details.isEmpty ? api.message : "\(api.message) (\(api.details))"
    }

    static func trimmed(_ text: String?) -> String {
        (text ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: One webhook

    struct DeliveryRow {
        let id: String
        let orderId: String?
        let event: String
        let status: String
        let attempts: Int
        let lastStatusCode: String
        let lastError: String?
        let createdAt: String
        let replayable: Bool
        let bad: Bool
    }

    struct DetailView {
        let webhook: WebhookRow
        let events: [EventOption]
        let deliveries: [DeliveryRow]
        let nextPage: String?
        let firstPage: String?
        let notice: String?
    }

    @Sendable func detail(_ visit: Visit) async throws -> Response {
        let tenant = try visit.tenant()
        let webhook = try await kit.services.webhooks.webhook(id: try Self.webhookId(visit), tenant: tenant)
        let cursor = visit.query("cursor")
        let page = try await kit.services.deliveries.list(DeliveryQuery(webhookId: webhook.id, limit: Self.deliveriesPerPage, cursor: cursor),
                                                          tenant: tenant)
        let base = "\(Console.root)/webhooks/\(webhook.id)"
        let view = DetailView(
            webhook: WebhookRow(webhook, now: visit.now), events: Self.eventOptions(checked: webhook.events),
            deliveries: page.deliveries.map { delivery in
                DeliveryRow(id: delivery.id, orderId: delivery.subject.kind == .order ? delivery.subject.id : nil, event: delivery.event,
                            status: delivery.status.rawValue, attempts: delivery.attemptCount,
                            lastStatusCode: delivery.lastStatusCode.map(String.init) ?? "—",
                            lastError: delivery.lastError.map { SecretMask.excerpt($0, limit: 160) }, createdAt: Format.time(delivery.createdAt),
                            replayable: delivery.subject.kind == .order && delivery.status != .delivering,
                            bad: delivery.status == .dead || delivery.status == .failed)
            },
            nextPage: page.nextCursor.map { "\(base)?" + QueryString.encode([("cursor", $0)]) },
            firstPage: cursor == nil ? nil : base, notice: Notice.text(visit.query("done")))
        return try kit.render("webhook", title: "Webhook \(webhook.id)", view: view, visit: visit, section: .webhooks)
    }

    struct UpdateForm: Decodable {
        let callbackUrl: String?
        let events: [String]?
        /// `true` or `false`, from the state select.
        let isActive: String?
    }

    @Sendable func update(_ visit: Visit) async throws -> Response {
        let id = try Self.webhookId(visit)
        let form = try visit.form(UpdateForm.self)
        let url = Self.trimmed(form.callbackUrl)
        let isActive: Bool? = switch form.isActive {
        case "true": true
        case "false": false
        default: nil
        }
        let command = UpdateWebhook(callbackUrl: url, events: form.events ?? [], isActive: isActive)
        _ = try await kit.services.webhooks.update(id: id, command, tenant: try visit.tenant())
        return ConsoleKit.redirect(to: "\(Console.root)/webhooks/\(id)?done=saved")
    }

    @Sendable func rotateSecret(_ visit: Visit) async throws -> Response {
        let rotated = try await kit.services.webhooks.rotateSecret(id: try Self.webhookId(visit), tenant: try visit.tenant())
        let webhook = rotated.webhook
        let view = SecretView(
            heading: "New secret for webhook \(webhook.id)", secret: rotated.secret,
            note: "Copy it now into the receiver's configuration: it is shown only on this page, never again."
                + (webhook.previousSecretExpiresAt.map { " The previous secret keeps signing too until \(Format.time($0))." } ?? ""),
            facts: [Fact(label: "Provider", value: webhook.provider), Fact(label: "Outlet", value: Self.outlet(of: webhook)),
                    Fact(label: "URL", value: webhook.callbackUrl)],
            back: "\(Console.root)/webhooks/\(webhook.id)", backLabel: "Back to the webhook")
        return try kit.render("secret-once", title: "Secret rotated", view: view, visit: visit, section: .webhooks)
    }

    @Sendable func ping(_ visit: Visit) async throws -> Response {
        let id = try Self.webhookId(visit)
        let outcome = try await kit.services.webhooks.sendPing(id: id, tenant: try visit.tenant())
        // The result is kept as the webhook's last ping, which the page shows.
        return ConsoleKit.redirect(to: "\(Console.root)/webhooks/\(id)?done=\(outcome.delivered ? "pinged" : "ping-failed")")
    }

    @Sendable func delete(_ visit: Visit) async throws -> Response {
        _ = try await kit.services.webhooks.delete(id: try Self.webhookId(visit), tenant: try visit.tenant())
        return ConsoleKit.redirect(to: "\(Console.root)/webhooks?done=deleted")
    }

    /// Webhook ids are positive integers; anything else is as missing as another tenant's.
    static func webhookId(_ visit: Visit) throws -> Int64 {
        guard let id = Int64(try visit.parameter("webhookId")), id > 0 else { throw ServiceError.notFound("no webhook with that id") }
        return id
    }
}
