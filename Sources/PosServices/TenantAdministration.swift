import Foundation
import PosDomain
import PosStorage

/// Operator actions behind the `tenant` and `key` commands.
public struct TenantAdministration: Sendable {
    private let tenants: any TenantStore
    private let keys: any APIKeyStore
    private let clock: ServiceClock

    public init(tenants: any TenantStore, keys: any APIKeyStore, clock: @escaping ServiceClock) {
        self.tenants = tenants
        self.keys = keys
        self.clock = clock
    }

    public func createTenant(subdomain: String, name: String) async throws -> Tenant {
        let subdomain = subdomain.lowercased()
        guard Tenant.isValidSubdomain(subdomain) else {
            throw ServiceError.invalid(field: "subdomain", message: "subdomain must be a DNS label: lowercase letters, digits and inner hyphens, at most 63 characters")
        }
        let trimmedName = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmedName.isEmpty else { throw ServiceError.invalid(field: "name", message: "name must not be empty") }
        let tenant = Tenant(id: UUID().uuidString.lowercased(), subdomain: subdomain, name: trimmedName)
        try await translatingStoreErrors { try await tenants.createTenant(tenant, createdAt: clock()) }
        return tenant
    }

    public func tenants() async throws -> [Tenant] { try await tenants.tenants() }

    /// A tenant by id or subdomain.
    public func tenant(named reference: String) async throws -> Tenant {
        if let tenant = try await tenants.tenant(id: reference.lowercased()) { return tenant }
        if let tenant = try await tenants.tenant(subdomain: reference.lowercased()) { return tenant }
        throw ServiceError.notFound("no tenant with id or subdomain \"\(reference)\"")
    }

    public typealias IssuedKey = IssuedAPIKey

    /// Issues a tenant key by the same rules as the API (``APIKeyService``), any scope: the CLI is
    /// the platform's operator. Without a name it is called "cli".
    public func createKey(tenant reference: String, scopes: [APIScope], expiresInDays: Int?, name: String? = nil) async throws -> IssuedKey {
        let name = try APIKeyService.validName(name ?? "cli")
        let scopes = try APIKeyService.validScopes(scopes)
        let lifetimeMs = try APIKeyService.lifetimeMs(expiresInDays: expiresInDays)
        let tenant = try await tenant(named: reference)
        return try await APIKeyService(keys: keys, clock: clock).issue(tenantId: tenant.id, name: name, scopes: scopes, lifetimeMs: lifetimeMs)
    }

    public func keys(tenant reference: String) async throws -> [APIKeyRecord] {
        try await keys.keys(tenantId: try await tenant(named: reference).id)
    }

    public func revokeKey(id: Int64) async throws -> Bool {
        try await keys.revokeKey(id: id, at: clock())
    }

    // MARK: Operator keys

    public struct IssuedOperatorKey: Sendable {
        public let record: OperatorKeyRecord
        /// The full `posop_` key. Shown once, never stored.
        public let key: String
    }

    /// Issues an operator key (`posop_…`, no tenant): name and expiry by the tenant keys' rules.
    /// Without a name it is called "operator".
    public func createOperatorKey(name: String? = nil, expiresInDays: Int?) async throws -> IssuedOperatorKey {
        let name = try APIKeyService.validName(name ?? "operator")
        let lifetimeMs = try APIKeyService.lifetimeMs(expiresInDays: expiresInDays)
        let secret = OperatorKeyToken.generateSecret()
        let now = clock()
        let record = try await translatingStoreErrors {
            try await keys.createOperatorKey(NewOperatorKey(name: name, secretHash: OperatorKeyToken.hash(secret: secret), secretStart: secret,
                                                            createdAt: now, expiresAt: lifetimeMs.map { now + $0 }))
        }
        return IssuedOperatorKey(record: record, key: OperatorKeyToken(id: record.operatorKeyId, secret: secret).rawValue)
    }

    /// Every operator key, revoked and expired ones too (never their secrets), oldest first.
    public func operatorKeys() async throws -> [OperatorKeyRecord] {
        try await translatingStoreErrors { try await keys.operatorKeys() }
    }

    /// Whether a key that was not yet revoked is now revoked.
    public func revokeOperatorKey(id: Int64) async throws -> Bool {
        try await translatingStoreErrors { try await keys.revokeOperatorKey(id: id, at: clock()) }
    }
}
