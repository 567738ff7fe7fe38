import Foundation
import GRDB
import PosDomain

/// Durability of an SQLite commit (`POS_SQLITE_SYNCHRONOUS`). `normal` survives a crash of the
/// process, not of the machine; `full` also survives power loss at the cost of an fsync per commit.
public enum SQLiteSynchronous: String, Sendable {
    case normal = "NORMAL"
    case full = "FULL"
}

/// Every store on embedded SQLite through GRDB: WAL mode, one serialised writer and a pool of
/// concurrent readers. Each store call is one hop to GRDB's queue running cached statements
/// synchronously — docs/adr/0001 has the numbers against the SQLKit driver.
public final class SQLiteStores: StoreEngine {
    public let path: String
    private let pool: DatabasePool

    public init(path: String, synchronous: SQLiteSynchronous = .normal, readerCount: Int = 4) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.label = "pos-integration"
        configuration.maximumReaderCount = readerCount
        // Other processes (the CLI) write to the same file; wait for them instead of failing.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous.rawValue)")
        }
        self.path = path
        self.pool = try DatabasePool(path: path, configuration: configuration)
    }

    /// Brings the schema up to date; returns the migration versions it applied.
    @discardableResult
    public func migrate() async throws -> [Int] {
        var migrator = DatabaseMigrator()
        for step in Migrations.steps {
            migrator.registerMigration(Self.identifier(step)) { db in
                for statement in step.statements { try db.execute(sql: Migrations.render(statement, for: .sqlite)) }
            }
        }
        let registered = migrator
        let before = try await pool.read { try registered.appliedIdentifiers($0) }
        try registered.migrate(pool)
        return Migrations.steps.filter { !before.contains(Self.identifier($0)) }.map(\.version)
    }

    private static func identifier(_ step: Migrations.Step) -> String { "v\(step.version) \(step.name)" }

    public func shutdown() async {
        try? pool.close()
    }

    // MARK: Running work

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await translatingErrors { try await pool.read(body) }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await translatingErrors { try await pool.write(body) }
    }

    /// Errors that mean "the database is not answering" become ``StoreError/unavailable(_:)`` (a 503).
    private func translatingErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DatabaseError where Self.unavailableCodes.contains(where: { $0 == error.resultCode }) {
            throw StoreError.unavailable("sqlite: \(error.resultCode)")
        }
    }

    private static let unavailableCodes: [ResultCode] = [
        .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_MISUSE, .SQLITE_CANTOPEN, .SQLITE_IOERR, .SQLITE_FULL, .SQLITE_READONLY,
    ]

    // MARK: StoreHealth

    public func ping() async throws {
        _ = try await read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: TenantStore

    public func createTenant(_ tenant: Tenant, createdAt: Int64) async throws {
        let inserted = try await write { db in
            try db.execute(sql: """
                INSERT INTO tenants (id, subdomain, name, status, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """, arguments: [tenant.id, tenant.subdomain, tenant.name, tenant.status, createdAt])
            return db.changesCount == 1
        }
        guard inserted else { throw StoreError.subdomainTaken(tenant) }
    }

    public func tenant(id: String) async throws -> Tenant? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT id, subdomain, name, status FROM tenants WHERE id = ?", arguments: [id])
                .map { try RecordMapping.tenant(GRDBRow($0)) }
        }
    }

    public func tenant(subdomain: String) async throws -> Tenant? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT id, subdomain, name, status FROM tenants WHERE subdomain = ?", arguments: [subdomain])
                .map { try RecordMapping.tenant(GRDBRow($0)) }
        }
    }

    public func tenants() async throws -> [Tenant] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT id, subdomain, name, status FROM tenants ORDER BY subdomain")
                .map { try RecordMapping.tenant(GRDBRow($0)) }
        }
    }

    // MARK: APIKeyStore

    public func createKey(_ key: NewAPIKey) async throws -> APIKeyRecord {
        let id = try await write { db in
            try db.execute(sql: """
                INSERT INTO api_keys (tenant_id, secret_hash, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
                """, arguments: [key.tenantId, key.secretHash, RecordMapping.scopes(key.scopes), key.createdAt, key.expiresAt])
            return db.lastInsertedRowID
        }
        return APIKeyRecord.inserted(key, id: id)
    }

    public func keyWithTenant(id: Int64) async throws -> (APIKeyRecord, Tenant)? {
        let pair = try await read { db -> KeyAndTenant? in
            let statement = try db.cachedStatement(sql: """
                SELECT \(SharedSQL.keyColumns), t.id, t.subdomain, t.name, t.status
                FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = ?
                """)
            return try Row.fetchOne(statement, arguments: [id]).map {
                KeyAndTenant(key: try RecordMapping.apiKey(GRDBRow($0)), tenant: try RecordMapping.tenant(GRDBRow($0)))
            }
        }
        return pair.map { ($0.key, $0.tenant) }
    }

    private struct KeyAndTenant: Sendable {
        let key: APIKeyRecord
        let tenant: Tenant
    }

    public func keys(tenantId: String) async throws -> [APIKeyRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT \(SharedSQL.keyColumns) FROM api_keys k WHERE k.tenant_id = ? ORDER BY k.id", arguments: [tenantId])
                .map { try RecordMapping.apiKey(GRDBRow($0)) }
        }
    }

    public func revokeKey(id: Int64, at: Int64) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [at, id])
            return db.changesCount == 1
        }
    }

    // MARK: WebhookStore

    public func createWebhook(_ webhook: NewWebhook) async throws -> Webhook {
        let id = try await write { db -> Int64? in
            try db.execute(sql: """
                INSERT INTO webhooks (tenant_id, outlet_id, provider, callback_url, events, secret_sealed, is_active, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING
                """, arguments: [webhook.tenantId, webhook.outletId, webhook.provider, webhook.callbackUrl,
                                 webhook.events.joined(separator: ","), webhook.sealedSecret, webhook.createdAt, webhook.createdAt])
            return db.changesCount == 1 ? db.lastInsertedRowID : nil
        }
        guard let id else { throw StoreError.webhookExists(webhook) }
        return Webhook.inserted(webhook, id: id)
    }

    public func webhook(id: Int64, tenantId: String) async throws -> Webhook? {
        try await read { db in
            try Row.fetchOne(db, sql: """
                SELECT \(SharedSQL.webhookColumns) FROM webhooks w WHERE w.id = ? AND w.tenant_id = ? AND w.deleted_at IS NULL
                """, arguments: [id, tenantId]).map { try RecordMapping.webhookTarget(GRDBRow($0)).webhook }
        }
    }

    public func webhooks(tenantId: String) async throws -> [Webhook] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT \(SharedSQL.webhookColumns) FROM webhooks w WHERE w.tenant_id = ? AND w.deleted_at IS NULL ORDER BY w.id",
                             arguments: [tenantId]).map { try RecordMapping.webhookTarget(GRDBRow($0)).webhook }
        }
    }

    public func updateWebhook(id: Int64, tenantId: String, change: WebhookChange, at: Int64) async throws -> Webhook? {
        try await write { db -> Webhook? in
            try db.execute(sql: """
                UPDATE webhooks SET callback_url = COALESCE(?, callback_url), events = COALESCE(?, events),
                    is_active = COALESCE(?, is_active),
                    disabled_reason = CASE WHEN ? = 1 THEN NULL ELSE disabled_reason END,
                    consecutive_failures = CASE WHEN ? = 1 THEN 0 ELSE consecutive_failures END,
                    failing_since = CASE WHEN ? = 1 THEN NULL ELSE failing_since END,
                    circuit_open_until = CASE WHEN ? = 1 THEN NULL ELSE circuit_open_until END, updated_at = ?
                WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL
                """, arguments: [change.callbackUrl, change.events?.joined(separator: ","), change.isActive.map { $0 ? 1 : 0 },
                                 change.isActive == true ? 1 : 0, change.isActive == true ? 1 : 0, change.isActive == true ? 1 : 0,
                                 change.isActive == true ? 1 : 0, at, id, tenantId])
            guard db.changesCount == 1 else { return nil }
            return try Row.fetchOne(db, sql: "SELECT \(SharedSQL.webhookColumns) FROM webhooks w WHERE w.id = ?", arguments: [id])
                .map { try RecordMapping.webhookTarget(GRDBRow($0)).webhook }
        }
    }

    public func deleteWebhook(id: Int64, tenantId: String, at: Int64) async throws -> Int? {
        try await write { db -> Int? in
            try db.execute(sql: "UPDATE webhooks SET deleted_at = ?, is_active = 0, updated_at = ? WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL",
                           arguments: [at, at, id, tenantId])
            guard db.changesCount == 1 else { return nil }
            try db.execute(sql: """
                UPDATE deliveries SET status = 'dead', last_error = 'webhook deleted', next_attempt_at = NULL, updated_at = ?
                WHERE webhook_id = ? AND status IN ('pending', 'failed')
                """, arguments: [at, id])
            return db.changesCount
        }
    }

    public func rotateWebhookSecret(id: Int64, tenantId: String, sealedSecret: String, previousValidUntil: Int64, at: Int64) async throws -> Webhook? {
        try await write { db -> Webhook? in
            try db.execute(sql: """
                UPDATE webhooks SET previous_secret_sealed = secret_sealed, previous_secret_expires_at = ?, secret_sealed = ?, updated_at = ?
                WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL
                """, arguments: [previousValidUntil, sealedSecret, at, id, tenantId])
            guard db.changesCount == 1 else { return nil }
            return try Row.fetchOne(db, sql: "SELECT \(SharedSQL.webhookColumns) FROM webhooks w WHERE w.id = ?", arguments: [id])
                .map { try RecordMapping.webhookTarget(GRDBRow($0)).webhook }
        }
    }

    public func recordPing(webhookId: Int64, status: Int?, error: String?) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE webhooks SET last_ping_status = ?, last_ping_error = ? WHERE id = ?", arguments: [status, error, webhookId])
        }
    }

    // MARK: OrderStore

    public func acceptOrder(_ order: NewOrder, completionWithoutTargets completion: DispatchCompletion,
                            makeDeliveryId: @escaping @Sendable () -> String) async throws -> AcceptedOrder {
        try await write { db in
            let targets = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT \(SharedSQL.webhookColumns) FROM webhooks w
                WHERE w.tenant_id = ? AND w.outlet_id = ? AND w.is_active = 1 AND w.deleted_at IS NULL ORDER BY w.id
                """), arguments: [order.tenantId, order.outletId])
                .map { try RecordMapping.webhookTarget(GRDBRow($0)) }
                .filter { $0.webhook.isSubscribed(to: order.event) }
            let plannedDeliveries = Delivery.planned(for: order, webhooks: targets, makeId: makeDeliveryId)
            let record = OrderRecord.accepted(order, completion: plannedDeliveries.isEmpty ? completion : nil)
            try db.cachedStatement(sql: """
                INSERT INTO orders (id, tenant_id, outlet_id, event, order_uuid, order_ref_no, built_in_transformer, currency,
                                    total_pay_minor, payload, payload_sha256, dispatch_status, dispatch_reason, first_response,
                                    received_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, order_uuid, event) DO NOTHING
                """).execute(arguments: [
                    order.id, order.tenantId, order.outletId, order.event, order.orderUUID, order.orderRefNo,
                    order.builtInTransformer, order.currency, order.totalPayMinor, Data(order.payload), order.payloadSHA256,
                    record.dispatchStatus.rawValue, record.dispatchReason, record.firstResponse, order.receivedAt, record.updatedAt,
                ])
            guard db.changesCount == 1 else {
                let existing = try Row.fetchOne(db.cachedStatement(sql: """
                    SELECT \(SharedSQL.orderColumns) FROM orders o WHERE o.tenant_id = ? AND o.order_uuid = ? AND o.event = ?
                    """), arguments: [order.tenantId, order.orderUUID, order.event])
                guard let existing else { throw StoreError.unavailable("conflicting order vanished") }
                return .existing(try RecordMapping.order(GRDBRow(existing)))
            }
            for planned in plannedDeliveries {
                let delivery = planned.delivery
                let lease: DeliveryLease? = delivery.status == .delivering ? order.firstAttemptLease : nil
                try db.cachedStatement(sql: """
                    INSERT INTO deliveries (id, tenant_id, order_id, webhook_id, connector, event, status, attempt_count,
                                            next_attempt_at, lease_owner, lease_expires_at, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)
                    """).execute(arguments: [
                        delivery.id, delivery.tenantId, delivery.orderId, delivery.webhookId, delivery.connector, delivery.event,
                        delivery.status.rawValue, delivery.nextAttemptAt, lease?.owner, lease?.expiresAt, delivery.createdAt, delivery.updatedAt,
                    ])
            }
            return .created(record, plannedDeliveries)
        }
    }

    public func recordAttempts(_ attempts: [RecordedAttempt], completion: DispatchCompletion?, health: [EndpointHealthUpdate]) async throws {
        try await write { db in
            for update in health {
                let state = update.verdict.health
                try db.cachedStatement(sql: """
                    UPDATE webhooks SET consecutive_failures = ?, failing_since = ?, circuit_open_until = ? WHERE id = ?
                    """).execute(arguments: [state.consecutiveFailures, state.failingSince, state.circuitOpenUntil, update.webhookId])
                if let reason = update.verdict.disabledReason {
                    try db.execute(sql: "UPDATE webhooks SET is_active = 0, disabled_reason = ?, updated_at = ? WHERE id = ?",
                                   arguments: [reason, update.at, update.webhookId])
                }
            }
            for recorded in attempts {
                let attempt = recorded.attempt
                try db.cachedStatement(sql: """
                    INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms, status_code, error_class,
                                                   error, response_excerpt, signed_with)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (delivery_id, attempt_number) DO NOTHING
                    """).execute(arguments: [
                        attempt.deliveryId, attempt.attemptNumber, attempt.startedAt, attempt.durationMs, attempt.statusCode,
                        attempt.errorClass, attempt.error, attempt.responseExcerpt, attempt.signedWith,
                    ])
                try db.cachedStatement(sql: """
                    UPDATE deliveries SET status = ?, attempt_count = ?, next_attempt_at = ?, last_status_code = ?, last_error = ?,
                        lease_owner = NULL, lease_expires_at = NULL, updated_at = ?, delivered_at = COALESCE(delivered_at, ?)
                    WHERE id = ?
                    """).execute(arguments: [
                        recorded.transition.status.rawValue, attempt.attemptNumber, recorded.transition.nextAttemptAt,
                        attempt.statusCode, attempt.error, recorded.at, recorded.transition.status == .delivered ? recorded.at : nil,
                        attempt.deliveryId,
                    ])
            }
            if let completion {
                try db.cachedStatement(sql: """
                    UPDATE orders SET dispatch_status = ?, dispatch_reason = ?, first_response = COALESCE(first_response, ?),
                        external_order_id = COALESCE(?, external_order_id), updated_at = ?
                    WHERE id = ?
                    """).execute(arguments: [completion.status.rawValue, completion.reason, completion.response,
                                             completion.externalOrderId, completion.at, completion.orderId])
            }
        }
    }

    // MARK: ProviderStore

    public func upsertConnection(_ connection: ProviderConnection) async throws -> ProviderConnection {
        try await write { db in
            try db.cachedStatement(sql: """
                INSERT INTO provider_connections (\(SharedSQL.connectionColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, slug) DO UPDATE SET status = excluded.status, api_key_sealed = excluded.api_key_sealed,
                    api_secret_sealed = excluded.api_secret_sealed, webhook_url = excluded.webhook_url, base_url = excluded.base_url,
                    config = excluded.config, updated_at = excluded.updated_at
                """).execute(arguments: [
                    connection.tenantId, connection.slug, connection.status, connection.sealedApiKey, connection.sealedApiSecret,
                    connection.webhookUrl, connection.baseUrl, connection.config, connection.createdAt, connection.updatedAt,
                ])
            guard let row = try Row.fetchOne(db, sql: "SELECT \(SharedSQL.connectionColumns) FROM provider_connections WHERE tenant_id = ? AND slug = ?",
                                             arguments: [connection.tenantId, connection.slug])
            else { throw StoreError.unavailable("provider connection vanished") }
            return try RecordMapping.connection(GRDBRow(row))
        }
    }

    public func connection(tenantId: String, slug: String) async throws -> ProviderConnection? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(SharedSQL.connectionColumns) FROM provider_connections WHERE tenant_id = ? AND slug = ?"),
                             arguments: [tenantId, slug]).map { try RecordMapping.connection(GRDBRow($0)) }
        }
    }

    public func connections(tenantId: String) async throws -> [ProviderConnection] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT \(SharedSQL.connectionColumns) FROM provider_connections WHERE tenant_id = ? ORDER BY slug",
                             arguments: [tenantId]).map { try RecordMapping.connection(GRDBRow($0)) }
        }
    }

    public func deleteConnection(tenantId: String, slug: String) async throws -> Int? {
        try await write { db -> Int? in
            try db.execute(sql: "DELETE FROM provider_connections WHERE tenant_id = ? AND slug = ?", arguments: [tenantId, slug])
            guard db.changesCount == 1 else { return nil }
            try db.execute(sql: "DELETE FROM outlet_providers WHERE tenant_id = ? AND provider_slug = ?", arguments: [tenantId, slug])
            return db.changesCount
        }
    }

    public func upsertOutletProvider(_ mapping: OutletProvider) async throws -> OutletProvider {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO outlet_providers (\(SharedSQL.outletProviderColumns)) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, outlet_id) DO UPDATE SET provider_slug = excluded.provider_slug, external_id = excluded.external_id,
                    settings = excluded.settings, updated_at = excluded.updated_at
                """, arguments: [mapping.tenantId, mapping.outletId, mapping.providerSlug, mapping.externalId, mapping.settings,
                                 mapping.createdAt, mapping.updatedAt])
            guard let row = try Row.fetchOne(db, sql: "SELECT \(SharedSQL.outletProviderColumns) FROM outlet_providers WHERE tenant_id = ? AND outlet_id = ?",
                                             arguments: [mapping.tenantId, mapping.outletId])
            else { throw StoreError.unavailable("outlet mapping vanished") }
            return try RecordMapping.outletProvider(GRDBRow(row))
        }
    }

    public func outletProvider(tenantId: String, outletId: String) async throws -> OutletProvider? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(SharedSQL.outletProviderColumns) FROM outlet_providers WHERE tenant_id = ? AND outlet_id = ?"),
                             arguments: [tenantId, outletId]).map { try RecordMapping.outletProvider(GRDBRow($0)) }
        }
    }

    public func saveProgress(deliveryId: String, progress: String, at: Int64) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE deliveries SET progress = ?, updated_at = ? WHERE id = ?", arguments: [progress, at, deliveryId])
        }
    }

    // MARK: OutboxStore

    public func claimDueDeliveries(lease: DeliveryLease, now: Int64, limit: Int) async throws -> [ClaimedDelivery] {
        try await write { db in
            let candidates = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT d.id, d.webhook_id, w.circuit_open_until FROM deliveries d LEFT JOIN webhooks w ON w.id = d.webhook_id
                WHERE ((d.status IN ('pending', 'failed') AND d.next_attempt_at <= ?) OR (d.status = 'delivering' AND d.lease_expires_at <= ?))
                  AND (d.webhook_id IS NULL
                       OR (w.is_active = 1 AND w.deleted_at IS NULL AND (w.circuit_open_until IS NULL OR w.circuit_open_until <= ?)))
                ORDER BY d.next_attempt_at LIMIT ?
                """), arguments: [now, now, now, limit]).map {
                (id: try $0.decode(String.self, forColumn: "id"), webhookId: try $0.decode(Int64?.self, forColumn: "webhook_id"),
                 circuitOpenUntil: try $0.decode(Int64?.self, forColumn: "circuit_open_until"))
            }
            let (ids, probed) = ClaimedDelivery.admissible(candidates, now: now)
            guard !ids.isEmpty else { return [] }
            // While a probe is out, the circuit stays shut to everyone else.
            for webhookId in probed {
                try db.execute(sql: "UPDATE webhooks SET circuit_open_until = ? WHERE id = ?", arguments: [lease.expiresAt, webhookId])
            }
            let list = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            try db.execute(sql: """
                UPDATE deliveries SET status = 'delivering', lease_owner = ?, lease_expires_at = ?, updated_at = ? WHERE id IN (\(list))
                """, arguments: [lease.owner, lease.expiresAt, now] + StatementArguments(ids))
            let deliveries = try Row.fetchAll(db, sql: "SELECT \(SharedSQL.deliveryColumns) FROM deliveries WHERE id IN (\(list))",
                                              arguments: StatementArguments(ids)).map { try RecordMapping.delivery(GRDBRow($0)) }
            let webhookIds = Array(Set(deliveries.compactMap(\.webhookId)))
            let targets = webhookIds.isEmpty ? [] : try Row.fetchAll(db, sql: """
                SELECT \(SharedSQL.webhookColumns) FROM webhooks w WHERE w.id IN (\(Array(repeating: "?", count: webhookIds.count).joined(separator: ", ")))
                """, arguments: StatementArguments(webhookIds)).map { try RecordMapping.webhookTarget(GRDBRow($0)) }
            let orderIds = Array(Set(deliveries.map(\.orderId)))
            var orders: [String: (outletId: String, payload: [UInt8])] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT id, outlet_id, payload FROM orders WHERE id IN (\(Array(repeating: "?", count: orderIds.count).joined(separator: ", ")))
                """, arguments: StatementArguments(orderIds)) {
                orders[try row.decode(String.self, forColumn: "id")] = (try row.decode(String.self, forColumn: "outlet_id"),
                                                                        Array(try row.decode(Data.self, forColumn: "payload")))
            }
            return ClaimedDelivery.assemble(deliveries, targets: targets, orders: orders)
        }
    }

    public func requeueDelivery(id: String, tenantId: String, now: Int64) async throws -> Delivery? {
        try await write { db -> Delivery? in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT \(SharedSQL.deliveryColumns), lease_expires_at FROM deliveries WHERE id = ? AND tenant_id = ?
                """, arguments: [id, tenantId])
            else { return nil }
            let delivery = try RecordMapping.delivery(GRDBRow(row))
            if delivery.status == .delivering, let leaseExpiry = try row.decode(Int64?.self, forColumn: "lease_expires_at"), leaseExpiry > now {
                throw StoreError.conflict("delivery \(id) is being attempted right now")
            }
            try db.execute(sql: """
                UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
                WHERE id = ?
                """, arguments: [now, now, id])
            return delivery.requeued(at: now)
        }
    }

    public func delivery(id: String, tenantId: String) async throws -> DeliveryDetail? {
        try await read { db -> DeliveryDetail? in
            guard let row = try Row.fetchOne(db, sql: "SELECT \(SharedSQL.deliveryColumns) FROM deliveries WHERE id = ? AND tenant_id = ?",
                                             arguments: [id, tenantId])
            else { return nil }
            let attempts = try Row.fetchAll(db, sql: """
                SELECT \(SharedSQL.attemptColumns) FROM delivery_attempts a WHERE a.delivery_id = ? ORDER BY a.attempt_number
                """, arguments: [id]).map { try RecordMapping.attempt(GRDBRow($0)) }
            return DeliveryDetail(delivery: try RecordMapping.delivery(GRDBRow(row)), attempts: attempts)
        }
    }

    public func deliveries(tenantId: String, filter: DeliveryFilter) async throws -> [Delivery] {
        try await read { db in
            var sql = "SELECT \(SharedSQL.deliveryColumns("d")) FROM deliveries d JOIN orders o ON o.id = d.order_id WHERE d.tenant_id = ?"
            var arguments: StatementArguments = [tenantId]
            if let status = filter.status { sql += " AND d.status = ?"; arguments += [status.rawValue] }
            if let outletId = filter.outletId { sql += " AND o.outlet_id = ?"; arguments += [outletId] }
            if let webhookId = filter.webhookId { sql += " AND d.webhook_id = ?"; arguments += [webhookId] }
            if let since = filter.since { sql += " AND d.created_at >= ?"; arguments += [since] }
            if let after = filter.after {
                sql += " AND (d.created_at < ? OR (d.created_at = ? AND d.id < ?))"
                arguments += [after.createdAt, after.createdAt, after.id]
            }
            sql += " ORDER BY d.created_at DESC, d.id DESC LIMIT ?"
            arguments += [filter.limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { try RecordMapping.delivery(GRDBRow($0)) }
        }
    }

    public func recoverDeliveries(tenantId: String, since: Int64, webhookId: Int64?, outletId: String?, now: Int64) async throws -> Int {
        try await write { db in
            var sql = """
                UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
                WHERE tenant_id = ? AND status IN ('dead', 'failed') AND created_at >= ?
                  AND (webhook_id IS NULL OR webhook_id IN (SELECT id FROM webhooks WHERE deleted_at IS NULL))
                """
            var arguments: StatementArguments = [now, now, tenantId, since]
            if let webhookId { sql += " AND webhook_id = ?"; arguments += [webhookId] }
            if let outletId { sql += " AND order_id IN (SELECT id FROM orders WHERE tenant_id = ? AND outlet_id = ?)"; arguments += [tenantId, outletId] }
            try db.execute(sql: sql, arguments: arguments)
            return db.changesCount
        }
    }

    public func order(id: String, tenantId: String) async throws -> OrderDetail? {
        try await read { db -> OrderDetail? in
            guard let row = try Row.fetchOne(db, sql: "SELECT \(SharedSQL.orderColumns) FROM orders o WHERE o.id = ? AND o.tenant_id = ?",
                                             arguments: [id, tenantId])
            else { return nil }
            let deliveries = try Row.fetchAll(db, sql: "SELECT \(SharedSQL.deliveryColumns) FROM deliveries WHERE order_id = ? ORDER BY created_at, id",
                                              arguments: [id]).map { try RecordMapping.delivery(GRDBRow($0)) }
            let attempts = try Row.fetchAll(db, sql: """
                SELECT \(SharedSQL.attemptColumns) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
                WHERE d.order_id = ? ORDER BY a.started_at, a.attempt_number
                """, arguments: [id]).map { try RecordMapping.attempt(GRDBRow($0)) }
            return OrderDetail(order: try RecordMapping.order(GRDBRow(row)), deliveries: deliveries, attempts: attempts)
        }
    }

    public func orderCount(tenantId: String) async throws -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM orders WHERE tenant_id = ?", arguments: [tenantId]) ?? 0 }
    }
}

/// GRDB rows read through the shared mapping.
struct GRDBRow: ColumnReader {
    let row: Row
    init(_ row: Row) { self.row = row }

    func string(_ column: String) throws -> String { try row.decode(String.self, forColumn: column) }
    func optionalString(_ column: String) throws -> String? { try row.decode(String?.self, forColumn: column) }
    func int64(_ column: String) throws -> Int64 { try row.decode(Int64.self, forColumn: column) }
    func optionalInt64(_ column: String) throws -> Int64? { try row.decode(Int64?.self, forColumn: column) }
}
