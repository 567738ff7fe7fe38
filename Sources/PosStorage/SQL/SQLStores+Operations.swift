import PosDomain

// MARK: ConsoleSessionStore

extension SQLStores {
    static let consoleSessionColumns = "id_hash, holder_kind, holder_id, acting_tenant_id, created_at, last_seen_at, expires_at"

    public func createSession(_ session: ConsoleSession) async throws {
        let (kind, id) = Self.holderColumns(session.holder)
        _ = try await write { db in
            try db.execute("INSERT INTO console_sessions (\(Self.consoleSessionColumns)) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [session.idHash, kind, id, session.actingTenantId, session.createdAt, session.lastSeenAt, session.expiresAt])
        }
    }

    public func session(idHash: String) async throws -> ConsoleSession? {
        try await read { db in
            try db.queryOne("SELECT \(Self.consoleSessionColumns) FROM console_sessions WHERE id_hash = ?", [idHash]).map(Self.consoleSession)
        }
    }

    public func touchSession(idHash: String, lastSeenAt: Int64, expiresAt: Int64) async throws {
        _ = try await write { db in
            try db.execute("UPDATE console_sessions SET last_seen_at = ?, expires_at = ? WHERE id_hash = ?", [lastSeenAt, expiresAt, idHash])
        }
    }

    public func setActingTenant(idHash: String, tenantId: String?) async throws {
        _ = try await write { db in
            try db.execute("UPDATE console_sessions SET acting_tenant_id = ? WHERE id_hash = ?", [tenantId, idHash])
        }
    }

    public func deleteSession(idHash: String) async throws {
        _ = try await write { db in try db.execute("DELETE FROM console_sessions WHERE id_hash = ?", [idHash]) }
    }

    public func deleteExpiredSessions(now: Int64) async throws -> Int {
        try await write { db in try db.execute("DELETE FROM console_sessions WHERE expires_at <= ?", [now]) }
    }

    private static func holderColumns(_ holder: ConsoleSession.Holder) -> (String, Int64) {
        switch holder {
        case .tenantKey(let id): ("tenant_key", id)
        case .operatorKey(let id): ("operator_key", id)
        }
    }

    static func consoleSession(_ row: SQLRow) throws -> ConsoleSession {
        let id = try row.int64("holder_id")
        let holder: ConsoleSession.Holder = try row.string("holder_kind") == "operator_key" ? .operatorKey(id) : .tenantKey(id)
        return ConsoleSession(idHash: try row.string("id_hash"), holder: holder, actingTenantId: try row.optionalString("acting_tenant_id"),
                              createdAt: try row.int64("created_at"), lastSeenAt: try row.int64("last_seen_at"),
                              expiresAt: try row.int64("expires_at"))
    }
}

// MARK: OperationsStore

extension SQLStores {
    public func searchOrders(tenantId: String, _ search: OrderSearch) async throws -> [OrderRecord] {
        try await read { db in
            var sql: String
            var arguments: [any SQLBindable]
            if let text = search.text {
                // Three exact probes, each on its own index and each within the tenant, drive the
                // query; the other filters then apply to the few rows found.
                sql = """
                    SELECT \(SharedSQL.orderColumns) FROM orders o
                    WHERE o.id IN (SELECT id FROM orders WHERE tenant_id = ? AND order_uuid = ?
                                   UNION SELECT id FROM orders WHERE tenant_id = ? AND order_ref_no = ?
                                   UNION SELECT id FROM orders WHERE tenant_id = ? AND id = ?)
                    """
                arguments = [tenantId, text, tenantId, text, tenantId, text]
            } else {
                sql = "SELECT \(SharedSQL.orderColumns) FROM orders o WHERE o.tenant_id = ?"
                arguments = [tenantId]
            }
            if let outletId = search.outletId { sql += " AND o.outlet_id = ?"; arguments.append(outletId) }
            if let status = search.status { sql += " AND o.status = ?"; arguments.append(status.rawValue) }
            if let from = search.from { sql += " AND o.received_at >= ?"; arguments.append(from) }
            if let until = search.until { sql += " AND o.received_at < ?"; arguments.append(until) }
            if let after = search.after {
                sql += " AND (o.received_at < ? OR (o.received_at = ? AND o.id < ?))"
                arguments += [after.receivedAt, after.receivedAt, after.id]
            }
            sql += " ORDER BY o.received_at DESC, o.id DESC LIMIT ?"
            arguments.append(search.limit)
            return try db.query(sql, arguments).map(RecordMapping.order)
        }
    }

