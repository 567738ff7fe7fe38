import Instrumentation
import Logging
import PosConnectors
import PosDomain
import PosStorage
import ServiceLifecycle
import Synchronization

/// Delivers every due delivery from the outbox: leases a batch, attempts each, records where it
/// goes next (delivered, failed with its next time, or dead). Runs inside `serve` as a service;
/// on graceful shutdown it stops leasing and lets in-flight attempts finish.
public final class OutboxWorker: Service, Sendable {
    public struct Settings: Sendable {
        /// How often an idle worker looks for due deliveries (a wake-up comes sooner).
        public var pollIntervalMs: Int64
        public var batchSize: Int
        /// Must exceed the delivery timeout, so a live attempt never loses its lease.
        public var leaseMs: Int64

        public init(pollIntervalMs: Int64 = 1_000, batchSize: Int = 32, leaseMs: Int64) {
            self.pollIntervalMs = pollIntervalMs
            self.batchSize = batchSize
            self.leaseMs = leaseMs
        }
    }

    private let outbox: any OutboxStore & OrderStore
    private let attempter: DeliveryAttempter
    private let settings: Settings
    private let instanceId: String
    private let clock: ServiceClock
    private let logger: Logger
    private let wakeSignal = WakeSignal()
    /// When the worker last looked for due deliveries, for readiness.
    public let heartbeat = WorkerHeartbeat()
    /// Called after each attempt is stored; tests wait on it instead of sleeping.
    private let onAttemptRecorded: @Sendable (RecordedAttempt) -> Void

    public init(outbox: any OutboxStore & OrderStore, attempter: DeliveryAttempter, settings: Settings, instanceId: String,
                clock: @escaping ServiceClock, logger: Logger, onAttemptRecorded: @escaping @Sendable (RecordedAttempt) -> Void = { _ in }) {
        self.outbox = outbox
        self.attempter = attempter
        self.settings = settings
        self.instanceId = instanceId
        self.clock = clock
        self.logger = logger
        self.onAttemptRecorded = onAttemptRecorded
    }

    /// Look for due deliveries now (a retry was requested, or a first attempt failed).
    public func wake() { wakeSignal.signal() }

    public func run() async throws {
        // Another replica queued due work: look now rather than at the next poll.
        (outbox as? any OutboxNotifications)?.onOutboxNotification { [wakeSignal] in wakeSignal.signal() }
        await withGracefulShutdownHandler {
            while !Task.isCancelled, !Task.isShuttingDownGracefully {
                let delivered = await runOnce()
                if delivered == 0 { await wakeSignal.wait(timeoutMs: settings.pollIntervalMs) }
            }
        } onGracefulShutdown: {
            self.wakeSignal.signal()
        }
    }

    /// Leases one batch and attempts it; returns how many deliveries it took.
    @discardableResult
    public func runOnce() async -> Int {
        heartbeat.beat()
        let now = clock()
        let claimed: [ClaimedDelivery]
        do {
            claimed = try await outbox.claimDueDeliveries(
                lease: DeliveryLease(owner: instanceId, expiresAt: now + settings.leaseMs), now: now, limit: settings.batchSize)
        } catch {
            logger.warning("outbox unavailable", metadata: ["error": .string(String(describing: error))])
            return 0
        }
        await withTaskGroup(of: Void.self) { group in
            for delivery in claimed {
                // The attempt continues the trace of whoever emitted the event, as a child of the span
                // that stored it rather than a new trace linked to it: searching the caller's trace id
                // then finds its retries (and the events they emit) too, however much later they ran.
                let emitter = delivery.event.traceparent.map(TraceContext.context(continuing:))
                group.addTask { await InstrumentationContext.withValue(emitter) { await self.attempt(delivery) } }
            }
        }
        return claimed.count
    }

    private func attempt(_ claimed: ClaimedDelivery) async {
        let delivery = claimed.delivery
        let result = await attempter.attempt(claimed: claimed)
        let (last, outcome) = (result.last, result.outcome)
        let finished = attempter.finish([result])
        do {
            try await outbox.recordAttempts(finished.recorded, completion: finished.completion, health: finished.health)
        } catch {
            // The lease runs out and the delivery is attempted again: at least once, never lost.
            logger.error("could not record a delivery attempt", metadata: [
                "delivery_id": .string(delivery.id), "error": .string(String(describing: error))])
            return
        }
        logger.info("delivery attempt", metadata: [
            "delivery_id": .string(delivery.id), "event": .string(delivery.event), "subject": .string("\(delivery.subject.kind.rawValue) \(delivery.subject.id)"),
            "attempt": .stringConvertible(last.attempt.attemptNumber), "status_code": .string(outcome.statusCode.map(String.init) ?? "-"),
            "outcome": .string(outcome.errorClass ?? "delivered"), "next": .string(last.transition.status.rawValue),
        ])
        for attempt in finished.recorded { onAttemptRecorded(attempt) }
    }
}

/// The monotonic time of the outbox worker's last look at the outbox: a worker that stops looking
/// (hung, or its task gone) makes the replica unready.
public final class WorkerHeartbeat: Sendable {
    private let last = Mutex(ContinuousClock.now)

    public init() {}

    public func beat() { last.withLock { $0 = ContinuousClock.now } }

    /// Milliseconds since the last beat (since creation before the first).
    public var sinceLastBeatMs: Int64 {
        let elapsed = ContinuousClock.now - last.withLock { $0 }
        return elapsed.components.seconds * 1_000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }
}

/// Wakes a waiting worker early; a signal with nobody waiting is kept for the next wait.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: (id: Int, continuation: CheckedContinuation<Void, Never>)?
        var nextId = 0
    }

    private let state = Mutex(State())

    func signal() {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        continuation?.resume()
    }

    func wait(timeoutMs: Int64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let id: Int? = state.withLock { state in
                if state.pending {
                    state.pending = false
                    return nil
                }
                state.nextId += 1
                state.waiter = (state.nextId, continuation)
                return state.nextId
            }
            guard let id else {
                continuation.resume()
                return
            }
            Task {
                try? await Task.sleep(for: .milliseconds(timeoutMs))
                let expired = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                    guard let waiter = state.waiter, waiter.id == id else { return nil }
                    state.waiter = nil
                    return waiter.continuation
                }
                expired?.resume()
            }
        }
    }
}
