/// An alert: an ordinary outbox event of the tenant, raised in the transaction that records its
/// cause (a delivery given up, a webhook's circuit opened or the webhook disabled, a connection
/// refused), for the tenant's webhooks subscribed to it. It never goes to the webhook it is about,
/// so a failing alert relay cannot feed on its own failures.
public struct Alert: Sendable, Equatable {
    public var event: OutboxEvent
    /// The webhook the alert is about, which does not receive it.
    public var aboutWebhookId: Int64?

    public init(event: OutboxEvent, aboutWebhookId: Int64?) {
        self.event = event
        self.aboutWebhookId = aboutWebhookId
    }

    /// `delivery.dead_lettered` for a delivery that gave up after `attempts`; nil when the dead
    /// delivery carried an alert itself (its death raises none).
    public static func deadLettered(_ delivery: Delivery, outletId: String?, reason: String?, attempts: Int, at now: Int64, id: String) -> Alert? {
        guard !EventCatalogue.alertNames.contains(delivery.event) else { return nil }
        let target: JSONValue = delivery.webhookId.map { .object([("kind", .string("webhook")), ("webhookId", .integer($0))]) }
            ?? .object([("kind", .string("pos")), ("provider", .string(delivery.connector))])
        let body = JSONValue.object([
            ("deliveryId", .string(delivery.id)),
            ("target", target),
            ("subject", .object([("kind", .string(delivery.subject.kind.rawValue)), ("id", .string(delivery.subject.id))])),
            ("event", .string(delivery.event)),
            ("reason", text(reason)),
            ("attempts", .integer(attempts)),
            ("outletId", text(outletId)),
            ("occurredAt", .string(RFC3339.format(milliseconds: now))),
        ])
        return Alert(event: OutboxEvent(id: id, tenantId: delivery.tenantId, type: EventCatalogue.deliveryDeadLettered,
                                        subject: EventSubject(.delivery, id: delivery.id), outletId: outletId, payload: body.bytes, createdAt: now),
                     aboutWebhookId: delivery.webhookId)
    }

    /// `webhook.circuit_opened`: the webhook's failures in a row reached the threshold; attempts wait until `health.circuitOpenUntil`.
    public static func circuitOpened(_ webhook: Webhook, health: EndpointHealth, at now: Int64, id: String) -> Alert {
        about(webhook, type: EventCatalogue.webhookCircuitOpened, health: health, reason: nil, at: now, id: id)
    }

    /// `webhook.disabled`: the webhook only failed for too long; it gets nothing until re-enabled.
    public static func webhookDisabled(_ webhook: Webhook, health: EndpointHealth, reason: String, at now: Int64, id: String) -> Alert {
        about(webhook, type: EventCatalogue.webhookDisabled, health: health, reason: reason, at: now, id: id)
    }

    /// `provider_connection.reauthorization_required`: the POS refused the connection's refresh token.
    public static func reauthorizationRequired(tenantId: String, provider: String, status: String, at now: Int64, id: String) -> Alert {
        let body = JSONValue.object([
            ("provider", .string(provider)), ("status", .string(status)), ("occurredAt", .string(RFC3339.format(milliseconds: now))),
        ])
        return Alert(event: OutboxEvent(id: id, tenantId: tenantId, type: EventCatalogue.reauthorizationRequired,
                                        subject: EventSubject(.connection, id: provider), outletId: nil, payload: body.bytes, createdAt: now),
                     aboutWebhookId: nil)
    }

    /// A webhook's alert: never its callback URL, which may carry credentials.
    private static func about(_ webhook: Webhook, type: String, health: EndpointHealth, reason: String?, at now: Int64, id: String) -> Alert {
        var members: [(String, JSONValue)] = [
            ("webhookId", .integer(webhook.id)),
            ("outletId", text(webhook.outletId)),
            ("provider", .string(webhook.provider)),
            ("consecutiveFailures", .integer(health.consecutiveFailures)),
            ("failingSince", text(health.failingSince.map { RFC3339.format(milliseconds: $0) })),
            ("circuitOpenUntil", text(health.circuitOpenUntil.map { RFC3339.format(milliseconds: $0) })),
        ]
        if let reason { members.append(("reason", .string(reason))) }
        members.append(("occurredAt", .string(RFC3339.format(milliseconds: now))))
        return Alert(event: OutboxEvent(id: id, tenantId: webhook.tenantId, type: type, subject: EventSubject(.webhook, id: String(webhook.id)),
                                        outletId: webhook.outletId, payload: JSONValue.object(members).bytes, createdAt: now),
                     aboutWebhookId: webhook.id)
    }

    private static func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
}
