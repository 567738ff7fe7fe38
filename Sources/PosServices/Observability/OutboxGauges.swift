import Logging
import PosDomain
import PosStorage

/// `pos_outbox_pending`, `pos_outbox_oldest_due_age_seconds` and `pos_outbox_dead`, read from the
/// store by one snapshot at most every `refreshMs` however often Prometheus scrapes (and however
/// many scrapers there are): concurrent scrapes share one read.
public actor OutboxGauges {
    private let store: any OperationsStore
    private let metrics: ServiceMetrics
    private let clock: ServiceClock
    private let refreshMs: Int64
    private let logger: Logger
    private var readAt: Int64?
    private var reading: Task<Void, Never>?

    public init(store: any OperationsStore, metrics: ServiceMetrics, clock: @escaping ServiceClock, refreshMs: Int64 = 5_000, logger: Logger) {
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.refreshMs = refreshMs
        self.logger = logger
    }

    /// Brings the gauges up to date when they are older than `refreshMs`.
    public func refresh() async {
        if let readAt, clock() - readAt < refreshMs { return }
        if let reading { return await reading.value }
        let task = Task { await self.read() }
        reading = task
        await task.value
        reading = nil
    }

    private func read() async {
        do {
            let snapshot = try await store.outboxSnapshot()
            let now = clock()
            metrics.gauge(ServiceMetrics.Name.outboxPending, Double(snapshot.pending))
            metrics.gauge(ServiceMetrics.Name.outboxDead, Double(snapshot.dead))
            metrics.gauge(ServiceMetrics.Name.outboxOldestDueAge, Double(max(0, now - (snapshot.oldestDueAt ?? now))) / 1_000)
            readAt = now
        } catch {
            // The gauges keep their last values; the next scrape tries again.
            logger.warning("could not read the outbox gauges", metadata: ["error": .string(String(describing: error))])
        }
    }
}
