import PosDomain

// MARK: LoyaltyStore
// A refCode's row decides between replicas: the insert (or the conditional update of a lease that
// ran out) is what claims it, so two requests with one refCode never both go upstream at once.

extension SQLStores {
    static let loyaltyConfigColumns = "tenant_id, base_url, api_key_sealed, timeout_ms, created_at, updated_at"
    static let loyaltyCallColumns = "id, tenant_id, operation, customer_uuid, points, ref_code, upstream_status, latency_ms, status, outcome, at"

    public func upsertLoyaltyConfig(_ config: LoyaltyConfig) async throws -> LoyaltyConfig {
        try await write { db in
            guard let row = try db.queryOne("""
                INSERT INTO loyalty_configs (\(Self.loyaltyConfigColumns)) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id) DO UPDATE SET base_url = excluded.base_url, api_key_sealed = excluded.api_key_sealed,
                    timeout_ms = excluded.timeout_ms, updated_at = excluded.updated_at
                RETURNING \(Self.loyaltyConfigColumns)
                """, [config.tenantId, config.baseUrl, config.sealedApiKey, config.timeoutMs, config.createdAt, config.updatedAt])
            else { throw StoreError.unavailable("loyalty configuration vanished") }
            return try Self.loyaltyConfig(row)
        }
    }

    public func loyaltyConfig(tenantId: String) async throws -> LoyaltyConfig? {
        try await read { db in
            try db.queryOne("SELECT \(Self.loyaltyConfigColumns) FROM loyalty_configs WHERE tenant_id = ?", [tenantId]).map(Self.loyaltyConfig)
        }
    }

    public func deleteLoyaltyConfig(tenantId: String) async throws -> Bool {
        try await write { db in try db.execute("DELETE FROM loyalty_configs WHERE tenant_id = ?", [tenantId]) == 1 }
    }

    public func claimLoyaltyMove(_ claim: LoyaltyMoveClaim) async throws -> LoyaltyClaimResult {
        try await write { db -> LoyaltyClaimResult in
            let key: [any SQLBindable] = [claim.tenantId, claim.operation.rawValue, claim.move.refCode]
            if try db.execute("""
                INSERT INTO loyalty_moves (tenant_id, operation, ref_code, customer_uuid, points, state, attempts, lease_owner, lease_until,
                                           created_at, updated_at, expires_at)
                VALUES (?, ?, ?, ?, ?, 'open', 1, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, operation, ref_code) DO NOTHING
                """, key + [claim.move.customerUuid, claim.move.points, claim.owner, claim.leaseUntil, claim.now, claim.now, claim.expiresAt]) == 1 {
                return .claimed(attempt: 1)
            }
            guard let row = try db.queryOne("""
                SELECT customer_uuid, points, state, response_status, response_body, lease_owner, lease_until, expires_at
                FROM loyalty_moves WHERE tenant_id = ? AND operation = ? AND ref_code = ?
                """, key)
            else { throw StoreError.unavailable("loyalty move vanished") }
            if try row.int64("expires_at") <= claim.now {
                // Kept past its time: the refCode starts afresh.
                let replaced = try db.execute("""
                    UPDATE loyalty_moves SET customer_uuid = ?, points = ?, state = 'open', response_status = NULL, response_body = NULL,
                        attempts = 1, lease_owner = ?, lease_until = ?, created_at = ?, updated_at = ?, expires_at = ?
                    WHERE tenant_id = ? AND operation = ? AND ref_code = ? AND expires_at <= ?
                    """, [claim.move.customerUuid, claim.move.points, claim.owner, claim.leaseUntil, claim.now, claim.now, claim.expiresAt]
                        + key + [claim.now])
                return replaced == 1 ? .claimed(attempt: 1) : .inFlight
            }
            let customerUuid = try row.string("customer_uuid")
            let points = try row.int64("points")
            guard customerUuid == claim.move.customerUuid, points == claim.move.points else {
                return .mismatch(customerUuid: customerUuid, points: points)
            }
            if try row.string("state") == "done" {
                return .completed(LoyaltyStoredOutcome(status: try row.int("response_status"), body: try row.string("response_body")))
            }
            // Open: answered by no one yet (an earlier call timed out or failed). Take it over unless a lease still holds.
            guard let attempts = try db.queryOne("""
                UPDATE loyalty_moves SET lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
                WHERE tenant_id = ? AND operation = ? AND ref_code = ? AND state = 'open' AND (lease_owner IS NULL OR lease_until <= ?)
                RETURNING attempts
                """, [claim.owner, claim.leaseUntil, claim.now] + key + [claim.now])?.int("attempts")
            else { return .inFlight }
            return .claimed(attempt: attempts)
        }
    }

