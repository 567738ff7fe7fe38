import PosConnectors
import PosDomain
import PosStorage
import Tracing

/// One attempt at one delivery, the same for dispatch's inline first attempt and the outbox
/// worker's retries: call the webhook or the POS connector, then decide where the delivery goes
/// next (delivered, failed with its next time, or dead).
public struct DeliveryAttempter: Sendable {
    private let webhookConnector: any Connector
    private let connectors: ConnectorDeliverer
    /// Cancellations and status polls; without it, a connector delivery of anything but an order is a configuration failure.
    public let jobs: ConnectorJobs?
    private let secretBox: SecretBox
    private let schedule: RetrySchedule
    private let health: EndpointHealthPolicy
    private let clock: ServiceClock
    /// A draw from -1…1 for the schedule's jitter; fixed in tests.
    private let jitter: @Sendable () -> Double
    private let metrics: ServiceMetrics

    public init(connector: any Connector, connectors: ConnectorDeliverer, jobs: ConnectorJobs? = nil, secretBox: SecretBox, schedule: RetrySchedule,
                health: EndpointHealthPolicy = EndpointHealthPolicy(), clock: @escaping ServiceClock,
                jitter: @escaping @Sendable () -> Double = { Double.random(in: -1...1) }, metrics: ServiceMetrics = .disabled) {
        self.metrics = metrics
        self.webhookConnector = connector
        self.connectors = connectors
        self.jobs = jobs
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
        return await withSpan("delivery.attempt") { span in
            span.updateAttributes { attributes in
                attributes["delivery.id"] = delivery.id
                attributes["delivery.event"] = delivery.event
                attributes["delivery.target"] = Self.target(of: delivery).rawValue
                attributes["delivery.provider"] = delivery.connector
                attributes["delivery.attempt"] = attemptNumber
            }
            let result = await attempt(delivery, attemptNumber: attemptNumber, target: target, outletId: outletId, orderBytes: orderBytes,
                                       order: order, route: route)
            span.attributes["delivery.outcome"] = Self.outcome(of: result.recorded.transition).rawValue
            if !result.outcome.succeeded {
                span.attributes["delivery.error_class"] = result.outcome.errorClass
                span.setStatus(SpanStatus(code: .error))
            }
            return result
        }
    }

    private func attempt(_ delivery: Delivery, attemptNumber: Int, target: WebhookTarget?, outletId: String, orderBytes: [UInt8],
                         order: CataOrder?, route: ConnectorDeliverer.Route?) async -> Result {
        var outcome: ConnectorOutcome
        var pollAgain = false
        if let target {
            outcome = await sendToWebhook(delivery, target: target, attemptNumber: attemptNumber, orderBytes: orderBytes, order: order)
        } else if delivery.event == EventCatalogue.orderPaid {
            outcome = await connectors.deliver(delivery, attemptNumber: attemptNumber, outletId: outletId, orderBytes: orderBytes, order: order,
                                               route: route)
        } else if let jobs {
            let job = await jobs.run(delivery, payload: orderBytes, attemptNumber: attemptNumber)
            (outcome, pollAgain) = (job.outcome, job.pollAgain)
        } else {
            outcome = .configuration("connector \(delivery.connector) has nothing that handles \(delivery.event)")
        }
        let finishedAt = clock()
        let transition = pollAgain
            ? pollTransition(after: attemptNumber, outcome: outcome, at: finishedAt)
            : self.transition(after: attemptNumber, outcome: outcome, at: finishedAt, schedule: schedule(for: delivery.event))
        if pollAgain, transition.status == .dead {
            outcome.error = [outcome.error, "order not final after \(attemptNumber) polls; polling ends"].compactMap { $0 }.joined(separator: "; ")
        }
        let attempt = DeliveryAttempt(
            deliveryId: delivery.id, attemptNumber: attemptNumber, startedAt: finishedAt - outcome.durationMs,
            durationMs: outcome.durationMs, statusCode: outcome.statusCode, errorClass: outcome.errorClass,
            error: outcome.error, responseExcerpt: outcome.responseExcerpt, signedWith: outcome.signedWith)
        count(delivery, transition: transition, durationMs: outcome.durationMs)
        if attemptNumber == 1, delivery.event != OrderStatusService.pollJob {
            metrics.enqueueToFirstAttempt(ms: attempt.startedAt - delivery.createdAt)
        }
        // Only the endpoint's own answers count against it, not our configuration.
        let update = target.flatMap { target -> EndpointHealthUpdate? in
            let verdict = outcome.failureClass == .configuration
                ? EndpointHealthPolicy.Verdict(health: target.webhook.health, disabledReason: nil)
                : health.after(target.webhook.health, succeeded: outcome.succeeded, at: finishedAt)
            // Written only when it changes (a failure, a recovery, a circuit or disable transition):
            // a success to a healthy endpoint writes nothing, so its deliveries never queue on its row.
            guard verdict.changes(target.webhook.health) else { return nil }
            return EndpointHealthUpdate(webhookId: target.webhook.id, verdict: verdict, at: finishedAt)
        }
        return Result(outcome: outcome, recorded: RecordedAttempt(attempt: attempt, transition: transition, at: finishedAt), health: update)
    }