    public func orderActivity(tenantId: String, since: Int64, bucketMs: Int64) async throws -> [ActivityBucket] {
        try await read { db in
            // The day's orders through the (tenant, received_at) index; no delivery is read.
            let rows = try db.query("""
                SELECT (received_at - ?) / ? AS bucket, COUNT(*) AS orders,
                       CAST(SUM(CASE WHEN dispatch_status = 'dispatched' THEN 1 ELSE 0 END) AS BIGINT) AS delivered,
                       CAST(SUM(CASE WHEN dispatched_at IS NOT NULL THEN dispatched_at - received_at ELSE 0 END) AS BIGINT) AS waited,
                       COUNT(dispatched_at) AS timed
                FROM orders WHERE tenant_id = ? AND received_at >= ?
                GROUP BY bucket ORDER BY bucket
                """, [since, bucketMs, tenantId, since])
            return try rows.map { row in
                let timed = try row.int64("timed")
                return ActivityBucket(start: since + (try row.int64("bucket")) * bucketMs, orders: try row.int("orders"),
                                      delivered: try row.int("delivered"),
                                      meanTimeToTargetMs: timed > 0 ? (try row.int64("waited")) / timed : nil)
            }
        }
    }

    public func outboxSnapshot(tenantId: String) async throws -> OutboxSnapshot {
        try await outboxSnapshot(of: tenantId)
    }

    public func outboxSnapshot() async throws -> OutboxSnapshot {
        try await outboxSnapshot(of: nil)
    }

    /// One tenant's outbox, or every tenant's (nil): the same two index-bounded counts.
    private func outboxSnapshot(of tenantId: String?) async throws -> OutboxSnapshot {
        try await read { db in
            let tenantFilter = tenantId == nil ? "" : " AND tenant_id = ?"
            let arguments: [any SQLBindable] = tenantId.map { [$0] } ?? []
            // Waiting deliveries through the due index (its size is the backlog of every tenant, small
            // when the service keeps up); dead ones through their partial index.
            let waiting = try db.queryOne("""
                SELECT COUNT(*) AS pending, MIN(next_attempt_at) AS oldest_due FROM deliveries \(db.dialect.indexedBy("deliveries_due"))
                WHERE status IN ('pending', 'delivering', 'failed')\(tenantFilter)
                """, arguments)
            let dead = try db.queryOne("""
                SELECT COUNT(*) AS dead FROM deliveries \(db.dialect.indexedBy("deliveries_dead")) WHERE status = 'dead'\(tenantFilter)
                """, arguments)
            return OutboxSnapshot(pending: try waiting?.int("pending") ?? 0, oldestDueAt: try waiting?.optionalInt64("oldest_due"),
                                  dead: try dead?.int("dead") ?? 0)
        }
    }

    public func deadLetterGroups(tenantId: String, limit: Int, sampleSize: Int) async throws -> [DeadLetterGroup] {
        try await read { db in
            let groups = try db.query("""
                SELECT webhook_id, connector, COALESCE(last_error, '') AS reason, COUNT(*) AS dead,
                       MIN(updated_at) AS first_at, MAX(updated_at) AS last_at
                FROM deliveries WHERE status = 'dead' AND tenant_id = ?
                GROUP BY webhook_id, connector, COALESCE(last_error, '')
                ORDER BY last_at DESC LIMIT ?
                """, [tenantId, limit])
            return try groups.map { row in
                let webhookId = try row.optionalInt64("webhook_id")
                let connector = try row.string("connector")
                let reason = try row.string("reason")
                var sql = "SELECT \(SharedSQL.deliveryColumns) FROM deliveries d WHERE d.status = 'dead' AND d.tenant_id = ? AND d.connector = ?"
                var arguments: [any SQLBindable] = [tenantId, connector]
                if let webhookId { sql += " AND d.webhook_id = ?"; arguments.append(webhookId) } else { sql += " AND d.webhook_id IS NULL" }
                sql += " AND COALESCE(d.last_error, '') = ? ORDER BY d.updated_at DESC, d.id DESC LIMIT ?"
                arguments += [reason, sampleSize]
                return DeadLetterGroup(webhookId: webhookId, connector: connector, reason: reason, count: try row.int("dead"),
                                       firstAt: try row.int64("first_at"), lastAt: try row.int64("last_at"),
                                       sample: try db.query(sql, arguments).map(RecordMapping.delivery))
            }
        }
    }
}
