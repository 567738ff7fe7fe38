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

    public struct IssuedKey: Sendable {
        public let record: APIKeyRecord
        /// The full key. Shown once, never stored.
        public let key: String
    }

    public func createKey(tenant reference: String, scopes: [APIScope], expiresInDays: Int?) async throws -> IssuedKey {
        guard !scopes.isEmpty else { throw ServiceError.invalid(field: "scope", message: "at least one --scope is required") }
        if let days = expiresInDays, days <= 0 {
            throw ServiceError.invalid(field: "expiresInDays", message: "--expires-in-days must be positive")
        }
        let tenant = try await tenant(named: reference)
        let secret = APIKeyToken.generateSecret()
        let now = clock()
        let record = try await keys.createKey(NewAPIKey(
            tenantId: tenant.id,
            secretHash: APIKeyToken.hash(secret: secret),
            scopes: Array(Set(scopes)).sorted { $0.rawValue < $1.rawValue },
            createdAt: now,
            expiresAt: expiresInDays.map { now + Int64($0) * 86_400_000 }
        ))
        return IssuedKey(record: record, key: APIKeyToken(apiKeyId: record.apiKeyId, secret: secret).rawValue)
    }

    public func keys(tenant reference: String) async throws -> [APIKeyRecord] {
        try await keys.keys(tenantId: try await tenant(named: reference).id)
    }

    public func revokeKey(id: Int64) async throws -> Bool {
        try await keys.revokeKey(id: id, at: clock())
    }
}
