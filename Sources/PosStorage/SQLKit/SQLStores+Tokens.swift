import SQLKit

// ProviderTokenStore (declared through StoreEngine) through SQLKit (PostgreSQL); the statements are word for word as on SQLite.
extension SQLStores {
    public func providerToken(tenantId: String, slug: String) async throws -> ProviderToken? {
        try await engine.withReader { db in
            try await db.raw("""
                SELECT \(unsafeRaw: ProviderTokenSQL.columns) FROM provider_tokens WHERE tenant_id = \(bind: tenantId) AND slug = \(bind: slug)
                """).first().map { try ProviderTokenSQL.token(SQLKitRow($0)) }
        }
    }

    public func insertProviderToken(_ token: ProviderToken) async throws -> Bool {
        try await engine.withTransaction { db in
            try await db.raw("""
                INSERT INTO provider_tokens (\(unsafeRaw: ProviderTokenSQL.columns))
                VALUES (\(bind: token.tenantId), \(bind: token.slug), \(bind: token.sealedAccessToken), \(bind: token.sealedRefreshToken),
                        \(bind: token.accessExpiresAt), \(bind: token.version), \(bind: token.refreshOwner), \(bind: token.refreshLeaseUntil),
                        \(bind: token.updatedAt))
                ON CONFLICT (tenant_id, slug) DO NOTHING RETURNING version
                """).first() != nil
        }
    }

    public func acquireTokenRefreshLease(tenantId: String, slug: String, version: Int64, owner: String, until: Int64, now: Int64) async throws -> Bool {
        try await engine.withTransaction { db in
            try await db.raw("""
                UPDATE provider_tokens SET refresh_owner = \(bind: owner), refresh_lease_until = \(bind: until)
                WHERE tenant_id = \(bind: tenantId) AND slug = \(bind: slug) AND version = \(bind: version)
                  AND (refresh_owner IS NULL OR refresh_lease_until <= \(bind: now)) RETURNING version
                """).first() != nil
        }
    }

    public func completeTokenRefresh(tenantId: String, slug: String, version: Int64, owner: String, tokens: RefreshedProviderToken,
                                     at: Int64) async throws -> Int64? {
        try await engine.withTransaction { db in
            try await db.raw("""
                UPDATE provider_tokens SET access_token_sealed = \(bind: tokens.sealedAccessToken),
                    refresh_token_sealed = \(bind: tokens.sealedRefreshToken), access_expires_at = \(bind: tokens.accessExpiresAt),
                    version = version + 1, refresh_owner = NULL, refresh_lease_until = NULL, updated_at = \(bind: at)
                WHERE tenant_id = \(bind: tenantId) AND slug = \(bind: slug) AND version = \(bind: version) AND refresh_owner = \(bind: owner)
                RETURNING version
                """).first().map { try $0.decode(column: "version", as: Int64.self) }
        }
    }

    public func releaseTokenRefreshLease(tenantId: String, slug: String, owner: String) async throws {
        try await engine.withTransaction { db in
            try await db.raw("""
                UPDATE provider_tokens SET refresh_owner = NULL, refresh_lease_until = NULL
                WHERE tenant_id = \(bind: tenantId) AND slug = \(bind: slug) AND refresh_owner = \(bind: owner)
                """).run()
        }
    }

    public func deleteProviderToken(tenantId: String, slug: String) async throws {
        try await engine.withTransaction { db in
            try await db.raw("DELETE FROM provider_tokens WHERE tenant_id = \(bind: tenantId) AND slug = \(bind: slug)").run()
        }
    }
}
