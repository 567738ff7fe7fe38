/// A delivery row written with its event, and the webhook it goes to (nil for a POS connector).
public struct PlannedDelivery: Sendable, Equatable {
    public var delivery: Delivery
    public var target: WebhookTarget?

    public init(delivery: Delivery, target: WebhookTarget?) {
        self.delivery = delivery
        self.target = target
    }

    /// The endpoint's circuit is open, or nobody attempts it inline: the outbox takes it when due.
    public var isDeferred: Bool { delivery.status == .pending }
}

/// The outbox's rules, kept out of the stores: which targets an event goes to, when a webhook's
/// circuit holds a delivery back, which due deliveries a worker may take, and what an attempt
/// that never finished means.
public enum OutboxPolicy {
    /// Who sends an event's first attempt.
    public enum FirstAttempt: Sendable {
        /// The request that accepted the event attempts it now, holding a lease (dispatch).
        case inline
        /// The outbox worker attempts it when due.
        case outbox
        /// The outbox worker attempts it at this time, not before (a status poll's first look).
        case at(Int64)
    }

    /// The deliveries of a new event: one to `connector` when the event goes to a POS (a built-in
    /// transformer, or a connector job), otherwise one per active webhook subscribed to its type,
    /// but for `exceptWebhookId` (the webhook an alert is about).
    public static func plan(_ event: OutboxEvent, connector: String?, webhooks: [WebhookTarget], firstAttempt: FirstAttempt,
                            exceptWebhookId: Int64? = nil, makeId: () -> String) -> [PlannedDelivery] {
        if let connector {
            return [PlannedDelivery(delivery: delivery(of: event, id: makeId(), webhookId: nil, connector: connector,
                                                       circuitOpenUntil: nil, firstAttempt: firstAttempt), target: nil)]
        }
        return webhooks.filter { $0.webhook.isSubscribed(to: event.type) && $0.webhook.id != exceptWebhookId }.map { target in
            let health = target.webhook.health
            let openUntil = health.isOpen(at: event.createdAt) ? health.circuitOpenUntil : nil
            return PlannedDelivery(delivery: delivery(of: event, id: makeId(), webhookId: target.webhook.id, connector: "webhook",
                                                      circuitOpenUntil: openUntil, firstAttempt: firstAttempt), target: target)
        }
    }

    /// Leased to the caller for an inline first attempt (which counts as started), unless the
    /// endpoint's circuit is open: then pending until it closes.
    private static func delivery(of event: OutboxEvent, id: String, webhookId: Int64?, connector: String, circuitOpenUntil: Int64?,
                                 firstAttempt: FirstAttempt) -> Delivery {
        let inline = if case .inline = firstAttempt { circuitOpenUntil == nil } else { false }
        let due = if case .at(let time) = firstAttempt { max(time, circuitOpenUntil ?? time) } else { circuitOpenUntil ?? event.createdAt }
        return Delivery(id: id, tenantId: event.tenantId, eventId: event.id, subject: event.subject, webhookId: webhookId,
                        connector: connector, event: event.type, status: inline ? .delivering : .pending, attemptCount: 0,
                        attemptsStarted: inline ? 1 : 0, nextAttemptAt: due, lastStatusCode: nil,
                        lastError: nil, createdAt: event.createdAt, updatedAt: event.createdAt, deliveredAt: nil)
    }

    /// A due delivery as a claim sees it.
    public struct Candidate: Sendable, Equatable {
        public var id: String
        public var webhookId: Int64?
        public var circuitOpenUntil: Int64?

        public init(id: String, webhookId: Int64?, circuitOpenUntil: Int64?) {
            self.id = id
            self.webhookId = webhookId
            self.circuitOpenUntil = circuitOpenUntil
        }
    }

    /// Of the due candidates, those a worker may take: all of a closed circuit's, one probe for a
    /// half-open circuit; returns them and the half-open webhooks probed (whose circuits the claim
    /// keeps shut to everyone else while the probe is out).
    public static func admissible(_ candidates: [Candidate], now: Int64) -> (ids: [String], probed: [Int64]) {
        var ids: [String] = []
        var probed: [Int64] = []
        for candidate in candidates {
            guard let webhookId = candidate.webhookId, let openUntil = candidate.circuitOpenUntil, openUntil <= now else {
                ids.append(candidate.id)
                continue
            }
            guard !probed.contains(webhookId) else { continue }
            probed.append(webhookId)
            ids.append(candidate.id)
        }
        return (ids, probed)
    }

    /// The attempts of a just-claimed delivery that began and were never recorded: the process
    /// making them died, or lost its lease. The claimed attempt itself is `attemptsStarted`.
    public static func interruptedAttempts(of delivery: Delivery) -> ClosedRange<Int>? {
        let first = delivery.attemptCount + 1
        let last = delivery.attemptsStarted - 1
        return first <= last ? first...last : nil
    }

    /// Why a delivery is given up without another try: its attempts keep dying with the process.
    public static func interruptedReason(lastInterrupted: Int, maxAttempts: Int) -> String {
        "attempt \(lastInterrupted) never finished (the process making it died or lost its lease); "
            + "dead-lettered after \(maxAttempts) started attempts"
    }

    /// The error an interrupted attempt is recorded with.
    public static let interruptedError = "did not finish: the process making it died or lost its lease"
}
