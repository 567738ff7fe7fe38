import Foundation
import PosConnectors
import PosDomain
import PosStorage

/// Hands a connector the credentials of a tenant's connection for one call. A static-key POS gets
/// its key and secret as stored. An OAuth POS gets an access token, refreshed when it is expired or
/// the POS answers 401 — by one caller at a time across replicas, so a single-use refresh token is
/// never spent twice:
///
/// 1. whoever finds the token stale tries to take the refresh lease on the token row (a
///    compare-and-set on `version` and the lease, see ``ProviderTokenStore``);
/// 2. the winner calls the token endpoint and stores the new tokens, bumping `version`;
/// 3. the others poll the row (bounded by ``Settings/waitMs``) until `version` moves, then use
///    the new token. A lease whose holder died lapses and the next caller takes it.
///
/// Tokens are sealed at rest with the ``SecretBox``; nothing here logs a secret.
public struct CredentialProvider: Sendable {
    public struct Settings: Sendable {
        /// Names this replica on refresh leases.
        public var owner: String
        /// How long a refresh lease holds: longer than the token endpoint's timeout, so a live refresh
        /// is never overtaken (the overtaker would spend the same refresh token).
        public var leaseMs: Int64
        /// How long a caller waits for another replica's refresh before it gives this attempt up
        /// (a retryable failure: the outbox tries again later).
        public var waitMs: Int64
        /// How often a waiting caller reads the row again.
        public var pollMs: Int64
        /// An access token this close to its expiry is refreshed before use.
        public var expiryMarginMs: Int64

        public init(owner: String, leaseMs: Int64 = 30_000, waitMs: Int64 = 15_000, pollMs: Int64 = 20, expiryMarginMs: Int64 = 30_000) {
            self.owner = owner
            self.leaseMs = leaseMs
            self.waitMs = waitMs
            self.pollMs = pollMs
            self.expiryMarginMs = expiryMarginMs
        }
    }

    private let secretBox: SecretBox
    private let tokens: (any ProviderTokenStore)?
    private let endpoint: OAuthTokenEndpoint?
    private let clock: ServiceClock
    private let settings: Settings
    private let onReauthorizationRequired: (@Sendable (_ tenantId: String, _ slug: String) async -> Void)?
    private let metrics: ServiceMetrics

    /// The status a connection shows once its authorization-code tokens are gone for good (a refresh
    /// refused as spent or expired): the merchant has to approve the client again.
    public static let reauthorizationRequired = "reauthorization_required"

    /// Without `tokens` and `endpoint` only static-key connections can be served.
    public init(secretBox: SecretBox, tokens: (any ProviderTokenStore)? = nil, endpoint: OAuthTokenEndpoint? = nil,
                clock: @escaping ServiceClock, settings: Settings = Settings(owner: UUID().uuidString.lowercased()),
                onReauthorizationRequired: (@Sendable (_ tenantId: String, _ slug: String) async -> Void)? = nil,
                metrics: ServiceMetrics = .disabled) {
        self.metrics = metrics
        self.secretBox = secretBox
        self.tokens = tokens
        self.endpoint = endpoint
        self.clock = clock
        self.settings = settings
        self.onReauthorizationRequired = onReauthorizationRequired
    }

    /// Where `connection`'s POS is and where its credentials come from, for a POS that
    /// authenticates by `scheme`. Throws a `configuration` failure when the stored secrets cannot be
    /// opened or the scheme cannot be served here.
    public func access(for connection: ProviderConnection, scheme: CredentialScheme) throws(CredentialFailure) -> ProviderAccess {
        let key: String, secret: String
        do {
            key = try secretBox.open(connection.sealedApiKey)
            secret = try secretBox.open(connection.sealedApiSecret)
        } catch {
            throw CredentialFailure(.configuration, "the \(connection.slug) credentials cannot be decrypted with this master key", retryable: false)
        }
        let source: any CredentialSource
        switch scheme {
        case .staticKey:
            source = StaticCredentialSource(key: key, secret: secret)
        case .oauth2(let tokenURL, let scope):
            source = try oauthSource(connection, OAuthClient(tokenURL: tokenURL, scope: scope, id: key, secret: secret))
        case .oauth2AuthorizationCode(let tokenURL):
            source = try oauthSource(connection, OAuthClient(tokenURL: tokenURL, scope: nil, id: key, secret: secret), authorizationCode: true)
        case .oauth2JSONClientCredentials(let tokenURL, let audience):
            source = try oauthSource(connection, OAuthClient(tokenURL: tokenURL, scope: nil, id: key, secret: secret, jsonAudience: audience))
        }
        let webhookSecret = connection.sealedWebhookSecret.flatMap { try? secretBox.open($0) }
        return ProviderAccess(baseUrl: connection.baseUrl, webhookUrl: connection.webhookUrl,
                              config: JSONValue(parsing: connection.config) ?? .object([]), credentials: source, webhookSecret: webhookSecret)
    }

