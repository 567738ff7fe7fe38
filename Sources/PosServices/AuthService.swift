import PosDomain
import PosStorage

/// The caller behind a request: a usable API key of a tenant.
public struct Principal: Sendable, Equatable {
    public let key: APIKeyRecord
    public let tenant: Tenant

    public func has(anyOf scopes: Set<APIScope>) -> Bool { !scopes.isDisjoint(with: key.scopes) }
}

/// Authenticates `X-Api-Key` and applies the tenant rules of decisions D4.
public struct AuthService: Sendable {
    private let keys: any APIKeyStore
    private let clock: ServiceClock

    public init(keys: any APIKeyStore, clock: @escaping ServiceClock) {
        self.keys = keys
        self.clock = clock
    }

    /// Missing, malformed, unknown, revoked or expired key, or a request naming another tenant:
    /// all throw the same ``ServiceError/unauthorized``.
    public func authenticate(apiKey: String?, claim: TenantClaim) async throws -> Principal {
        guard let apiKey, let token = APIKeyToken(rawValue: apiKey.trimmingCharacters(in: .whitespaces)) else {
            throw ServiceError.unauthorized
        }
        guard let (record, tenant) = try await translatingStoreErrors({ try await keys.keyWithTenant(id: token.apiKeyId) }),
              token.matches(storedHash: record.secretHash),
              record.isUsable(at: clock()),
              tenant.status == "active",
              claim.permits(tenant)
        else { throw ServiceError.unauthorized }
        return Principal(key: record, tenant: tenant)
    }
}
