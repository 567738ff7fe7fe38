import Foundation
import PosDomain
import PosStorage

public struct ConsoleSessionSettings: Sendable {
    /// A session unused this long is over (`POS_CONSOLE_SESSION_IDLE`, default 30 minutes).
    public var idleTimeoutMs: Int64
    /// Seeing a visitor moves the expiry forward, written at most this often (one write per minute,
    /// not one per page view).
    public var touchEveryMs: Int64

    public init(idleTimeoutMs: Int64 = 30 * 60_000, touchEveryMs: Int64 = 60_000) {
        self.idleTimeoutMs = idleTimeoutMs
        self.touchEveryMs = touchEveryMs
    }
}

/// Who is looking at the console.
public enum ConsoleViewer: Sendable, Equatable {
    /// A tenant's key with scope `admin`: that tenant only.
    case tenantAdmin(Principal)
    /// A platform operator: every tenant; inside one when `actingIn` is set.
    case platformOperator(OperatorPrincipal, actingIn: Tenant?)

    /// The tenant whose pages are shown; nil on the operator's platform view.
    public var tenant: Tenant? {
        switch self {
        case .tenantAdmin(let principal): principal.tenant
        case .platformOperator(_, let tenant): tenant
        }
    }

    public var isOperator: Bool {
        if case .platformOperator = self { return true }
        return false
    }
}

/// Signs people in to the console with a key and keeps them signed in by a session.
///
/// The browser holds a random session id in an `HttpOnly` cookie; the store keeps its hash. Each
/// request re-checks the key behind the session (through the auth cache, so within a second of a
/// revocation every session of the key is over) and the idle expiry.
public struct ConsoleSessionService: Sendable {
    private let sessions: any ConsoleSessionStore
    private let tenants: any TenantStore
    private let auth: AuthService
    private let clock: ServiceClock
    private let settings: ConsoleSessionSettings

    public init(sessions: any ConsoleSessionStore, tenants: any TenantStore, auth: AuthService, clock: @escaping ServiceClock,
                settings: ConsoleSessionSettings = ConsoleSessionSettings()) {
        self.sessions = sessions
        self.tenants = tenants
        self.auth = auth
        self.clock = clock
        self.settings = settings
    }

    /// Opens a session for a pasted key: a tenant key with scope `admin`, or an operator key.
    /// Any other key, or none, is ``ServiceError/unauthorized``; a tenant key without `admin` is
    /// ``ServiceError/forbidden(_:field:)``.
    public func signIn(key: String, claim: TenantClaim) async throws -> (ConsoleSessionId, ConsoleViewer) {
        let trimmed = key.trimmingCharacters(in: .whitespacesAndNewlines)
        let viewer: ConsoleViewer
        let holder: ConsoleSession.Holder
        if OperatorKeyToken(rawValue: trimmed) != nil {
            let principal = try await auth.authenticateOperator(key: trimmed)
            viewer = .platformOperator(principal, actingIn: nil)
            holder = .operatorKey(principal.key.operatorKeyId)
        } else {
            let principal = try await auth.authenticate(apiKey: trimmed, claim: claim)
            guard principal.has(anyOf: [.admin]) else {
                throw ServiceError.forbidden("the console needs a key with scope admin", field: "key")
            }
            viewer = .tenantAdmin(principal)
            holder = .tenantKey(principal.key.apiKeyId)
        }
        let id = ConsoleSessionId.generate()
        let now = clock()
        try await translatingStoreErrors {
            // Sessions nobody came back to are swept here, where a write happens anyway.
            _ = try await sessions.deleteExpiredSessions(now: now)
            try await sessions.createSession(ConsoleSession(idHash: id.hash, holder: holder, actingTenantId: nil, createdAt: now,
                                                            lastSeenAt: now, expiresAt: now + settings.idleTimeoutMs))
        }
        return (id, viewer)
    }

    /// The viewer behind a session id; nil when there is no such session, it has been idle too
    /// long, or its key no longer works.
    public func resume(_ id: ConsoleSessionId, claim: TenantClaim) async throws -> ConsoleViewer? {
        let now = clock()
        guard let session = try await translatingStoreErrors({ try await sessions.session(idHash: id.hash) }) else { return nil }
        guard session.expiresAt > now else {
            try await translatingStoreErrors { try await sessions.deleteSession(idHash: session.idHash) }
            return nil
        }
        let viewer: ConsoleViewer
        switch session.holder {
        case .tenantKey(let keyId):
            guard let principal = try await auth.principal(forKeyId: keyId), claim.permits(principal.tenant) else { return nil }
            viewer = .tenantAdmin(principal)
        case .operatorKey(let keyId):
            guard let principal = try await auth.operatorPrincipal(forKeyId: keyId) else { return nil }
            let acting = try await session.actingTenantId.asyncMap { id in try await translatingStoreErrors { try await tenants.tenant(id: id) } }
            viewer = .platformOperator(principal, actingIn: acting ?? nil)
        }
        if now - session.lastSeenAt >= settings.touchEveryMs {
            try await translatingStoreErrors {
                try await sessions.touchSession(idHash: session.idHash, lastSeenAt: now, expiresAt: now + settings.idleTimeoutMs)
            }
        }
        return viewer
    }

    public func signOut(_ id: ConsoleSessionId) async throws {
        try await translatingStoreErrors { try await sessions.deleteSession(idHash: id.hash) }
    }

    /// An operator steps into a tenant (by id or subdomain), or back out to the platform view with nil.
    public func act(in tenantReference: String?, session id: ConsoleSessionId, viewer: ConsoleViewer) async throws -> Tenant? {
        guard viewer.isOperator else { throw ServiceError.forbidden("only platform operators switch tenants") }
        var tenant: Tenant?
        if let reference = tenantReference?.lowercased() {
            let found = try await translatingStoreErrors { () -> Tenant? in
                if let byId = try await tenants.tenant(id: reference) { return byId }
                return try await tenants.tenant(subdomain: reference)
            }
            guard let found else { throw ServiceError.notFound("no tenant \"\(reference)\"") }
            tenant = found
        }
        try await translatingStoreErrors { try await sessions.setActingTenant(idHash: id.hash, tenantId: tenant?.id) }
        return tenant
    }
}

extension Optional {
    fileprivate func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