    /// Where a delivery goes after attempt `attemptNumber` came to `outcome`: delivered, failed
    /// until its next time on the schedule, or dead.
    func transition(after attemptNumber: Int, outcome: ConnectorOutcome, at finishedAt: Int64, schedule: RetrySchedule) -> DeliveryTransition {
        if outcome.succeeded { return DeliveryTransition(status: .delivered, nextAttemptAt: nil) }
        if outcome.retryable, let next = schedule.nextAttemptAt(
            after: attemptNumber, failedAt: finishedAt,
            failure: RetrySchedule.Failure(retryAfterMs: outcome.retryAfterMs, overloaded: outcome.overloaded), jitter: jitter()) {
            return DeliveryTransition(status: .failed, nextAttemptAt: next)
        }
        return DeliveryTransition(status: .dead, nextAttemptAt: nil)
    }

    /// A status poll that found the order not final: look again on the poll schedule (pending after
    /// a good answer, failed after a bad one), or give up when the schedule is spent.
    private func pollTransition(after attemptNumber: Int, outcome: ConnectorOutcome, at finishedAt: Int64) -> DeliveryTransition {
        guard let jobs, let next = jobs.pollSchedule.nextAttemptAt(after: attemptNumber, failedAt: finishedAt, failure: .init(), jitter: jitter())
        else { return DeliveryTransition(status: .dead, nextAttemptAt: nil) }
        return DeliveryTransition(status: outcome.succeeded ? .pending : .failed, nextAttemptAt: next)
    }

    /// The schedule deliveries of `event` are retried on (status polls have their own).
    func schedule(for event: String) -> RetrySchedule {
        jobs?.schedule(for: event, otherwise: schedule) ?? schedule
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
        let maxAttempts = schedule(for: delivery.event).maxAttempts
        if var last = unfinished.last, delivery.attemptsStarted > maxAttempts {
            let now = clock()
            last.error = OutboxPolicy.interruptedReason(lastInterrupted: last.attemptNumber, maxAttempts: maxAttempts)
            let dead = RecordedAttempt(attempt: last, transition: DeliveryTransition(status: .dead, nextAttemptAt: nil), at: now)
            count(delivery, transition: dead.transition, durationMs: nil)
            return (unfinished.dropLast().map { recorded($0, at: now) } + [dead],
                    .failed(.interrupted, last.error ?? OutboxPolicy.interruptedError, retryable: false), nil)
        }
        let result = await attempt(delivery, target: claimed.target, outletId: claimed.event.outletId ?? "",
                                   orderBytes: claimed.event.payload, order: nil)
        return (unfinished.map { recorded($0, at: result.recorded.at) } + [result.recorded], result.outcome, result.health)
    }

    /// `pos_delivery_attempts_total` and the attempt's duration (none for a delivery given up without a call).
    private func count(_ delivery: Delivery, transition: DeliveryTransition, durationMs: Int64?) {
        metrics.deliveryAttempt(target: Self.target(of: delivery), provider: delivery.connector, outcome: Self.outcome(of: transition),
                                durationMs: durationMs)
    }

    private static func target(of delivery: Delivery) -> ServiceMetrics.Target {
        delivery.webhookId == nil ? .pos : .webhook
    }

    private static func outcome(of transition: DeliveryTransition) -> ServiceMetrics.AttemptOutcome {
        switch transition.status {
        case .delivered: .delivered
        case .dead: .dead
        case .pending, .delivering, .failed: .retry
        }
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
