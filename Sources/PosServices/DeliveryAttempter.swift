import PosConnectors
import PosDomain
import PosStorage

/// One attempt at one delivery, the same for dispatch's inline first attempt and the outbox
/// worker's retries: call the webhook or the POS connector, then decide where the delivery goes
/// next (delivered, failed with its next time, or dead).
public struct DeliveryAttempter: Sendable {
    private let webhookConnector: any Connector
    private let connectors: ConnectorDeliverer
    private let secretBox: SecretBox
    private let schedule: RetrySchedule
    private let health: EndpointHealthPolicy
    private let clock: ServiceClock
    /// A draw from -1…1 for the schedule's jitter; fixed in tests.
    private let jitter: @Sendable () -> Double

    public init(connector: any Connector, connectors: ConnectorDeliverer, secretBox: SecretBox, schedule: RetrySchedule,
                health: EndpointHealthPolicy = EndpointHealthPolicy(), clock: @escaping ServiceClock,
                jitter: @escaping @Sendable () -> Double = { Double.random(in: -1...1) }) {
        self.webhookConnector = connector
        self.connectors = connectors
        self.secretBox = secretBox
        self.schedule = schedule
        self.health = health
        self.clock = clock
        self.jitter = jitter
    }

    public struct Result: Sendable {
        public let outcome: ConnectorOutcome
        public let recorded: RecordedAttempt
        /// The webhook's health after this attempt (circuit breaker, auto-disable); nil for a POS connector.
        public let health: EndpointHealthUpdate?
    }

    /// `target` is the webhook, or nil for a POS connector's delivery, which goes by `route` when the
    /// caller already found it and by the outlet's mapping otherwise.
    public func attempt(_ delivery: Delivery, target: WebhookTarget?, outletId: String, orderBytes: [UInt8], order: CataOrder?,
                        route: ConnectorDeliverer.Route? = nil) async -> Result {
        // Counted as started when it was leased (max: a row written before attempts were counted so).
        let attemptNumber = max(delivery.attemptsStarted, delivery.attemptCount + 1)
        let outcome: ConnectorOutcome
        if let target {
            outcome = await sendToWebhook(delivery, target: target, attemptNumber: attemptNumber, orderBytes: orderBytes, order: order)
        } else if delivery.event != EventCatalogue.orderPaid {
            // Connectors take orders today; the jobs of later capabilities (status polls, menu imports) bring their own.
            outcome = .configuration("connector \(delivery.connector) has nothing that handles \(delivery.event)")
        } else {
            outcome = await connectors.deliver(delivery, attemptNumber: attemptNumber, outletId: outletId, orderBytes: orderBytes, order: order,
                                               route: route)
        }
        let finishedAt = clock()
        let transition = self.transition(after: attemptNumber, outcome: outcome, at: finishedAt)
        let attempt = DeliveryAttempt(
            deliveryId: delivery.id, attemptNumber: attemptNumber, startedAt: finishedAt - outcome.durationMs,
            durationMs: outcome.durationMs, statusCode: outcome.statusCode, errorClass: outcome.errorClass,
            error: outcome.error, responseExcerpt: outcome.responseExcerpt, signedWith: outcome.signedWith)
        // Only the endpoint's own answers count against it, not our configuration.
        let update = target.map { target in
            let verdict = outcome.failureClass == .configuration
                ? EndpointHealthPolicy.Verdict(health: target.webhook.health, disabledReason: nil)
                : health.after(target.webhook.health, succeeded: outcome.succeeded, at: finishedAt)
            return EndpointHealthUpdate(webhookId: target.webhook.id, verdict: verdict, at: finishedAt)
        }
        return Result(outcome: outcome, recorded: RecordedAttempt(attempt: attempt, transition: transition, at: finishedAt), health: update)
    }

