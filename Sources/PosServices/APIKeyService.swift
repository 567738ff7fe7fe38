import Foundation
import PosDomain
import PosStorage

/// What a caller asks for when it issues a key: the fields as sent, checked by ``APIKeyService``.
public struct CreateAPIKey: Sendable, Equatable {
    /// Trimmed; 1…100 characters.
    public var name: String
    /// Scope names (`internal`, `partner`, `admin`), at least one, each held by the issuing key.
    public var scopes: [String]
    /// 1…3650; nil: the key never expires.
    public var expiresInDays: Int?

    public init(name: String, scopes: [String], expiresInDays: Int? = nil) {
        self.name = name
        self.scopes = scopes
        self.expiresInDays = expiresInDays
    }
}

/// A key just issued. `key` is the full key: shown once, never stored.
public struct IssuedAPIKey: Sendable {
    public let record: APIKeyRecord
    public let key: String
}

/// A rotation's outcome: the new key (shown once) and the old key with its new expiry.
public struct RotatedAPIKey: Sendable {
    public let issued: IssuedAPIKey
    public let previous: APIKeyRecord
}

/// A tenant's keys, managed by one of its `admin` keys: the rules of `/api/v1/api-keys` and of the
/// console, and the one place a tenant key is made (the CLI's `key create` issues through it too).
///
/// - A key never grants a scope it does not hold itself (400 naming `scopes[i]`), nor rotates a
///   key holding one (403).
/// - A key cannot revoke itself, nor rotate itself without overlap (409): a client never locks
///   itself out.
/// - Another tenant's key id is a 404, as a missing one.
/// - Revoking a revoked key changes nothing and answers it as it is (idempotent).
public struct APIKeyService: Sendable {
    public static let maxNameLength = 100
    public static let maxExpiresInDays = 3650
    public static let defaultOverlapHours = 24
    public static let maxOverlapHours = 168

    private let keys: any APIKeyStore
    private let clock: ServiceClock
    /// Told of revocations and rotations so they show at once on this process.
    private let auth: AuthService?

    public init(keys: any APIKeyStore, clock: @escaping ServiceClock, auth: AuthService? = nil) {
        self.keys = keys
        self.clock = clock
        self.auth = auth
    }

    /// Issues a key for the principal's tenant.
    public func create(_ command: CreateAPIKey, by principal: Principal) async throws -> IssuedAPIKey {
        try Self.requireAdmin(principal)
        let name = try Self.validName(command.name)
        let scopes = try Self.grantableScopes(command.scopes, by: principal)
        let lifetimeMs = try Self.lifetimeMs(expiresInDays: command.expiresInDays)
        return try await issue(tenantId: principal.tenant.id, name: name, scopes: scopes, lifetimeMs: lifetimeMs)
    }

    /// The principal's tenant's keys, revoked and expired ones too, oldest first. Records carry
    /// the secret's hash: callers show ``APIKeyRecord/prefix``, never it.
    public func list(by principal: Principal) async throws -> [APIKeyRecord] {
        try Self.requireAdmin(principal)
        return try await translatingStoreErrors { try await keys.keys(tenantId: principal.tenant.id) }
    }

    /// One of the tenant's keys; 404 for another tenant's.
    public func key(id: Int64, by principal: Principal) async throws -> APIKeyRecord {
        try Self.requireAdmin(principal)
        return try await existingKey(id: id, tenantId: principal.tenant.id)
    }

    /// A new key with the same name and scopes (and lifetime, when the old one had one); the old
    /// key keeps working for `overlapHours` (default 24, 0…168) or until its own earlier expiry.
    public func rotate(id: Int64, overlapHours: Int? = nil, by principal: Principal) async throws -> RotatedAPIKey {
        try Self.requireAdmin(principal)
        let overlapHours = overlapHours ?? Self.defaultOverlapHours
        guard (0...Self.maxOverlapHours).contains(overlapHours) else {
            throw ServiceError.invalid(field: "overlapHours", message: "overlapHours must be an integer from 0 to \(Self.maxOverlapHours)")
        }
        let old = try await existingKey(id: id, tenantId: principal.tenant.id)
        let now = clock()
        guard old.isUsable(at: now) else {
            throw ServiceError.conflict("API key \(id) is \(old.revokedAt != nil ? "revoked" : "expired"); only a usable key can be rotated")
        }
        if id == principal.key.apiKeyId, overlapHours == 0 {
            throw ServiceError.conflict("a key cannot rotate itself without overlap",
                                        details: "it would stop working at once; send overlapHours of at least 1, or rotate it with another admin key")
        }
        if let missing = old.scopes.first(where: { !principal.key.scopes.contains($0) }) {
            throw ServiceError.forbidden("this API key cannot rotate a key with scope \(missing.rawValue), which it does not hold")
        }
        let secret = APIKeyToken.generateSecret()
        let replacement = NewAPIKey(
            tenantId: old.tenantId, secretHash: APIKeyToken.hash(secret: secret), scopes: old.scopes, createdAt: now,
            expiresAt: old.expiresAt.map { now + max(0, $0 - old.createdAt) }, name: old.name, secretStart: secret)
        guard let rotation = try await translatingStoreErrors({
            try await keys.rotateKey(id: id, tenantId: old.tenantId, previousExpiresAt: now + Int64(overlapHours) * 3_600_000,
                                     replacement: replacement, at: now)
        }) else {
            throw ServiceError.conflict("API key \(id) was revoked or expired meanwhile; only a usable key can be rotated")
        }
        auth?.forget(keyId: id)
        let issued = IssuedAPIKey(record: rotation.replacement,
                                  key: APIKeyToken(apiKeyId: rotation.replacement.apiKeyId, secret: secret).rawValue)
        return RotatedAPIKey(issued: issued, previous: rotation.previous)
    }