    /// The authorization-code grant's second half (the OAuth callback): exchanges `code` at `tokenURL`
    /// with the connection's client and stores the first token pair, sealed, replacing whatever the
    /// connection had (a new approval supersedes old tokens). The code is spent here, once.
    public func authorize(connection: ProviderConnection, tokenURL: String, code: String, redirectUri: String) async throws(CredentialFailure) {
        guard let tokens, let endpoint else {
            throw CredentialFailure(.configuration, "\(connection.slug) uses OAuth tokens, which this service has no token store for", retryable: false)
        }
        let key: String, secret: String
        do {
            key = try secretBox.open(connection.sealedApiKey)
            secret = try secretBox.open(connection.sealedApiSecret)
        } catch {
            throw CredentialFailure(.configuration, "the \(connection.slug) credentials cannot be decrypted with this master key", retryable: false)
        }
        let issued = try await endpoint.authorizationCode(tokenURL: tokenURL, clientId: key, clientSecret: secret, code: code, redirectUri: redirectUri)
        guard issued.refreshToken != nil else {
            throw CredentialFailure(.unexpectedResponse, "the \(connection.slug) token endpoint issued no refresh token", retryable: false)
        }
        let now = clock()
        let token: ProviderToken
        do {
            token = ProviderToken(
                tenantId: connection.tenantId, slug: connection.slug, sealedAccessToken: try secretBox.seal(issued.accessToken),
                sealedRefreshToken: try issued.refreshToken.map { try secretBox.seal($0) },
                accessExpiresAt: issued.expiresIn.map { OAuthCredentialSource.expiry(now: now, expiresIn: $0) }, version: 1, updatedAt: now)
        } catch {
            throw CredentialFailure(.configuration, "could not seal the \(connection.slug) token", retryable: false)
        }
        do {
            // Twice at most: a row that appears between the delete and the insert is a concurrent approval; ours is newer.
            for _ in 0..<2 {
                try await tokens.deleteProviderToken(tenantId: connection.tenantId, slug: connection.slug)
                if try await tokens.insertProviderToken(token) { return }
            }
            throw CredentialFailure(.storage, "could not store the \(connection.slug) tokens: another approval raced this one", retryable: true)
        } catch let failure as CredentialFailure {
            throw failure
        } catch {
            throw CredentialFailure(.storage, "could not store the \(connection.slug) tokens: \(error)", retryable: true)
        }
    }

    private func oauthSource(_ connection: ProviderConnection, _ client: OAuthClient, authorizationCode: Bool = false) throws(CredentialFailure)
        -> OAuthCredentialSource {
        guard let tokens, let endpoint else {
            throw CredentialFailure(.configuration, "\(connection.slug) uses OAuth tokens, which this service has no token store for",
                                    retryable: false)
        }
        return OAuthCredentialSource(tenantId: connection.tenantId, slug: connection.slug, client: client, tokens: tokens, endpoint: endpoint,
                                     secretBox: secretBox, clock: clock, settings: settings, authorizationCode: authorizationCode,
                                     onReauthorizationRequired: onReauthorizationRequired, metrics: metrics)
    }

    /// Forgets a connection's tokens (its client changed or it was deleted); the next call starts afresh.
    public func forgetTokens(tenantId: String, slug: String) async throws {
        try await tokens?.deleteProviderToken(tenantId: tenantId, slug: slug)
    }
}

struct OAuthClient: Sendable {
    let tokenURL: String
    let scope: String?
    let id: String
    let secret: String
    /// Set for a POS that takes client credentials as a JSON body with this `audience` (Deliverect).
    var jsonAudience: String? = nil

    /// A client-credentials grant in the form this POS takes.
    func clientCredentials(_ endpoint: OAuthTokenEndpoint) async throws(CredentialFailure) -> IssuedToken {
        if let jsonAudience {
            return try await endpoint.clientCredentialsJSON(tokenURL: tokenURL, clientId: id, clientSecret: secret, audience: jsonAudience)
        }
        return try await endpoint.clientCredentials(tokenURL: tokenURL, clientId: id, clientSecret: secret, scope: scope)
    }
}

