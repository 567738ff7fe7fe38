import PosStorage

/// Whether this instance can serve: its database answers with the schema this build expects, and
/// its outbox worker is still looking for work.
public struct HealthService: Sendable {
    private let store: any StoreHealth
    private let worker: WorkerHeartbeat?
    /// The worker is stalled when it has not looked for this long.
    private let workerStallMs: Int64

    /// Why the replica is not ready, as the 503 says it.
    public struct NotReady: Error, Sendable, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    public init(store: any StoreHealth, worker: WorkerHeartbeat? = nil, workerStallMs: Int64 = 15_000) {
        self.store = store
        self.worker = worker
        self.workerStallMs = workerStallMs
    }

    /// Returns when ready; throws ``NotReady`` naming the first problem otherwise.
    public func checkReady() async throws(NotReady) {
        if let worker {
            let idle = worker.sinceLastBeatMs
            if idle > workerStallMs {
                throw NotReady(reason: "the outbox worker has not run for \(idle) ms (stalled after \(workerStallMs) ms)")
            }
        }
        let pending: [Int]
        do {
            pending = try await store.pendingMigrations()
        } catch {
            throw NotReady(reason: "database is not answering")
        }
        if !pending.isEmpty {
            throw NotReady(reason: "database migrations are behind: \(pending.count) not applied (run pos-integration migrate)")
        }
    }
}
