import GRDB

// ProviderTokenStore (declared through StoreEngine) on SQLite; the statements are word for word as on PostgreSQL.
extension SQLiteStores {
    public func providerToken(tenantId: String, slug: String) async throws -> ProviderToken? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT \(ProviderTokenSQL.columns) FROM provider_tokens WHERE tenant_id = ? AND slug = ?",
                             arguments: [tenantId, slug]).map { try ProviderTokenSQL.token(GRDBRow($0)) }
        }
    }

    public func insertProviderToken(_ token: ProviderToken) async throws -> Bool {
        try await write { db in
            try Row.fetchOne(db, sql: """
                INSERT INTO provider_tokens (\(ProviderTokenSQL.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, slug) DO NOTHING RETURNING version
                """, arguments: [token.tenantId, token.slug, token.sealedAccessToken, token.sealedRefreshToken, token.accessExpiresAt,
                                 token.version, token.refreshOwner, token.refreshLeaseUntil, token.updatedAt]) != nil
        }
    }

    public func acquireTokenRefreshLease(tenantId: String, slug: String, version: Int64, owner: String, until: Int64, now: Int64) async throws -> Bool {
        try await write { db in
            try Row.fetchOne(db, sql: """
                UPDATE provider_tokens SET refresh_owner = ?, refresh_lease_until = ?
                WHERE tenant_id = ? AND slug = ? AND version = ? AND (refresh_owner IS NULL OR refresh_lease_until <= ?) RETURNING version
                """, arguments: [owner, until, tenantId, slug, version, now]) != nil
        }
    }

    public func completeTokenRefresh(tenantId: String, slug: String, version: Int64, owner: String, tokens: RefreshedProviderToken,
                                     at: Int64) async throws -> Int64? {
        try await write { db in
            try Int64.fetchOne(db, sql: """
                UPDATE provider_tokens SET access_token_sealed = ?, refresh_token_sealed = ?, access_expires_at = ?,
                    version = version + 1, refresh_owner = NULL, refresh_lease_until = NULL, updated_at = ?
                WHERE tenant_id = ? AND slug = ? AND version = ? AND refresh_owner = ? RETURNING version
                """, arguments: [tokens.sealedAccessToken, tokens.sealedRefreshToken, tokens.accessExpiresAt, at,
                                 tenantId, slug, version, owner])
        }
    }

    public func releaseTokenRefreshLease(tenantId: String, slug: String, owner: String) async throws {
        try await write { db in
            try db.execute(sql: """
                UPDATE provider_tokens SET refresh_owner = NULL, refresh_lease_until = NULL
                WHERE tenant_id = ? AND slug = ? AND refresh_owner = ?
                """, arguments: [tenantId, slug, owner])
        }
    }

    public func deleteProviderToken(tenantId: String, slug: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM provider_tokens WHERE tenant_id = ? AND slug = ?", arguments: [tenantId, slug])
        }
    }
}
