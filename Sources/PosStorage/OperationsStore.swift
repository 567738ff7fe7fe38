import PosDomain

/// Console sign-in sessions, keyed by the hash of their id.
public protocol ConsoleSessionStore: Sendable {
    func createSession(_ session: ConsoleSession) async throws
    /// The session, whether or not it has expired (the caller decides, on its own clock).
    func session(idHash: String) async throws -> ConsoleSession?
    /// Moves the idle expiry forward.
    func touchSession(idHash: String, lastSeenAt: Int64, expiresAt: Int64) async throws
    /// Which tenant an operator's session acts in (nil: the platform view).
    func setActingTenant(idHash: String, tenantId: String?) async throws
    func deleteSession(idHash: String) async throws
    /// Removes sessions whose idle expiry passed; returns how many.
    func deleteExpiredSessions(now: Int64) async throws -> Int
}

/// Read models over orders and deliveries for the people who operate the service. Each query is
/// bounded by an index: they run on every console page view, beside the dispatch path.
public protocol OperationsStore: Sendable {
    /// A page of the tenant's orders, newest first.
    func searchOrders(tenantId: String, _ search: OrderSearch) async throws -> [OrderRecord]
    /// Orders received since `since`, counted per `bucketMs`, oldest bucket first; empty buckets are left out.
    func orderActivity(tenantId: String, since: Int64, bucketMs: Int64) async throws -> [ActivityBucket]
    func outboxSnapshot(tenantId: String) async throws -> OutboxSnapshot
    /// The same over every tenant: the metrics' outbox gauges.
    func outboxSnapshot() async throws -> OutboxSnapshot
    /// Dead deliveries grouped by target and last error, the most recent group first; at most `limit` groups
    /// with up to `sampleSize` deliveries each.
    func deadLetterGroups(tenantId: String, limit: Int, sampleSize: Int) async throws -> [DeadLetterGroup]
}