    public func settleLoyaltyMove(tenantId: String, operation: LoyaltyOperation, refCode: String, owner: String,
                                  outcome: LoyaltyStoredOutcome?, call: LoyaltyCall) async throws {
        try await write { db in
            let key: [any SQLBindable] = [tenantId, operation.rawValue, refCode, owner]
            if let outcome {
                try db.execute("""
                    UPDATE loyalty_moves SET state = 'done', response_status = ?, response_body = ?, lease_owner = NULL, lease_until = NULL,
                        updated_at = ?
                    WHERE tenant_id = ? AND operation = ? AND ref_code = ? AND lease_owner = ?
                    """, [outcome.status, outcome.body, call.at] + key)
            } else {
                try db.execute("""
                    UPDATE loyalty_moves SET lease_owner = NULL, lease_until = NULL, updated_at = ?
                    WHERE tenant_id = ? AND operation = ? AND ref_code = ? AND lease_owner = ?
                    """, [call.at] + key)
            }
            try Self.insert(call, db)
        }
    }

    public func recordLoyaltyCall(_ call: LoyaltyCall) async throws {
        try await write { db in try Self.insert(call, db) }
    }

    public func loyaltyCalls(tenantId: String, filter: LoyaltyCallFilter) async throws -> [LoyaltyCall] {
        try await read { db in
            var sql = "SELECT \(Self.loyaltyCallColumns) FROM loyalty_calls WHERE tenant_id = ?"
            var arguments: [any SQLBindable] = [tenantId]
            if let customerUuid = filter.customerUuid { sql += " AND customer_uuid = ?"; arguments.append(customerUuid) }
            if let since = filter.since { sql += " AND at >= ?"; arguments.append(since) }
            sql += " ORDER BY at DESC, id DESC LIMIT ?"
            arguments.append(filter.limit)
            return try db.query(sql, arguments).map(Self.loyaltyCall)
        }
    }

    private static func insert(_ call: LoyaltyCall, _ db: any SQLSession) throws {
        try db.execute("""
            INSERT INTO loyalty_calls (tenant_id, operation, customer_uuid, points, ref_code, upstream_status, latency_ms, status, outcome, at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [call.tenantId, call.operation.rawValue, call.customerUuid, call.points, call.refCode, call.upstreamStatus, call.latencyMs,
                  call.status, call.outcome, call.at])
    }

    private static func loyaltyConfig(_ row: SQLRow) throws -> LoyaltyConfig {
        LoyaltyConfig(tenantId: try row.string("tenant_id"), baseUrl: try row.optionalString("base_url"),
                      sealedApiKey: try row.string("api_key_sealed"), timeoutMs: try row.optionalInt64("timeout_ms"),
                      createdAt: try row.int64("created_at"), updatedAt: try row.int64("updated_at"))
    }

    private static func loyaltyCall(_ row: SQLRow) throws -> LoyaltyCall {
        let name = try row.string("operation")
        guard let operation = LoyaltyOperation(rawValue: name) else { throw SQLRowError.wrongType("operation", "loyalty operation") }
        return LoyaltyCall(
            id: try row.int64("id"), tenantId: try row.string("tenant_id"), operation: operation,
            customerUuid: try row.optionalString("customer_uuid"), points: try row.optionalInt64("points"),
            refCode: try row.optionalString("ref_code"), upstreamStatus: try row.optionalInt("upstream_status"),
            latencyMs: try row.int64("latency_ms"), status: try row.int("status"), outcome: try row.string("outcome"), at: try row.int64("at"))
    }
}