/// One connection's OAuth token, kept in the token row.
struct OAuthCredentialSource: CredentialSource {
    let tenantId: String
    let slug: String
    let client: OAuthClient
    let tokens: any ProviderTokenStore
    let endpoint: OAuthTokenEndpoint
    let secretBox: SecretBox
    let clock: ServiceClock
    let settings: CredentialProvider.Settings
    /// The authorization-code grant: no client-credentials fallback; a spent refresh token means the
    /// merchant must approve again.
    var authorizationCode = false
    var onReauthorizationRequired: (@Sendable (_ tenantId: String, _ slug: String) async -> Void)? = nil
    var metrics: ServiceMetrics = .disabled

    /// Why an authorization-code connection has no usable token.
    private func reauthorization(_ why: String) -> CredentialFailure {
        CredentialFailure(.auth, "\(CredentialProvider.reauthorizationRequired): \(why); an admin authorizes the \(slug) "
                          + "provider connection again", retryable: false)
    }

    func credential() async throws(CredentialFailure) -> Credential {
        guard let row = try await read() else { return try await firstToken() }
        if let expiresAt = row.accessExpiresAt, expiresAt <= clock() + settings.expiryMarginMs {
            return try await refreshed(from: row)
        }
        return .accessToken(try open(row.sealedAccessToken))
    }

    func credential(replacing rejected: Credential) async throws(CredentialFailure) -> Credential? {
        guard case .accessToken(let rejectedToken) = rejected else { return nil }
        guard let row = try await read() else { return try await firstToken() }
        let stored = try open(row.sealedAccessToken)
        // Someone already replaced the token the POS refused: use theirs, spend nothing (unless theirs is stale too).
        guard stored == rejectedToken || isStale(row) else { return .accessToken(stored) }
        return try await refreshed(from: row)
    }

    private func isStale(_ row: ProviderToken) -> Bool {
        guard let expiresAt = row.accessExpiresAt else { return false }
        return expiresAt <= clock() + settings.expiryMarginMs
    }

    /// No token yet: client credentials. Two replicas may both ask; the first stored wins and both use it.
    /// A POS whose client credentials are its only grant (Deliverect) gets its first token under the lease.
    private func firstToken() async throws(CredentialFailure) -> Credential {
        if authorizationCode { throw reauthorization("the connection has no tokens yet (or they were refused)") }
        if client.jsonAudience != nil { return try await firstTokenUnderLease() }
        let issued = try await client.clientCredentials(endpoint)
        let now = clock()
        let sealed = try seal(issued, now: now, keepingRefreshToken: nil)
        let inserted = try await storing {
            try await tokens.insertProviderToken(ProviderToken(
                tenantId: tenantId, slug: slug, sealedAccessToken: sealed.sealedAccessToken, sealedRefreshToken: sealed.sealedRefreshToken,
                accessExpiresAt: sealed.accessExpiresAt, version: 1, updatedAt: now))
        }
        guard !inserted, let row = try await read() else { return .accessToken(issued.accessToken) }
        return .accessToken(try open(row.sealedAccessToken))
    }

    /// The first token, fetched by one caller across replicas: an expired placeholder row is stored
    /// (the first insert wins), and whoever then takes its refresh lease asks the token endpoint while
    /// the others wait for the row's version to move — the same path as any later renewal.
    private func firstTokenUnderLease() async throws(CredentialFailure) -> Credential {
        let now = clock()
        let placeholder: String
        do {
            placeholder = try secretBox.seal("")
        } catch {
            throw CredentialFailure(.configuration, "could not seal the \(slug) token", retryable: false)
        }
        _ = try await storing {
            try await tokens.insertProviderToken(ProviderToken(
                tenantId: tenantId, slug: slug, sealedAccessToken: placeholder, sealedRefreshToken: nil, accessExpiresAt: 0, version: 1, updatedAt: now))
        }
        guard let row = try await read() else {
            throw CredentialFailure(.storage, "the \(slug) token row disappeared while it was being created", retryable: true)
        }
        if isStale(row) { return try await refreshed(from: row) }
        return .accessToken(try open(row.sealedAccessToken))
    }

    /// The token after `row`'s: refreshed by this caller if it wins the lease, else by whoever holds it.
    private func refreshed(from row: ProviderToken) async throws(CredentialFailure) -> Credential {
        let deadline = ContinuousClock.now + .milliseconds(settings.waitMs)
        var current = row
        while true {
            let now = clock()
            let won = try await storing {
                try await tokens.acquireTokenRefreshLease(tenantId: tenantId, slug: slug, version: current.version, owner: settings.owner,
                                                          until: now + settings.leaseMs, now: now)
            }
            if won { return try await refresh(current) }
            // Another caller holds the lease (or has just stored new tokens): wait for the version to move.
            repeat {
                guard ContinuousClock.now < deadline else {
                    throw CredentialFailure(.timeout, "waited \(settings.waitMs) ms for another replica to refresh the \(slug) token",
                                            retryable: true)
                }
                try? await Task.sleep(for: .milliseconds(settings.pollMs))
                guard let next = try await read() else { return try await firstToken() }
                if next.version != current.version { return .accessToken(try open(next.sealedAccessToken)) }
                current = next
            } while current.refreshOwner != nil && (current.refreshLeaseUntil ?? 0) > clock()
            // The lease lapsed without new tokens (its holder failed or died): try to take it.
        }
    }

