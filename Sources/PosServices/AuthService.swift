import PosDomain
import PosStorage
import Synchronization

/// The caller behind a request: a usable API key of a tenant.
public struct Principal: Sendable, Equatable {
    public let key: APIKeyRecord
    public let tenant: Tenant

    public func has(anyOf scopes: Set<APIScope>) -> Bool { !scopes.isDisjoint(with: key.scopes) }
}

/// Authenticates `X-Api-Key` and applies the tenant rules of decisions D4.
///
/// Key rows are cached for `cacheTTLMs` (default 1 s, `POS_AUTH_CACHE_TTL`): every request needs
/// one, and a database read per request was a fifth of dispatch's cost. A revocation therefore
/// takes effect within that time on every replica; expiry is checked on each request.
public struct AuthService: Sendable {
    private let keys: any APIKeyStore
    private let clock: ServiceClock
    private let cache: KeyCache?

    public init(keys: any APIKeyStore, clock: @escaping ServiceClock, cacheTTLMs: Int64 = 1_000) {
        self.keys = keys
        self.clock = clock
        self.cache = cacheTTLMs > 0 ? KeyCache(ttlMs: cacheTTLMs) : nil
    }

    /// Missing, malformed, unknown, revoked or expired key, or a request naming another tenant:
    /// all throw the same ``ServiceError/unauthorized``.
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
        return Principal(key: record, tenant: tenant)
    }
}

extension AuthService {
    private func lookUp(_ id: Int64, now: Int64) async throws -> (APIKeyRecord, Tenant)? {
        if let cached = cache?.entry(id, now: now) { return cached }
        let found = try await translatingStoreErrors { try await keys.keyWithTenant(id: id) }
        if let found { cache?.store(id, found, now: now) }
        return found
    }
}

/// Recently read key rows, by key id. Bounded: cleared when it outgrows `capacity`.
final class KeyCache: Sendable {
    private struct Entry {
        let key: APIKeyRecord
        let tenant: Tenant
        let readAt: Int64
    }

    private let ttlMs: Int64
    private let capacity: Int
    private let entries = Mutex<[Int64: Entry]>([:])

    init(ttlMs: Int64, capacity: Int = 10_000) {
        self.ttlMs = ttlMs
        self.capacity = capacity
    }

    func entry(_ id: Int64, now: Int64) -> (APIKeyRecord, Tenant)? {
        entries.withLock { entries in
            guard let entry = entries[id], now - entry.readAt < ttlMs else { return nil }
            return (entry.key, entry.tenant)
        }
    }

    func store(_ id: Int64, _ value: (APIKeyRecord, Tenant), now: Int64) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[id] = Entry(key: value.0, tenant: value.1, readAt: now)
        }
    }
}
