import PosDomain

/// A points move about to go upstream under its `refCode`, and the lease that lets one request at a
/// time (on any replica) call the loyalty service for it.
public struct LoyaltyMoveClaim: Sendable, Equatable {
    public var tenantId: String
    public var operation: LoyaltyOperation
    public var move: LoyaltyPointsMove
    public var owner: String
    public var leaseUntil: Int64
    /// Forgotten after this: the same `refCode` then starts afresh.
    public var expiresAt: Int64
    public var now: Int64

    public init(tenantId: String, operation: LoyaltyOperation, move: LoyaltyPointsMove, owner: String, leaseUntil: Int64, expiresAt: Int64,
                now: Int64) {
        self.tenantId = tenantId
        self.operation = operation
        self.move = move
        self.owner = owner
        self.leaseUntil = leaseUntil
        self.expiresAt = expiresAt
        self.now = now
    }
}

/// The first definitive answer to a points move, replayed to every later request with its `refCode`.
public struct LoyaltyStoredOutcome: Sendable, Equatable {
    /// The status the partner got (200, or the loyalty service's own 4xx).
    public var status: Int
    /// What the partner got: the answer's JSON, or for a refusal `{"message","details"}`.
    public var body: String

    public init(status: Int, body: String) {
        self.status = status
        self.body = body
    }
}

/// What a claim found.
public enum LoyaltyClaimResult: Sendable, Equatable {
    /// This caller holds the lease and calls upstream; `attempt` counts calls for this refCode (1 first).
    case claimed(attempt: Int)
    /// Answered before: replay it.
    case completed(LoyaltyStoredOutcome)
    /// The refCode was used for another customer or number of points.
    case mismatch(customerUuid: String, points: Int64)
    /// Another request holds the lease and is calling upstream now.
    case inFlight
}

/// Per-tenant loyalty configuration, the refCode records that make earn and use idempotent, and
/// the log of every call. The rules (what is definitive, how long a lease lasts) are LoyaltyService's.
public protocol LoyaltyStore: Sendable {
    /// Creates or replaces the tenant's configuration; keeps the first `createdAt`.
    func upsertLoyaltyConfig(_ config: LoyaltyConfig) async throws -> LoyaltyConfig
    func loyaltyConfig(tenantId: String) async throws -> LoyaltyConfig?
    /// Whether there was one to delete.
    func deleteLoyaltyConfig(tenantId: String) async throws -> Bool

    /// Records a points move under (tenant, operation, refCode), or finds the earlier one: in one
    /// transaction, so of two requests with the same refCode on any replicas exactly one claims it.
    /// An expired record is replaced; an open one whose lease ran out is taken over.
    func claimLoyaltyMove(_ claim: LoyaltyMoveClaim) async throws -> LoyaltyClaimResult
    /// Ends `owner`'s lease: with a definitive outcome the move is completed (replayed from now on),
    /// without one it stays open for a retry under the same refCode. Logs `call` in the same transaction.
    func settleLoyaltyMove(tenantId: String, operation: LoyaltyOperation, refCode: String, owner: String,
                           outcome: LoyaltyStoredOutcome?, call: LoyaltyCall) async throws
    func recordLoyaltyCall(_ call: LoyaltyCall) async throws
    /// The tenant's calls, newest first.
    func loyaltyCalls(tenantId: String, filter: LoyaltyCallFilter) async throws -> [LoyaltyCall]
}