    /// Holding the lease on `row`: spend its refresh token once and store what comes back.
    private func refresh(_ row: ProviderToken) async throws(CredentialFailure) -> Credential {
        let issued: IssuedToken
        do throws(CredentialFailure) {
            if let sealedRefresh = row.sealedRefreshToken {
                issued = try await endpoint.refresh(tokenURL: client.tokenURL, clientId: client.id, clientSecret: client.secret,
                                                    refreshToken: try open(sealedRefresh))
            } else if authorizationCode {
                throw reauthorization("the stored token pair has no refresh token")
            } else {
                issued = try await client.clientCredentials(endpoint)
            }
        } catch {
            if authorizationCode && error.oauthError == "invalid_grant" {
                // Refused as spent or expired (a single-use refresh token cannot be spent again): the
                // pair is dead. Forget it and flag the connection; retrying cannot help.
                metrics.oauthRefresh(provider: slug, outcome: "reauthorization_required")
                try? await tokens.deleteProviderToken(tenantId: tenantId, slug: slug)
                await onReauthorizationRequired?(tenantId, slug)
                throw reauthorization("the refresh token was refused as already used or expired")
            }
            metrics.oauthRefresh(provider: slug, outcome: "failed")
            try? await tokens.releaseTokenRefreshLease(tenantId: tenantId, slug: slug, owner: settings.owner)
            throw error
        }
        metrics.oauthRefresh(provider: slug, outcome: "refreshed")
        let now = clock()
        let sealed = try seal(issued, now: now, keepingRefreshToken: row.sealedRefreshToken)
        // Not stored only if our lease lapsed mid-refresh and another caller stored newer tokens;
        // the token we were given is still good for this call.
        _ = try await storing {
            try await tokens.completeTokenRefresh(tenantId: tenantId, slug: slug, version: row.version, owner: settings.owner, tokens: sealed, at: now)
        }
        return .accessToken(issued.accessToken)
    }

    // MARK: Sealing and the store

    private func read() async throws(CredentialFailure) -> ProviderToken? {
        try await storing { try await tokens.providerToken(tenantId: tenantId, slug: slug) }
    }

    private func open(_ sealed: String) throws(CredentialFailure) -> String {
        do {
            return try secretBox.open(sealed)
        } catch {
            throw CredentialFailure(.configuration, "the stored \(slug) token cannot be decrypted with this master key", retryable: false)
        }
    }

    /// A POS that issues no new refresh token with a refresh keeps the old one valid (RFC 6749 §6).
    private func seal(_ issued: IssuedToken, now: Int64, keepingRefreshToken previous: String?) throws(CredentialFailure) -> RefreshedProviderToken {
        do {
            return RefreshedProviderToken(
                sealedAccessToken: try secretBox.seal(issued.accessToken),
                sealedRefreshToken: try issued.refreshToken.map { try secretBox.seal($0) } ?? previous,
                accessExpiresAt: issued.expiresAt.map(Self.expiry(atSeconds:)) ?? issued.expiresIn.map { Self.expiry(now: now, expiresIn: $0) })
        } catch {
            throw CredentialFailure(.configuration, "could not seal the \(slug) token", retryable: false)
        }
    }

    /// `now + expiresIn` seconds; the POS's number is checked, a huge one means "does not expire soon".
    static func expiry(now: Int64, expiresIn: Int64) -> Int64 {
        let (milliseconds, overflow) = max(0, expiresIn).multipliedReportingOverflow(by: 1000)
        let (at, overflowAgain) = now.addingReportingOverflow(milliseconds)
        return overflow || overflowAgain ? Int64.max : at
    }

    /// `expires_at` (unix seconds) in milliseconds; checked, a huge one means "does not expire soon".
    static func expiry(atSeconds seconds: Int64) -> Int64 {
        let (milliseconds, overflow) = max(0, seconds).multipliedReportingOverflow(by: 1000)
        return overflow ? Int64.max : milliseconds
    }

    private func storing<T>(_ body: () async throws -> T) async throws(CredentialFailure) -> T {
        do {
            return try await body()
        } catch {
            throw CredentialFailure(.storage, "could not read or write the \(slug) token: \(error)", retryable: true)
        }
    }
}
