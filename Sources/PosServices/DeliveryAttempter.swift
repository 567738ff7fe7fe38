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
    /// Cancellations, status polls and menu imports; without it, a connector delivery of anything but
    /// an order is a configuration failure.
    private let jobs: ConnectorJobs?
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

    /// One delivery's attempt, as it is recorded.
    public struct Result: Sendable {
        public let delivery: Delivery
        /// The outlet the delivery's event concerns (a POS order's status poll goes there too).
        public let outletId: String
        public let outcome: ConnectorOutcome
        /// Attempts that began before this one and never finished, recorded before it.
        public let interrupted: [RecordedAttempt]
        /// This attempt, whose transition the delivery takes.
        public let last: RecordedAttempt
        /// The webhook's health after this attempt (circuit breaker, auto-disable); nil for a POS connector.
        public let health: EndpointHealthUpdate?

        public var recorded: [RecordedAttempt] { interrupted + [last] }
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
            span.attributes["delivery.outcome"] = Self.outcome(of: result.last.transition).rawValue
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
        switch delivery.kind {
        case .webhookEvent?, .webhookOrder?:
            if let target {
                outcome = await sendToWebhook(delivery, target: target, attemptNumber: attemptNumber, orderBytes: orderBytes, order: order)
            } else {
                outcome = .configuration("webhook \(delivery.webhookId.map(String.init) ?? "-") no longer exists")
            }
        case .posOrder?:
            outcome = await connectors.deliver(delivery, attemptNumber: attemptNumber, outletId: outletId, orderBytes: orderBytes, order: order,
                                               route: route)
        case .posCancel?:
            outcome = await jobs?.cancel(delivery, payload: orderBytes, attemptNumber: attemptNumber) ?? .unhandled(delivery)
        case .statusPoll?:
            let poll = await jobs?.poll(delivery) ?? ConnectorJobs.Outcome(outcome: .unhandled(delivery), pollAgain: false)
            (outcome, pollAgain) = (poll.outcome, poll.pollAgain)
        case .menuImport?:
            outcome = await jobs?.importMenu(delivery) ?? .unhandled(delivery)
        case nil:
            outcome = .unhandled(delivery)
        }
        let finishedAt = clock()
        let transition = pollAgain
            ? pollTransition(after: attemptNumber, outcome: outcome, at: finishedAt)
            : self.transition(after: attemptNumber, outcome: outcome, at: finishedAt, schedule: schedule(for: delivery))
        if pollAgain, transition.status == .dead {
            outcome.error = [outcome.error, "order not final after \(attemptNumber) polls; polling ends"].compactMap { $0 }.joined(separator: "; ")
        }
        let attempt = DeliveryAttempt(
            deliveryId: delivery.id, attemptNumber: attemptNumber, startedAt: finishedAt - outcome.durationMs,
            durationMs: outcome.durationMs, statusCode: outcome.statusCode, errorClass: outcome.errorClass,
            error: outcome.error, responseExcerpt: outcome.responseExcerpt, signedWith: outcome.signedWith)
        count(delivery, transition: transition, durationMs: outcome.durationMs)
        if attemptNumber == 1, delivery.kind?.measuresEnqueueLatency ?? true {
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
        return Result(delivery: delivery, outletId: outletId, outcome: outcome, interrupted: [],
                      last: RecordedAttempt(attempt: attempt, transition: transition, at: finishedAt), health: update)
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

    /// The schedule `delivery` is retried on (status polls have their own).
    func schedule(for delivery: Delivery) -> RetrySchedule {
        guard delivery.kind?.usesPollSchedule == true, let jobs else { return schedule }
        return jobs.pollSchedule
    }

    /// What the worker records for a claimed delivery: first the attempts that began and never
    /// finished (their process died or lost its lease), then this attempt — or, when the unfinished
    /// ones used up the schedule, the delivery given up as dead without another call, so a delivery
    /// that kills its process cannot take every replica down in turn.
    public func attempt(claimed: ClaimedDelivery) async -> Result {
        let delivery = claimed.delivery
        let outletId = claimed.event.outletId ?? ""
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
        let maxAttempts = schedule(for: delivery).maxAttempts
        if var last = unfinished.last, delivery.attemptsStarted > maxAttempts {
            let now = clock()
            last.error = OutboxPolicy.interruptedReason(lastInterrupted: last.attemptNumber, maxAttempts: maxAttempts)
            let dead = RecordedAttempt(attempt: last, transition: DeliveryTransition(status: .dead, nextAttemptAt: nil), at: now)
            count(delivery, transition: dead.transition, durationMs: nil)
            return Result(delivery: delivery, outletId: outletId,
                          outcome: .failed(.interrupted, last.error ?? OutboxPolicy.interruptedError, retryable: false),
                          interrupted: unfinished.dropLast().map { recorded($0, at: now) }, last: dead, health: nil)
        }
        let result = await attempt(delivery, target: claimed.target, outletId: outletId, orderBytes: claimed.event.payload, order: nil)
        return Result(delivery: delivery, outletId: outletId, outcome: result.outcome,
                      interrupted: unfinished.map { recorded($0, at: result.last.at) }, last: result.last, health: result.health)
    }

    /// What a round of attempts leaves to record, in one transaction.
    public struct Finished: Sendable {
        public var recorded: [RecordedAttempt]
        public var health: [EndpointHealthUpdate]
        /// The order's dispatch outcome when the attempts include its dispatch (with the status poll
        /// a POS that now has the order needs); nil otherwise.
        public var completion: DispatchCompletion?
    }

    /// The one way an attempt is finished, whether dispatch made it inline or the worker retried it:
    /// the attempts to record, the webhooks' health, and the order's dispatch outcome when one of
    /// the deliveries is the order's dispatch. `results` and `deferred` (dispatch deliveries held
    /// back by an open circuit) concern at most one order.
    public func finish(_ results: [Result], deferred: [Delivery] = []) -> Finished {
        Finished(recorded: results.flatMap(\.recorded), health: results.compactMap(\.health),
                 completion: completion(of: results.filter { $0.delivery.kind?.dispatchesOrder == true },
                                        deferred: deferred.filter { $0.kind?.dispatchesOrder == true }))
    }

    /// Dispatched when every dispatch delivery was delivered, named by their answers; failed otherwise,
    /// named by the failures.
    private func completion(of results: [Result], deferred: [Delivery]) -> DispatchCompletion? {
        guard let orderId = (results.first?.delivery ?? deferred.first)?.orderId else { return nil }
        var failures = deferred.map { delivery in
            "\(delivery.targetLabel): endpoint failing, circuit open; queued until " + RFC3339.format(milliseconds: delivery.nextAttemptAt ?? 0)
        }
        var successes: [String] = []
        var externalOrderId: String?
        var followUps: [EventPublication] = []
        for result in results {
            guard result.outcome.succeeded else {
                failures.append(Self.reason(of: result))
                continue
            }
            successes.append(Self.reason(of: result))
            externalOrderId = externalOrderId ?? result.outcome.externalOrderId
            if result.delivery.kind == .posOrder, let jobs {
                followUps += jobs.followUps(orderId: orderId, tenantId: result.delivery.tenantId, outletId: result.outletId,
                                            connector: result.delivery.connector, at: result.last.at)
            }
        }
        let dispatched = failures.isEmpty
        return DispatchCompletion(orderId: orderId, status: dispatched ? .dispatched : .failed,
                                  reason: (dispatched ? successes : failures).joined(separator: "; "), externalOrderId: externalOrderId,
                                  response: nil, at: clock(), publications: followUps)
    }

    /// How the order's dispatch reason tells one delivery's attempt: where it went and what came of
    /// it (`webhook 7: delivered (HTTP 200)`). A retry's failure names its attempt, and says when the
    /// delivery was given up; the first attempt's answer is the dispatch response's, so it needs no number.
    static func reason(of result: Result) -> String {
        let told = "\(result.delivery.targetLabel): \(result.outcome.reason)"
        let number = result.last.attempt.attemptNumber
        guard !result.outcome.succeeded, number > 1 else { return told }
        return result.last.transition.status == .dead ? "dead-lettered after attempt \(number): \(told)" : "attempt \(number) failed: \(told)"
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

    /// A connector delivery nothing in this process handles (an unknown job, or jobs not configured).
    static func unhandled(_ delivery: Delivery) -> ConnectorOutcome {
        .configuration("connector \(delivery.connector) has nothing that handles \(delivery.event)")
    }
}
