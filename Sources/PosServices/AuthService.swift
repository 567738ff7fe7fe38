import PosDomain
import PosStorage
import Synchronization

/// The caller behind a request: a usable API key of a tenant.
public struct Principal: Sendable, Equatable {
    public let key: APIKeyRecord
    public let tenant: Tenant

    public func has(anyOf scopes: Set<APIScope>) -> Bool { !scopes.isDisjoint(with: key.scopes) }
}

/// A platform operator behind a request: a usable operator key (`posop_…`). It belongs to no
/// tenant, so the tenant API never accepts it.
public struct OperatorPrincipal: Sendable, Equatable {
    public let key: OperatorKeyRecord
}

/// Authenticates `X-Api-Key` and applies the tenant rules (a key speaks only for its own tenant, by host or `X-Tenant-ID`); authenticates
/// operator keys the same way.
///
/// Key rows are cached for `cacheTTLMs` (default 1 s, `POS_AUTH_CACHE_TTL`): every request needs
/// one, and a database read per request was a fifth of dispatch's cost. A revocation therefore
/// takes effect within that time on every replica; expiry is checked on each request.
///
/// A key's `lastUsedAt` is written at most once a minute per key and process (and, by a
/// conditional update, at most once a minute across replicas): the request that finds a key due
/// awaits one small write, every other request none.
public struct AuthService: Sendable {
    private let keys: any APIKeyStore
    private let clock: ServiceClock
    private let cache: KeyCache<KeyAndTenant>?
    private let operatorCache: KeyCache<OperatorKeyRecord>?
    private let lastUse = LastUseTracker()

    /// How stale a key's `lastUsedAt` may get before a use writes it again.
    public static let lastUseResolutionMs: Int64 = 60_000

    public init(keys: any APIKeyStore, clock: @escaping ServiceClock, cacheTTLMs: Int64 = 1_000) {
        self.keys = keys
        self.clock = clock
        self.cache = cacheTTLMs > 0 ? KeyCache(ttlMs: cacheTTLMs) : nil
        self.operatorCache = cacheTTLMs > 0 ? KeyCache(ttlMs: cacheTTLMs) : nil
    }

    /// Missing, malformed, unknown, revoked or expired key, or a request naming another tenant:
    /// all throw the same ``ServiceError/unauthorized``. An operator key is malformed here.
    public func authenticate(apiKey: String?, claim: TenantClaim) async throws -> Principal {
        guard let apiKey, let token = APIKeyToken(rawValue: apiKey.trimmingCharacters(in: .whitespaces)) else {
            throw ServiceError.unauthorized
        }
        let now = clock()
        guard let (record, tenant) = try await lookUp(token.apiKeyId, now: now),
              token.matches(storedHash: record.secretHash),
              record.isUsable(at: now),
              tenant.status == "active",
              claim.permits(tenant)
        else { throw ServiceError.unauthorized }
        await noteUse(of: record, now: now)
        return Principal(key: record, tenant: tenant)
    }

    /// An operator key (`posop_…`), by the same rules as a tenant's: any failure is
    /// ``ServiceError/unauthorized``.
    public func authenticateOperator(key: String?) async throws -> OperatorPrincipal {
        guard let key, let token = OperatorKeyToken(rawValue: key.trimmingCharacters(in: .whitespaces)) else {
            throw ServiceError.unauthorized
        }
        let now = clock()
        guard let record = try await lookUpOperator(token.id, now: now),
              token.matches(storedHash: record.secretHash),
              record.isUsable(at: now)
        else { throw ServiceError.unauthorized }
        await noteUse(of: record, now: now)
        return OperatorPrincipal(key: record)
    }

    /// The principal of a tenant key already authenticated once (a console session re-checking
    /// it): nil when it is gone, revoked or expired, or its tenant is not active. Read through the
    /// same cache, so a revocation shows within its TTL; counts as a use for `lastUsedAt`.
    public func principal(forKeyId id: Int64) async throws -> Principal? {
        let now = clock()
        guard let (record, tenant) = try await lookUp(id, now: now), record.isUsable(at: now), tenant.status == "active" else { return nil }
        await noteUse(of: record, now: now)
        return Principal(key: record, tenant: tenant)
    }