    /// Revokes one of the tenant's keys (every replica refuses it within the auth cache TTL);
    /// a key already revoked is answered as it is.
    public func revoke(id: Int64, by principal: Principal) async throws -> APIKeyRecord {
        try Self.requireAdmin(principal)
        let key = try await existingKey(id: id, tenantId: principal.tenant.id)
        if id == principal.key.apiKeyId {
            throw ServiceError.conflict("a key cannot revoke itself", details: "revoke it with another admin key")
        }
        if key.revokedAt != nil { return key }
        let now = clock()
        _ = try await translatingStoreErrors { try await keys.revokeKey(id: id, at: now) }
        auth?.forget(keyId: id)
        return try await existingKey(id: id, tenantId: principal.tenant.id)
    }
}

extension APIKeyService {
    /// Makes a key of rules already checked: the one insert every issuer goes through.
    func issue(tenantId: String, name: String, scopes: [APIScope], lifetimeMs: Int64?) async throws -> IssuedAPIKey {
        let secret = APIKeyToken.generateSecret()
        let now = clock()
        let record = try await translatingStoreErrors {
            try await keys.createKey(NewAPIKey(tenantId: tenantId, secretHash: APIKeyToken.hash(secret: secret), scopes: scopes, createdAt: now,
                                               expiresAt: lifetimeMs.map { now + $0 }, name: name, secretStart: secret))
        }
        return IssuedAPIKey(record: record, key: APIKeyToken(apiKeyId: record.apiKeyId, secret: secret).rawValue)
    }

    private func existingKey(id: Int64, tenantId: String) async throws -> APIKeyRecord {
        guard let key = try await translatingStoreErrors({ try await keys.key(id: id, tenantId: tenantId) }) else {
            throw ServiceError.notFound("no API key with id \(id)")
        }
        return key
    }

    static func requireAdmin(_ principal: Principal) throws {
        guard principal.has(anyOf: [.admin]) else { throw ServiceError.forbidden("this API key lacks the required scope") }
    }

    /// A key's name: trimmed, 1…100 characters.
    static func validName(_ name: String) throws -> String {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw ServiceError.invalid(field: "name", message: "name is required and must not be blank") }
        guard trimmed.count <= maxNameLength else {
            throw ServiceError.invalid(field: "name", message: "name must be at most \(maxNameLength) characters")
        }
        return trimmed
    }

    /// nil for a key that never expires.
    static func lifetimeMs(expiresInDays: Int?) throws -> Int64? {
        guard let days = expiresInDays else { return nil }
        guard (1...maxExpiresInDays).contains(days) else {
            throw ServiceError.invalid(field: "expiresInDays", message: "expiresInDays must be an integer from 1 to \(maxExpiresInDays)")
        }
        return Int64(days) * 86_400_000
    }

    /// At least one scope; repeats dropped, in a stable order.
    static func validScopes(_ scopes: [APIScope]) throws -> [APIScope] {
        guard !scopes.isEmpty else { throw ServiceError.invalid(field: "scopes", message: "at least one scope is required") }
        return Array(Set(scopes)).sorted { $0.rawValue < $1.rawValue }
    }

    /// Scope names as sent, each known and held by `principal`; the first that is not is named by
    /// its path (`scopes[1]`).
    static func grantableScopes(_ names: [String], by principal: Principal) throws -> [APIScope] {
        var scopes: [APIScope] = []
        for (index, name) in names.enumerated() {
            guard let scope = APIScope(rawValue: name) else {
                throw ServiceError.invalid(field: "scopes[\(index)]", message: "scopes[\(index)] must be one of: "
                                           + APIScope.allCases.map(\.rawValue).joined(separator: ", "))
            }
            guard principal.key.scopes.contains(scope) else {
                throw ServiceError.invalid(field: "scopes[\(index)]", message: "scopes[\(index)] is \(name), a scope this API key does not hold",
                                           details: "a key can only grant scopes it holds itself")
            }
            scopes.append(scope)
        }
        return try validScopes(scopes)
    }
}
