import PosConnectors
import PosDomain
import PosStorage

/// One attempt at one delivery, the same for dispatch's inline first attempt and the outbox
/// worker's retries: open the secret, call the connector, decide where the delivery goes next.
public struct DeliveryAttempter: Sendable {
    private let connector: any Connector
    private let secretBox: SecretBox
    private let schedule: RetrySchedule
    private let health: EndpointHealthPolicy
    private let clock: ServiceClock
    /// A draw from -1…1 for the schedule's jitter; fixed in tests.
    private let jitter: @Sendable () -> Double

    public init(connector: any Connector, secretBox: SecretBox, schedule: RetrySchedule, health: EndpointHealthPolicy = EndpointHealthPolicy(),
                clock: @escaping ServiceClock, jitter: @escaping @Sendable () -> Double = { Double.random(in: -1...1) }) {
        self.connector = connector
        self.secretBox = secretBox
        self.schedule = schedule
        self.health = health
        self.clock = clock
        self.jitter = jitter
    }

    public struct Result: Sendable {
        public let outcome: ConnectorOutcome
        public let recorded: RecordedAttempt
        /// The endpoint's health after this attempt (circuit breaker, auto-disable).
        public let health: EndpointHealthUpdate
    }

    public func attempt(_ delivery: Delivery, target: WebhookTarget, orderBytes: [UInt8], order: CataOrder?) async -> Result {
        let attemptNumber = delivery.attemptCount + 1
        let outcome: ConnectorOutcome
        let sealed = target.signingSecrets(at: clock())
        let secrets = sealed.compactMap(openSecret)
        if secrets.count == sealed.count {
            outcome = await connector.send(ConnectorRequest(
                deliveryId: delivery.id, event: delivery.event, attemptNumber: attemptNumber, orderBytes: orderBytes,
                order: order, destination: .webhook(url: target.webhook.callbackUrl, secrets: secrets)))
        } else {
            outcome = ConnectorOutcome(statusCode: nil, errorClass: "configuration",
                                       error: "webhook secret cannot be decrypted with this master key", responseExcerpt: nil,
                                       signedWith: nil, retryable: false, retryAfterMs: nil, externalOrderId: nil, durationMs: 0)
        }
        let finishedAt = clock()
        let transition: DeliveryTransition
        if outcome.succeeded {
            transition = DeliveryTransition(status: .delivered, nextAttemptAt: nil)
        } else if outcome.retryable, let next = schedule.nextAttemptAt(
            after: attemptNumber, failedAt: finishedAt,
            failure: RetrySchedule.Failure(retryAfterMs: outcome.retryAfterMs, overloaded: outcome.overloaded), jitter: jitter()) {
            transition = DeliveryTransition(status: .failed, nextAttemptAt: next)
        } else {
            transition = DeliveryTransition(status: .dead, nextAttemptAt: nil)
        }
        let attempt = DeliveryAttempt(
            deliveryId: delivery.id, attemptNumber: attemptNumber, startedAt: finishedAt - outcome.durationMs,
            durationMs: outcome.durationMs, statusCode: outcome.statusCode, errorClass: outcome.errorClass,
            error: outcome.error, responseExcerpt: outcome.responseExcerpt, signedWith: outcome.signedWith)
        // Only the endpoint's own answers count against it, not our configuration.
        let verdict = outcome.errorClass == "configuration"
            ? EndpointHealthPolicy.Verdict(health: target.webhook.health, disabledReason: nil)
            : health.after(target.webhook.health, succeeded: outcome.succeeded, at: finishedAt)
        return Result(outcome: outcome, recorded: RecordedAttempt(attempt: attempt, transition: transition, at: finishedAt),
                      health: EndpointHealthUpdate(webhookId: target.webhook.id, verdict: verdict, at: finishedAt))
    }

    private func openSecret(_ sealed: String) -> WebhookSecret? {
        (try? secretBox.open(sealed)).flatMap(WebhookSecret.init(encoded:))
    }
}
