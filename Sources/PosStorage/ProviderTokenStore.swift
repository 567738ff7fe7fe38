/// A connection's OAuth tokens, sealed, with the refresh lease that lets one replica at a time
/// spend the (single-use) refresh token.
public struct ProviderToken: Sendable, Equatable {
    public var tenantId: String
    public var slug: String
    public var sealedAccessToken: String
    /// nil when the POS issued no refresh token (client credentials are asked again instead).
    public var sealedRefreshToken: String?
    /// When the access token expires (ms since the epoch); nil when the POS did not say.
    public var accessExpiresAt: Int64?
    /// Bumped by every stored refresh: waiting replicas watch it change.
    public var version: Int64
    /// The replica refreshing now, and until when its lease holds.
    public var refreshOwner: String?
    public var refreshLeaseUntil: Int64?
    public var updatedAt: Int64

    public init(tenantId: String, slug: String, sealedAccessToken: String, sealedRefreshToken: String?, accessExpiresAt: Int64?,
                version: Int64, refreshOwner: String? = nil, refreshLeaseUntil: Int64? = nil, updatedAt: Int64) {
        self.tenantId = tenantId
        self.slug = slug
        self.sealedAccessToken = sealedAccessToken
        self.sealedRefreshToken = sealedRefreshToken
        self.accessExpiresAt = accessExpiresAt
        self.version = version
        self.refreshOwner = refreshOwner
        self.refreshLeaseUntil = refreshLeaseUntil
        self.updatedAt = updatedAt
    }
}

/// New tokens from one refresh, sealed.
public struct RefreshedProviderToken: Sendable, Equatable {
    public var sealedAccessToken: String
    public var sealedRefreshToken: String?
    public var accessExpiresAt: Int64?

    public init(sealedAccessToken: String, sealedRefreshToken: String?, accessExpiresAt: Int64?) {
        self.sealedAccessToken = sealedAccessToken
        self.sealedRefreshToken = sealedRefreshToken
        self.accessExpiresAt = accessExpiresAt
    }
}

/// The token row's primitives: read, insert the first, and a compare-and-set lease around a
/// refresh. Every write is one statement that checks what the caller last read (`version`, the
/// lease), so replicas coordinate through the row alone. The rules (who refreshes, how long losers
/// wait) live in `CredentialProvider`, not here.

public protocol ProviderTokenStore: Sendable {
    func providerToken(tenantId: String, slug: String) async throws -> ProviderToken?
    /// Stores the connection's first token; false when a row exists already (another replica won).
    func insertProviderToken(_ token: ProviderToken) async throws -> Bool
    /// Takes the refresh lease when the row is still at `version` and nobody holds an unexpired
    /// lease at `now`; true when this caller now holds it until `until`.
    func acquireTokenRefreshLease(tenantId: String, slug: String, version: Int64, owner: String, until: Int64, now: Int64) async throws -> Bool
    /// Stores the refreshed tokens, bumps the version and drops the lease — only while `owner` still
    /// holds the lease at `version`; the new version, or nil when it did not.
    func completeTokenRefresh(tenantId: String, slug: String, version: Int64, owner: String, tokens: RefreshedProviderToken,
                              at: Int64) async throws -> Int64?
    /// Gives the lease up without new tokens (the refresh failed), so the next caller may try.
    func releaseTokenRefreshLease(tenantId: String, slug: String, owner: String) async throws
    /// Forgets the tokens (the connection's client changed or went away).
    func deleteProviderToken(tenantId: String, slug: String) async throws
}

/// An OAuth authorization in flight: the `state` we put in the authorize URL, bound to the tenant
/// and provider that started it. Only its SHA-256 is stored (the state itself proves the tenant at
/// the callback, like a password); it is spent once and expires.
public struct OAuthAuthorizationState: Sendable, Equatable {
    public var stateHash: String
    public var tenantId: String
    public var slug: String
    /// The redirect URI the authorize URL named; the code exchange must name the same one.
    public var redirectUri: String
    public var expiresAt: Int64
    public var createdAt: Int64

    public init(stateHash: String, tenantId: String, slug: String, redirectUri: String, expiresAt: Int64, createdAt: Int64) {
        self.stateHash = stateHash
        self.tenantId = tenantId
        self.slug = slug
        self.redirectUri = redirectUri
        self.expiresAt = expiresAt
        self.createdAt = createdAt
    }
}

/// Pending OAuth authorizations (migration 13). `consume` is one statement that deletes the row and
/// returns it, so of two callbacks with the same state exactly one gets it.
public protocol OAuthStateStore: Sendable {
    /// Records a new state; states expired before `createdAt` are purged on the way.
    func insertOAuthState(_ state: OAuthAuthorizationState) async throws
    /// Spends the state with this hash: the row if it existed and had not expired at `now`, else nil.
    /// An expired row is deleted all the same.
    func consumeOAuthState(stateHash: String, now: Int64) async throws -> OAuthAuthorizationState?
}