    /// Where a delivery goes after attempt `attemptNumber` came to `outcome`: delivered, failed
    /// until its next time on the schedule, or dead.
    func transition(after attemptNumber: Int, outcome: ConnectorOutcome, at finishedAt: Int64) -> DeliveryTransition {
        if outcome.succeeded { return DeliveryTransition(status: .delivered, nextAttemptAt: nil) }
        if outcome.retryable, let next = schedule.nextAttemptAt(
            after: attemptNumber, failedAt: finishedAt,
            failure: RetrySchedule.Failure(retryAfterMs: outcome.retryAfterMs, overloaded: outcome.overloaded), jitter: jitter()) {
            return DeliveryTransition(status: .failed, nextAttemptAt: next)
        }
        return DeliveryTransition(status: .dead, nextAttemptAt: nil)
    }

    /// What the worker records for a claimed delivery: first the attempts that began and never
    /// finished (their process died or lost its lease), then this attempt — or, when the unfinished
    /// ones used up the schedule, the delivery given up as dead without another call, so a delivery
    /// that kills its process cannot take every replica down in turn.
    public func attempt(claimed: ClaimedDelivery) async -> (recorded: [RecordedAttempt], outcome: ConnectorOutcome, health: EndpointHealthUpdate?) {
        let delivery = claimed.delivery
        let unfinished = OutboxPolicy.interruptedAttempts(of: delivery).map { numbers in
            numbers.map { number in
                DeliveryAttempt(deliveryId: delivery.id, attemptNumber: number, startedAt: clock(), durationMs: 0, statusCode: nil,
                                errorClass: FailureClass.interrupted.rawValue, error: OutboxPolicy.interruptedError, responseExcerpt: nil,
                                signedWith: nil)
            }
        } ?? []
        // Recorded before the claimed attempt, whose outcome the delivery takes.
        func recorded(_ attempt: DeliveryAttempt, at: Int64) -> RecordedAttempt {
            RecordedAttempt(attempt: attempt, transition: DeliveryTransition(status: .failed, nextAttemptAt: nil), at: at)
        }
        if var last = unfinished.last, delivery.attemptsStarted > schedule.maxAttempts {
            let now = clock()
            last.error = OutboxPolicy.interruptedReason(lastInterrupted: last.attemptNumber, maxAttempts: schedule.maxAttempts)
            let dead = RecordedAttempt(attempt: last, transition: DeliveryTransition(status: .dead, nextAttemptAt: nil), at: now)
            return (unfinished.dropLast().map { recorded($0, at: now) } + [dead],
                    .failed(.interrupted, last.error ?? OutboxPolicy.interruptedError, retryable: false), nil)
        }
        let result = await attempt(delivery, target: claimed.target, outletId: claimed.event.outletId ?? "",
                                   orderBytes: claimed.event.payload, order: nil)
        return (unfinished.map { recorded($0, at: result.recorded.at) } + [result.recorded], result.outcome, result.health)
    }

    private func sendToWebhook(_ delivery: Delivery, target: WebhookTarget, attemptNumber: Int, orderBytes: [UInt8], order: CataOrder?) async -> ConnectorOutcome {
        let sealed = target.signingSecrets(at: clock())
        let secrets = sealed.compactMap { (try? secretBox.open($0)).flatMap(WebhookSecret.init(encoded:)) }
        guard secrets.count == sealed.count else {
            return .configuration("webhook secret cannot be decrypted with this master key")
        }
        return await webhookConnector.send(ConnectorRequest(
            deliveryId: delivery.id, event: delivery.event, attemptNumber: attemptNumber, orderBytes: orderBytes,
            order: order, destination: .webhook(url: target.webhook.callbackUrl, secrets: secrets)))
    }
}

extension ConnectorOutcome {
    /// Our side is misconfigured (a missing mapping, an unreadable secret): not retried; fix it and replay.
    static func configuration(_ message: String) -> ConnectorOutcome {
        .failed(.configuration, message, retryable: false)
    }
}