    /// As ``principal(forKeyId:)``, for an operator key.
    public func operatorPrincipal(forKeyId id: Int64) async throws -> OperatorPrincipal? {
        let now = clock()
        guard let record = try await lookUpOperator(id, now: now), record.isUsable(at: now) else { return nil }
        await noteUse(of: record, now: now)
        return OperatorPrincipal(key: record)
    }

    /// Drops a key's cached row here, so a change made through this process shows at once on it
    /// (other replicas within the cache TTL).
    func forget(keyId id: Int64) {
        cache?.remove(id)
    }

    func forget(operatorKeyId id: Int64) {
        operatorCache?.remove(id)
    }
}

extension AuthService {
    private struct KeyAndTenant: Sendable {
        let key: APIKeyRecord
        let tenant: Tenant
    }

    private func lookUp(_ id: Int64, now: Int64) async throws -> (APIKeyRecord, Tenant)? {
        if let cached = cache?.entry(id, now: now) { return (cached.key, cached.tenant) }
        guard let (key, tenant) = try await translatingStoreErrors({ try await keys.keyWithTenant(id: id) }) else { return nil }
        cache?.store(id, KeyAndTenant(key: key, tenant: tenant), now: now)
        return (key, tenant)
    }

    private func lookUpOperator(_ id: Int64, now: Int64) async throws -> OperatorKeyRecord? {
        if let cached = operatorCache?.entry(id, now: now) { return cached }
        let found = try await translatingStoreErrors { try await keys.operatorKey(id: id) }
        if let found { operatorCache?.store(id, found, now: now) }
        return found
    }

    private func noteUse(of key: APIKeyRecord, now: Int64) async {
        guard lastUse.isDue(.tenant(key.apiKeyId), recorded: key.lastUsedAt, now: now) else { return }
        // Best effort: a failed write must not fail the request it rode on; the next due use retries.
        _ = try? await keys.touchKey(id: key.apiKeyId, at: now, notBefore: now - Self.lastUseResolutionMs)
    }

    private func noteUse(of key: OperatorKeyRecord, now: Int64) async {
        guard lastUse.isDue(.operator(key.operatorKeyId), recorded: key.lastUsedAt, now: now) else { return }
        _ = try? await keys.touchOperatorKey(id: key.operatorKeyId, at: now, notBefore: now - Self.lastUseResolutionMs)
    }
}

/// When this process last wrote (or saw written) each key's `lastUsedAt`. Bounded: cleared when
/// it outgrows `capacity` (which costs at most one extra conditional write per key).
final class LastUseTracker: Sendable {
    enum Key: Hashable {
        case tenant(Int64)
        case `operator`(Int64)
    }

    private let capacity: Int
    private let touched = Mutex<[Key: Int64]>([:])

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// Whether a use at `now` should write `lastUsedAt`; when it should, the write is claimed, so
    /// requests arriving meanwhile do not write too. `recorded` is the value the key's row had.
    func isDue(_ key: Key, recorded: Int64?, now: Int64) -> Bool {
        touched.withLock { touched in
            let last = max(touched[key] ?? .min, recorded ?? .min)
            let due = last == .min || now - last >= AuthService.lastUseResolutionMs
            if touched[key] == nil, touched.count >= capacity { touched.removeAll(keepingCapacity: true) }
            touched[key] = due ? now : last
            return due
        }
    }
}

/// Recently read key rows, by key id. Bounded: cleared when it outgrows `capacity`.
final class KeyCache<Value: Sendable>: Sendable {
    private struct Entry {
        let value: Value
        let readAt: Int64
    }

    private let ttlMs: Int64
    private let capacity: Int
    private let entries = Mutex<[Int64: Entry]>([:])

    init(ttlMs: Int64, capacity: Int = 10_000) {
        self.ttlMs = ttlMs
        self.capacity = capacity
    }

    func entry(_ id: Int64, now: Int64) -> Value? {
        entries.withLock { entries in
            guard let entry = entries[id], now - entry.readAt < ttlMs else { return nil }
            return entry.value
        }
    }

    func store(_ id: Int64, _ value: Value, now: Int64) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[id] = Entry(value: value, readAt: now)
        }
    }

    func remove(_ id: Int64) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }
}
