import Foundation
import Instrumentation
import Logging
import PosDomain

/// Every store, written once over an ``SQLEngine``: the same statements run on SQLite and on
/// PostgreSQL; ``SQLDialect`` holds the few places they differ. Rules about what to store (which
/// targets an event goes to, circuit deferral, probes) come from ``OutboxPolicy``.
public final class SQLStores: StoreEngine {
    public let engine: any SQLEngine

    public init(engine: any SQLEngine) {
        self.engine = engine
    }

    /// The stores on an SQLite file (created when missing; not yet migrated).
    public static func sqlite(path: String, synchronous: SQLiteSynchronous = .normal) throws -> SQLStores {
        SQLStores(engine: try SQLiteEngine(path: path, synchronous: synchronous))
    }

    /// Opens the engine `location` names (not yet migrated).
    public static func open(_ location: DatabaseLocation, sqliteSynchronous: SQLiteSynchronous = .normal, postgresPoolSize: Int = 16,
                            statementTimeoutMs: Int64 = 30_000, logger: Logger) throws -> SQLStores {
        switch location {
        case .sqlite(let path):
            SQLStores(engine: try SQLiteEngine(path: path, synchronous: sqliteSynchronous))
        case .postgres(let url):
            SQLStores(engine: try PostgresEngine(url: url, poolSize: postgresPoolSize, statementTimeoutMs: statementTimeoutMs, logger: logger))
        }
    }

    /// Brings the schema up to date; returns the migration versions it applied.
    @discardableResult
    public func migrate() async throws -> [Int] {
        try await migrate(through: nil)
    }

    /// Applies the steps up to `version` (all when nil): tests use it to write an older schema.
    @discardableResult
    public func migrate(through version: Int?) async throws -> [Int] {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return try await engine.migrate { db in try Migrations.run(db, through: version, now: now) }
    }

    public func shutdown() async {
        await engine.shutdown()
    }

    @discardableResult
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await engine.read(body)
    }

    /// `body` sees the caller's trace context: SQLite runs it on its own thread, outside the caller's
    /// task, and the events it stores keep that context's `traceparent`.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        let context = InstrumentationContext.current
        return try await engine.write { db in try InstrumentationContext.withValue(context) { try body(db) } }
    }

    // MARK: StoreHealth

    public func ping() async throws {
        _ = try await read { db in try db.query("SELECT 1 AS one").count }
    }

    public func pendingMigrations() async throws -> [Int] {
        try await read { db in
            let applied = Set(try db.query("SELECT version FROM schema_migrations").map { try $0.int("version") })
            return Migrations.steps.map(\.version).filter { !applied.contains($0) }
        }
    }

    // MARK: TenantStore

    public func createTenant(_ tenant: Tenant, createdAt: Int64) async throws {
        let inserted = try await write { db in
            try db.execute("INSERT INTO tenants (id, subdomain, name, status, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                           [tenant.id, tenant.subdomain, tenant.name, tenant.status, createdAt]) == 1
        }
        guard inserted else { throw StoreError.subdomainTaken(tenant) }
    }

    public func tenant(id: String) async throws -> Tenant? {
        try await read { db in try db.queryOne("SELECT id, subdomain, name, status FROM tenants WHERE id = ?", [id]).map(RecordMapping.tenant) }
    }

    public func tenant(subdomain: String) async throws -> Tenant? {
        try await read { db in
            try db.queryOne("SELECT id, subdomain, name, status FROM tenants WHERE subdomain = ?", [subdomain]).map(RecordMapping.tenant)
        }
    }

    public func tenants() async throws -> [Tenant] {
        try await read { db in try db.query("SELECT id, subdomain, name, status FROM tenants ORDER BY subdomain").map(RecordMapping.tenant) }
    }

    // MARK: APIKeyStore

    public func createKey(_ key: NewAPIKey) async throws -> APIKeyRecord {
        let id = try await write { db in try Self.insertKey(key, db) }
        return APIKeyRecord.inserted(key, id: id)
    }

    /// Inserts a key and stores its display prefix, which names the id the insert chose.
    private static func insertKey(_ key: NewAPIKey, _ db: any SQLSession) throws -> Int64 {
        guard let row = try db.queryOne("""
            INSERT INTO api_keys (tenant_id, secret_hash, scopes, created_at, expires_at, name) VALUES (?, ?, ?, ?, ?, ?) RETURNING id
            """, [key.tenantId, key.secretHash, SQLValue.strings(key.scopes.map(\.rawValue)), key.createdAt, key.expiresAt, key.name])
        else { throw StoreError.unavailable("insert returned no id") }
        let id = try row.int64("id")
        try db.execute("UPDATE api_keys SET prefix = ? WHERE id = ?", [APIKeyToken.displayPrefix(id: id, secretStart: key.secretStart), id])
        return id
    }

    public func keyWithTenant(id: Int64) async throws -> (APIKeyRecord, Tenant)? {
        let pair = try await read { db -> KeyAndTenant? in
            try db.queryOne("""
                SELECT \(SharedSQL.keyColumns), t.id, t.subdomain, t.name, t.status
                FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = ?
                """, [id]).map { KeyAndTenant(key: try RecordMapping.apiKey($0), tenant: try RecordMapping.tenant($0)) }
        }
        return pair.map { ($0.key, $0.tenant) }
    }

    private struct KeyAndTenant: Sendable {
        let key: APIKeyRecord
        let tenant: Tenant
    }

    public func keys(tenantId: String) async throws -> [APIKeyRecord] {
        try await read { db in
            try db.query("SELECT \(SharedSQL.keyColumns) FROM api_keys k WHERE k.tenant_id = ? ORDER BY k.id", [tenantId]).map(RecordMapping.apiKey)
        }
    }

    public func revokeKey(id: Int64, at: Int64) async throws -> Bool {
        try await write { db in try db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [at, id]) == 1 }
    }

    public func key(id: Int64, tenantId: String) async throws -> APIKeyRecord? {
        try await read { db in
            try db.queryOne("SELECT \(SharedSQL.keyColumns) FROM api_keys k WHERE k.id = ? AND k.tenant_id = ?", [id, tenantId]).map(RecordMapping.apiKey)
        }
    }

    public func rotateKey(id: Int64, tenantId: String, previousExpiresAt: Int64, replacement: NewAPIKey, at: Int64) async throws -> APIKeyRotation? {
        try await write { db -> APIKeyRotation? in
            guard try db.execute("""
                UPDATE api_keys SET expires_at = CASE WHEN expires_at IS NOT NULL AND expires_at < ? THEN expires_at ELSE ? END
                WHERE id = ? AND tenant_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
                """, [previousExpiresAt, previousExpiresAt, id, tenantId, at]) == 1,
                let previous = try db.queryOne("SELECT \(SharedSQL.keyColumns) FROM api_keys k WHERE k.id = ?", [id]).map(RecordMapping.apiKey)
            else { return nil }
            let newId = try Self.insertKey(replacement, db)
            return APIKeyRotation(previous: previous, replacement: APIKeyRecord.inserted(replacement, id: newId))
        }
    }

    public func touchKey(id: Int64, at: Int64, notBefore: Int64) async throws -> Bool {
        try await write { db in
            try db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)", [at, id, notBefore]) == 1
        }
    }

    // MARK: OperatorKeyStore

    public func createOperatorKey(_ key: NewOperatorKey) async throws -> OperatorKeyRecord {
        let id = try await write { db in
            guard let row = try db.queryOne("""
                INSERT INTO operator_keys (name, prefix, secret_hash, created_at, expires_at) VALUES (?, '', ?, ?, ?) RETURNING id
                """, [key.name, key.secretHash, key.createdAt, key.expiresAt])
            else { throw StoreError.unavailable("insert returned no id") }
            let id = try row.int64("id")
            try db.execute("UPDATE operator_keys SET prefix = ? WHERE id = ?", [OperatorKeyToken.displayPrefix(id: id, secretStart: key.secretStart), id])
            return id
        }
        return OperatorKeyRecord.inserted(key, id: id)
    }

    public func operatorKey(id: Int64) async throws -> OperatorKeyRecord? {
        try await read { db in
            try db.queryOne("SELECT \(SharedSQL.operatorKeyColumns) FROM operator_keys WHERE id = ?", [id]).map(RecordMapping.operatorKey)
        }
    }

    public func operatorKeys() async throws -> [OperatorKeyRecord] {
        try await read { db in try db.query("SELECT \(SharedSQL.operatorKeyColumns) FROM operator_keys ORDER BY id").map(RecordMapping.operatorKey) }
    }

    public func revokeOperatorKey(id: Int64, at: Int64) async throws -> Bool {
        try await write { db in try db.execute("UPDATE operator_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [at, id]) == 1 }
    }

    public func touchOperatorKey(id: Int64, at: Int64, notBefore: Int64) async throws -> Bool {
        try await write { db in
            try db.execute("UPDATE operator_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                           [at, id, notBefore]) == 1
        }
    }

    // MARK: WebhookStore

    public func createWebhook(_ webhook: NewWebhook) async throws -> Webhook {
        let id = try await write { db -> Int64? in
            try db.queryOne("""
                INSERT INTO webhooks (tenant_id, outlet_id, provider, callback_url, events, secret_sealed, is_active, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, TRUE, ?, ?) ON CONFLICT DO NOTHING RETURNING id
                """, [webhook.tenantId, webhook.outletId, webhook.provider, webhook.callbackUrl, SQLValue.strings(webhook.events),
                      webhook.sealedSecret, webhook.createdAt, webhook.createdAt]).map { try $0.int64("id") }
        }
        guard let id else { throw StoreError.webhookExists(webhook) }
        return Webhook.inserted(webhook, id: id)
    }

    public func webhook(id: Int64, tenantId: String) async throws -> Webhook? {
        try await read { db in
            try db.queryOne("SELECT \(SharedSQL.webhookColumns) FROM webhooks w WHERE w.id = ? AND w.tenant_id = ? AND w.deleted_at IS NULL",
                            [id, tenantId]).map { try RecordMapping.webhookTarget($0).webhook }
        }
    }

    public func webhookTarget(id: Int64, tenantId: String) async throws -> WebhookTarget? {
        try await read { db in
            try db.queryOne("SELECT \(SharedSQL.webhookColumns) FROM webhooks w WHERE w.id = ? AND w.tenant_id = ? AND w.deleted_at IS NULL",
                            [id, tenantId]).map(RecordMapping.webhookTarget)
        }
    }

    public func webhooks(tenantId: String) async throws -> [Webhook] {
        try await read { db in
            try db.query("SELECT \(SharedSQL.webhookColumns) FROM webhooks w WHERE w.tenant_id = ? AND w.deleted_at IS NULL ORDER BY w.id",
                         [tenantId]).map { try RecordMapping.webhookTarget($0).webhook }
        }
    }

    public func updateWebhook(id: Int64, tenantId: String, change: WebhookChange, at: Int64) async throws -> Webhook? {
        try await write { db -> Webhook? in
            // Activating clears what made the service disable it.
            let activate = change.isActive == true
            guard try db.execute("""
                UPDATE webhooks SET callback_url = COALESCE(?, callback_url), events = COALESCE(?, events), is_active = COALESCE(?, is_active),
                    disabled_reason = CASE WHEN ? THEN NULL ELSE disabled_reason END,
                    consecutive_failures = CASE WHEN ? THEN 0 ELSE consecutive_failures END,
                    failing_since = CASE WHEN ? THEN NULL ELSE failing_since END,
                    circuit_open_until = CASE WHEN ? THEN NULL ELSE circuit_open_until END, updated_at = ?
                WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL
                """, [change.callbackUrl, change.events.map(SQLValue.strings) ?? .null, change.isActive, activate, activate, activate,
                      activate, at, id, tenantId]) == 1
            else { return nil }
            return try Self.webhook(id: id, db)
        }
    }

    public func deleteWebhook(id: Int64, tenantId: String, at: Int64) async throws -> Int? {
        try await write { db -> Int? in
            guard try db.execute("""
                UPDATE webhooks SET deleted_at = ?, is_active = FALSE, updated_at = ? WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL
                """, [at, at, id, tenantId]) == 1
            else { return nil }
            return try db.execute("""
                UPDATE deliveries SET status = 'dead', last_error = 'webhook deleted', next_attempt_at = NULL, updated_at = ?
                WHERE webhook_id = ? AND status IN ('pending', 'failed')
                """, [at, id])
        }
    }

    public func rotateWebhookSecret(id: Int64, tenantId: String, sealedSecret: String, previousValidUntil: Int64, at: Int64) async throws -> Webhook? {
        try await write { db -> Webhook? in
            guard try db.execute("""
                UPDATE webhooks SET previous_secret_sealed = secret_sealed, previous_secret_expires_at = ?, secret_sealed = ?, updated_at = ?
                WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL
                """, [previousValidUntil, sealedSecret, at, id, tenantId]) == 1
            else { return nil }
            return try Self.webhook(id: id, db)
        }
    }

    private static func webhook(id: Int64, _ db: any SQLSession) throws -> Webhook? {
        try db.queryOne("SELECT \(SharedSQL.webhookColumns) FROM webhooks w WHERE w.id = ?", [id]).map { try RecordMapping.webhookTarget($0).webhook }
    }

    public func recordPing(webhookId: Int64, status: Int?, error: String?) async throws {
        try await write { db in
            try db.execute("UPDATE webhooks SET last_ping_status = ?, last_ping_error = ? WHERE id = ?", [status, error, webhookId])
        }
    }

    // MARK: OrderStore

    public func acceptOrder(_ order: NewOrder, completionWithoutTargets completion: DispatchCompletion,
                            makeDeliveryId: @escaping @Sendable () -> String) async throws -> AcceptedOrder {
        try await write { db -> AcceptedOrder in
            let event = order.paidEvent
            let webhooks = order.builtInTransformer == nil ? try Self.liveWebhooks(tenantId: order.tenantId, outletId: order.outletId, db) : []
            let planned = OutboxPolicy.plan(event, connector: order.builtInTransformer, webhooks: webhooks, firstAttempt: .inline,
                                            makeId: makeDeliveryId)
            let record = OrderRecord.accepted(order, completion: planned.isEmpty ? completion : nil)
            guard try db.execute("""
                INSERT INTO orders (id, tenant_id, outlet_id, event, order_uuid, order_ref_no, built_in_transformer, currency,
                                    total_pay_minor, payload, payload_sha256, dispatch_status, dispatch_reason, first_response,
                                    received_at, updated_at, fulfilment)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, order_uuid, event) DO NOTHING
                """, [order.id, order.tenantId, order.outletId, order.event, order.orderUUID, order.orderRefNo, order.builtInTransformer,
                      // The bytes are kept once: in the event when there is one, else in the order's row.
                      order.currency, order.totalPayMinor, SQLValue.bytes(planned.isEmpty ? order.payload : []), order.payloadSHA256,
                      record.dispatchStatus.rawValue, record.dispatchReason, record.firstResponse, order.receivedAt, record.updatedAt,
                      order.fulfilment.rawValue]) == 1
            else {
                guard let existing = try db.queryOne("""
                    SELECT \(SharedSQL.orderColumns) FROM orders o WHERE o.tenant_id = ? AND o.order_uuid = ? AND o.event = ?
                    """, [order.tenantId, order.orderUUID, order.event])
                else { throw StoreError.unavailable("conflicting order vanished") }
                return .existing(try RecordMapping.order(existing))
            }
            // An order with nowhere to go needs no event: its row keeps its bytes, and intake stays two statements.
            if !planned.isEmpty { try Self.insert(event, planned, lease: order.firstAttemptLease, db) }
            return .created(record, planned)
        }
    }

    public func recordAttempts(_ attempts: [RecordedAttempt], completion: DispatchCompletion?, health: [EndpointHealthUpdate]) async throws {
        try await write { db in
            var alerts: [Alert] = []
            for update in health {
                let state = update.verdict.health
                // Opened from closed: the conditional write finds the transition once, whoever else records meanwhile.
                let opened = try state.circuitOpenUntil.map { openUntil in
                    try db.execute("""
                        UPDATE webhooks SET circuit_open_until = ? WHERE id = ? AND circuit_open_until IS NULL AND is_active = TRUE
                            AND deleted_at IS NULL
                        """, [openUntil, update.webhookId]) == 1
                } ?? false
                try db.execute("UPDATE webhooks SET consecutive_failures = ?, failing_since = ?, circuit_open_until = ? WHERE id = ?",
                               [state.consecutiveFailures, state.failingSince, state.circuitOpenUntil, update.webhookId])
                let disabled = try update.verdict.disabledReason.map { reason in
                    try db.execute("UPDATE webhooks SET is_active = FALSE, disabled_reason = ?, updated_at = ? WHERE id = ? AND is_active = TRUE",
                                   [reason, update.at, update.webhookId]) == 1
                } ?? false
                guard opened || disabled, let webhook = try Self.webhook(id: update.webhookId, db) else { continue }
                if opened { alerts.append(Alert.circuitOpened(webhook, health: state, at: update.at, id: Self.makeId())) }
                if disabled, let reason = update.verdict.disabledReason {
                    alerts.append(Alert.webhookDisabled(webhook, health: state, reason: reason, at: update.at, id: Self.makeId()))
                }
            }
            for recorded in attempts {
                let attempt = recorded.attempt
                try db.execute("""
                    INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms, status_code, error_class,
                                                   error, response_excerpt, signed_with)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (delivery_id, attempt_number) DO NOTHING
                    """, [attempt.deliveryId, attempt.attemptNumber, attempt.startedAt, attempt.durationMs, attempt.statusCode,
                          attempt.errorClass, attempt.error, attempt.responseExcerpt, attempt.signedWith])
                // A delivery already dead stays as it was: it died once, and raised its alert then.
                let dies = recorded.transition.status == .dead
                let moved = try db.execute("""
                    UPDATE deliveries SET status = ?, attempt_count = ?, next_attempt_at = ?, last_status_code = ?, last_error = ?,
                        lease_owner = NULL, lease_expires_at = NULL, updated_at = ?, delivered_at = COALESCE(delivered_at, ?)
                    WHERE id = ?\(dies ? " AND status <> 'dead'" : "")
                    """, [recorded.transition.status.rawValue, attempt.attemptNumber, recorded.transition.nextAttemptAt, attempt.statusCode,
                          attempt.error, recorded.at, recorded.transition.status == .delivered ? recorded.at : nil, attempt.deliveryId]) == 1
                if dies, moved, let row = try db.queryOne("""
                    SELECT \(SharedSQL.deliveryColumns), e.outlet_id AS event_outlet_id FROM deliveries d JOIN events e ON e.id = d.event_id
                    WHERE d.id = ?
                    """, [attempt.deliveryId]),
                    let alert = Alert.deadLettered(try RecordMapping.delivery(row), outletId: try row.optionalString("event_outlet_id"),
                                                   reason: attempt.error, attempts: attempt.attemptNumber, at: recorded.at, id: Self.makeId()) {
                    alerts.append(alert)
                }
            }
            try Self.publish(alerts.map(EventPublication.init), makeDeliveryId: Self.makeId, db)
            if let completion {
                try db.execute("""
                    UPDATE orders SET dispatch_status = ?, dispatch_reason = ?, first_response = COALESCE(first_response, ?),
                        external_order_id = COALESCE(?, external_order_id), updated_at = ?, dispatched_at = COALESCE(dispatched_at, ?)
                    WHERE id = ?
                    """, [completion.status.rawValue, completion.reason, completion.response, completion.externalOrderId, completion.at,
                          completion.status == .dispatched ? completion.at : nil, completion.orderId])
                try Self.publish(completion.publications, makeDeliveryId: Self.makeId, db)
            }
        }
    }

    public func order(id: String, tenantId: String) async throws -> OrderDetail? {
        try await read { db -> OrderDetail? in
            guard let row = try db.queryOne("SELECT \(SharedSQL.orderColumns) FROM orders o WHERE o.id = ? AND o.tenant_id = ?", [id, tenantId])
            else { return nil }
            // By the subject index: the (tenant, created_at) index also gives this order, and SQLite
            // without statistics took it, walking all of the tenant's deliveries for one order.
            let deliveries = try db.query("""
                SELECT \(SharedSQL.deliveryColumns) FROM deliveries d \(db.dialect.indexedBy("deliveries_subject"))
                WHERE d.tenant_id = ? AND d.subject_type = 'order' AND d.subject_id = ? ORDER BY d.created_at, d.id
                """, [tenantId, id]).map(RecordMapping.delivery)
            // The order's deliveries first (subject index), then their attempts by delivery id: a join
            // let the planner walk every attempt of the database.
            let attempts = try db.query("""
                SELECT \(SharedSQL.attemptColumns) FROM delivery_attempts a
                WHERE a.delivery_id IN (SELECT d.id FROM deliveries d WHERE d.tenant_id = ? AND d.subject_type = 'order' AND d.subject_id = ?)
                ORDER BY a.started_at, a.attempt_number
                """, [tenantId, id]).map(RecordMapping.attempt)
            return OrderDetail(order: try RecordMapping.order(row), deliveries: deliveries, attempts: attempts,
                               history: try Self.statusHistory(orderId: id, tenantId: tenantId, db))
        }
    }

    public func orderCount(tenantId: String) async throws -> Int {
        try await read { db in try db.queryOne("SELECT COUNT(*) AS n FROM orders WHERE tenant_id = ?", [tenantId])?.int("n") ?? 0 }
    }

    // MARK: Events and their deliveries

    public func publish(_ event: OutboxEvent, connector: String?, makeDeliveryId: @escaping @Sendable () -> String) async throws -> [PlannedDelivery] {
        try await write { db in
            try Self.publish([EventPublication(event: event, connector: connector)], makeDeliveryId: makeDeliveryId, db)
        }
    }

    /// Writes each event with its deliveries (none when nobody subscribed, and then no event either)
    /// and wakes the workers.
    @discardableResult
    static func publish(_ publications: [EventPublication], makeDeliveryId: () -> String, _ db: any SQLSession) throws -> [PlannedDelivery] {
        var all: [PlannedDelivery] = []
        for publication in publications {
            let event = publication.event
            let webhooks = publication.connector == nil ? try liveWebhooks(tenantId: event.tenantId, outletId: event.outletId, db) : []
            let planned = OutboxPolicy.plan(event, connector: publication.connector, webhooks: webhooks,
                                            firstAttempt: publication.dueAt.map(OutboxPolicy.FirstAttempt.at) ?? .outbox,
                                            exceptWebhookId: publication.exceptWebhookId, makeId: makeDeliveryId)
            guard !planned.isEmpty else { continue }
            try insert(event, planned, lease: nil, db)
            all += planned
        }
        if !all.isEmpty { try db.notifyOutbox() }
        return all
    }

    /// The tenant's active webhooks for an event of `outletId`: the outlet's and the tenant-wide ones
    /// (only the tenant-wide ones for an event of no outlet). The outlet is compared as the live
    /// webhooks' unique index keys it, with '' for tenant-wide, so the index serves fan-out too.
    private static func liveWebhooks(tenantId: String, outletId: String?, _ db: any SQLSession) throws -> [WebhookTarget] {
        try db.query("""
            SELECT \(SharedSQL.webhookColumns) FROM webhooks w
            WHERE w.tenant_id = ? AND COALESCE(w.outlet_id, '') IN ('', ?) AND w.is_active = TRUE AND w.deleted_at IS NULL ORDER BY w.id
            """, [tenantId, outletId ?? ""]).map(RecordMapping.webhookTarget)
    }

    /// An id for an event or delivery written inside the store (alerts, follow-up jobs).
    static func makeId() -> String { UUID().uuidString.lowercased() }

    /// Writes an event and its planned deliveries; those leased for an inline first attempt get `lease`.
    private static func insert(_ event: OutboxEvent, _ planned: [PlannedDelivery], lease: DeliveryLease?, _ db: any SQLSession) throws {
        try db.execute("""
            INSERT INTO events (id, tenant_id, type, subject_type, subject_id, outlet_id, payload, created_at, traceparent)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [event.id, event.tenantId, event.type, event.subject.kind.rawValue, event.subject.id, event.outletId,
                  SQLValue.bytes(event.payload), event.createdAt, TraceContext.traceparent()])
        for delivery in planned.map(\.delivery) {
            let leased = delivery.status == .delivering ? lease : nil
            try db.execute("""
                INSERT INTO deliveries (id, tenant_id, event_id, subject_type, subject_id, webhook_id, connector, event, status, attempt_count,
                                        attempts_started, next_attempt_at, lease_owner, lease_expires_at, created_at, updated_at, ordered)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)
                """, [delivery.id, delivery.tenantId, delivery.eventId, delivery.subject.kind.rawValue, delivery.subject.id, delivery.webhookId,
                      delivery.connector, delivery.event, delivery.status.rawValue, delivery.attemptsStarted, delivery.nextAttemptAt,
                      leased?.owner, leased?.expiresAt, delivery.createdAt, delivery.updatedAt,
                      delivery.kind?.isOrdered ?? true])
        }
    }

    // MARK: OutboxStore

    public func claimDueDeliveries(lease: DeliveryLease, now: Int64, limit: Int) async throws -> [ClaimedDelivery] {
        try await write { db in
            let candidates = try db.query("""
                SELECT d.id, d.webhook_id, w.circuit_open_until FROM deliveries d LEFT JOIN webhooks w ON w.id = d.webhook_id
                WHERE ((d.status IN ('pending', 'failed') AND d.next_attempt_at <= ?) OR (d.status = 'delivering' AND d.lease_expires_at <= ?))
                  AND (d.webhook_id IS NULL
                       OR (w.is_active = TRUE AND w.deleted_at IS NULL AND (w.circuit_open_until IS NULL OR w.circuit_open_until <= ?)))
                  AND NOT (\(SharedSQL.waitsForEarlier(db.dialect)))
                ORDER BY d.next_attempt_at LIMIT ? \(db.dialect.skipLockedRows)
                """, [now, now, now, limit]).map { row in
                OutboxPolicy.Candidate(id: try row.string("id"), webhookId: try row.optionalInt64("webhook_id"),
                                       circuitOpenUntil: try row.optionalInt64("circuit_open_until"))
            }
            let (ids, probed) = OutboxPolicy.admissible(candidates, now: now)
            guard !ids.isEmpty else { return [] }
            for webhookId in probed {
                try db.execute("UPDATE webhooks SET circuit_open_until = ? WHERE id = ?", [lease.expiresAt, webhookId])
            }
            let idList = placeholders(ids.count)
            try db.execute("""
                UPDATE deliveries SET status = 'delivering', lease_owner = ?, lease_expires_at = ?, attempts_started = attempts_started + 1,
                    updated_at = ?
                WHERE id IN (\(idList))
                """, [lease.owner, lease.expiresAt, now] + ids.map { $0 as any SQLBindable })
            let rows = try db.query("""
                SELECT \(SharedSQL.deliveryColumns), \(SharedSQL.eventColumns) FROM deliveries d JOIN events e ON e.id = d.event_id
                WHERE d.id IN (\(idList))
                """, ids.map { $0 as any SQLBindable })
            let webhookIds = Array(Set(try rows.compactMap { try $0.optionalInt64("webhook_id") }))
            let targets = webhookIds.isEmpty ? [] : try db.query(
                "SELECT \(SharedSQL.webhookColumns) FROM webhooks w WHERE w.id IN (\(placeholders(webhookIds.count)))", webhookIds.map { $0 as any SQLBindable }
            ).map(RecordMapping.webhookTarget)
            let targetsById = Dictionary(targets.map { ($0.webhook.id, $0) }, uniquingKeysWith: { first, _ in first })
            return try rows.compactMap { row -> ClaimedDelivery? in
                let delivery = try RecordMapping.delivery(row)
                let target = delivery.webhookId.flatMap { targetsById[$0] }
                // A webhook row gone missing: skip; the lease runs out and the delivery is looked at again.
                if delivery.webhookId != nil, target == nil { return nil }
                return ClaimedDelivery(delivery: delivery, target: target, event: try RecordMapping.event(row))
            }
        }
    }

    public func requeueDelivery(id: String, tenantId: String, now: Int64) async throws -> Delivery? {
        try await write { db -> Delivery? in
            guard let row = try db.queryOne("""
                SELECT \(SharedSQL.deliveryColumns), d.lease_expires_at FROM deliveries d WHERE d.id = ? AND d.tenant_id = ?
                """, [id, tenantId])
            else { return nil }
            let delivery = try RecordMapping.delivery(row)
            if delivery.status == .delivering, let leaseExpiry = try row.optionalInt64("lease_expires_at"), leaseExpiry > now {
                throw StoreError.conflict("delivery \(id) is being attempted right now")
            }
            try db.execute("""
                UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
                WHERE id = ?
                """, [now, now, id])
            try db.notifyOutbox()
            return delivery.requeued(at: now)
        }
    }

    public func delivery(id: String, tenantId: String) async throws -> DeliveryDetail? {
        try await read { db -> DeliveryDetail? in
            guard let row = try db.queryOne("SELECT \(SharedSQL.deliveryColumns) FROM deliveries d WHERE d.id = ? AND d.tenant_id = ?", [id, tenantId])
            else { return nil }
            let attempts = try db.query("""
                SELECT \(SharedSQL.attemptColumns) FROM delivery_attempts a WHERE a.delivery_id = ? ORDER BY a.attempt_number
                """, [id]).map(RecordMapping.attempt)
            let deadBefore = try db.query("""
                SELECT p.id FROM deliveries d JOIN deliveries p \(db.dialect.indexedBy("deliveries_subject"))
                    ON \(SharedSQL.earlierDelivery(in: [.dead], db.dialect))
                WHERE d.id = ? ORDER BY \(db.dialect.emissionOrder("p"))
                """, [id]).map { try $0.string("id") }
            return DeliveryDetail(delivery: try RecordMapping.delivery(row), attempts: attempts, deadBefore: deadBefore)
        }
    }

    public func deliveries(tenantId: String, filter: DeliveryFilter) async throws -> [Delivery] {
        try await read { db in
            var sql = "SELECT \(SharedSQL.deliveryColumns) FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.tenant_id = ?"
            var arguments: [any SQLBindable] = [tenantId]
            if let status = filter.status { sql += " AND d.status = ?"; arguments.append(status.rawValue) }
            if let outletId = filter.outletId { sql += " AND e.outlet_id = ?"; arguments.append(outletId) }
            if let webhookId = filter.webhookId { sql += " AND d.webhook_id = ?"; arguments.append(webhookId) }
            if let since = filter.since { sql += " AND d.created_at >= ?"; arguments.append(since) }
            if let after = filter.after {
                sql += " AND (d.created_at < ? OR (d.created_at = ? AND d.id < ?))"
                arguments += [after.createdAt, after.createdAt, after.id]
            }
            sql += " ORDER BY d.created_at DESC, d.id DESC LIMIT ?"
            arguments.append(filter.limit)
            return try db.query(sql, arguments).map(RecordMapping.delivery)
        }
    }

    public func recoverDeliveries(tenantId: String, since: Int64, target: DeliveryTargetFilter, outletId: String?, now: Int64) async throws -> Int {
        try await write { db in
            var sql = """
                UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
                WHERE tenant_id = ? AND status IN ('dead', 'failed') AND created_at >= ?
                  AND (webhook_id IS NULL OR webhook_id IN (SELECT id FROM webhooks WHERE deleted_at IS NULL))
                """
            var arguments: [any SQLBindable] = [now, now, tenantId, since]
            switch target {
            case .any: break
            case .webhook(let webhookId): sql += " AND webhook_id = ?"; arguments.append(webhookId)
            case .connector(let slug): sql += " AND webhook_id IS NULL AND connector = ?"; arguments.append(slug)
            }
            // Through the event's primary key: the deliveries are already narrowed by tenant, status and time.
            if let outletId { sql += " AND EXISTS (SELECT 1 FROM events e WHERE e.id = deliveries.event_id AND e.outlet_id = ?)"; arguments.append(outletId) }
            let count = try db.execute(sql, arguments)
            if count > 0 { try db.notifyOutbox() }
            return count
        }
    }

    // MARK: ProviderStore

    public func upsertConnection(_ connection: ProviderConnection) async throws -> ProviderConnection {
        try await write { db in
            guard let row = try db.queryOne("""
                INSERT INTO provider_connections (\(SharedSQL.connectionColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, slug) DO UPDATE SET status = excluded.status, api_key_sealed = excluded.api_key_sealed,
                    api_secret_sealed = excluded.api_secret_sealed, webhook_url = excluded.webhook_url, base_url = excluded.base_url,
                    config = excluded.config, updated_at = excluded.updated_at, webhook_secret_sealed = excluded.webhook_secret_sealed
                RETURNING \(SharedSQL.connectionColumns)
                """, [connection.tenantId, connection.slug, connection.status, connection.sealedApiKey, connection.sealedApiSecret,
                      connection.webhookUrl, connection.baseUrl, connection.config, connection.createdAt, connection.updatedAt,
                      connection.connectionToken, connection.sealedWebhookSecret])
            else { throw StoreError.unavailable("provider connection vanished") }
            return try RecordMapping.connection(row)
        }
    }

    public func connection(tenantId: String, slug: String) async throws -> ProviderConnection? {
        try await read { db in
            try db.queryOne("SELECT \(SharedSQL.connectionColumns) FROM provider_connections WHERE tenant_id = ? AND slug = ?",
                            [tenantId, slug]).map(RecordMapping.connection)
        }
    }

    public func connections(tenantId: String) async throws -> [ProviderConnection] {
        try await read { db in
            try db.query("SELECT \(SharedSQL.connectionColumns) FROM provider_connections WHERE tenant_id = ? ORDER BY slug",
                         [tenantId]).map(RecordMapping.connection)
        }
    }

    public func deleteConnection(tenantId: String, slug: String) async throws -> Int? {
        try await write { db -> Int? in
            guard try db.execute("DELETE FROM provider_connections WHERE tenant_id = ? AND slug = ?", [tenantId, slug]) == 1 else { return nil }
            return try db.execute("DELETE FROM outlet_providers WHERE tenant_id = ? AND provider_slug = ?", [tenantId, slug])
        }
    }

    public func upsertOutletProvider(_ mapping: OutletProvider) async throws -> OutletProvider {
        try await write { db in
            guard let row = try db.queryOne("""
                INSERT INTO outlet_providers (\(SharedSQL.outletProviderColumns)) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, outlet_id) DO UPDATE SET provider_slug = excluded.provider_slug, external_id = excluded.external_id,
                    settings = excluded.settings, updated_at = excluded.updated_at
                RETURNING \(SharedSQL.outletProviderColumns)
                """, [mapping.tenantId, mapping.outletId, mapping.providerSlug, mapping.externalId, mapping.settings,
                      mapping.createdAt, mapping.updatedAt])
            else { throw StoreError.unavailable("outlet mapping vanished") }
            return try RecordMapping.outletProvider(row)
        }
    }

    public func outletProvider(tenantId: String, outletId: String) async throws -> OutletProvider? {
        try await read { db in
            try db.queryOne("SELECT \(SharedSQL.outletProviderColumns) FROM outlet_providers WHERE tenant_id = ? AND outlet_id = ?",
                            [tenantId, outletId]).map(RecordMapping.outletProvider)
        }
    }

    public func saveProgress(deliveryId: String, progress: String, at: Int64) async throws {
        try await write { db in
            try db.execute("UPDATE deliveries SET progress = ?, updated_at = ? WHERE id = ?", [progress, at, deliveryId])
        }
    }

    public func markConnection(tenantId: String, slug: String, status: String, at: Int64, alert: Alert) async throws -> Bool {
        try await write { db in
            guard try db.execute("""
                UPDATE provider_connections SET status = ?, updated_at = ? WHERE tenant_id = ? AND slug = ? AND status = 'active'
                """, [status, at, tenantId, slug]) == 1
            else { return false }
            try Self.publish([EventPublication(alert)], makeDeliveryId: Self.makeId, db)
            return true
        }
    }
}

// MARK: ProviderTokenStore
// Each write is one statement that checks what the caller last read (version, lease), so replicas
// coordinate through the row alone; who refreshes and how long the others wait is CredentialProvider's.

extension SQLStores {
    public func providerToken(tenantId: String, slug: String) async throws -> ProviderToken? {
        try await read { db in
            try db.queryOne("SELECT \(SharedSQL.providerTokenColumns) FROM provider_tokens WHERE tenant_id = ? AND slug = ?",
                            [tenantId, slug]).map(RecordMapping.providerToken)
        }
    }

    public func insertProviderToken(_ token: ProviderToken) async throws -> Bool {
        try await write { db in
            try db.execute("""
                INSERT INTO provider_tokens (\(SharedSQL.providerTokenColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, slug) DO NOTHING
                """, [token.tenantId, token.slug, token.sealedAccessToken, token.sealedRefreshToken, token.accessExpiresAt, token.version,
                      token.refreshOwner, token.refreshLeaseUntil, token.updatedAt]) == 1
        }
    }

    public func acquireTokenRefreshLease(tenantId: String, slug: String, version: Int64, owner: String, until: Int64, now: Int64) async throws -> Bool {
        try await write { db in
            try db.execute("""
                UPDATE provider_tokens SET refresh_owner = ?, refresh_lease_until = ?
                WHERE tenant_id = ? AND slug = ? AND version = ? AND (refresh_owner IS NULL OR refresh_lease_until <= ?)
                """, [owner, until, tenantId, slug, version, now]) == 1
        }
    }

    public func completeTokenRefresh(tenantId: String, slug: String, version: Int64, owner: String, tokens: RefreshedProviderToken,
                                     at: Int64) async throws -> Int64? {
        try await write { db in
            try db.queryOne("""
                UPDATE provider_tokens SET access_token_sealed = ?, refresh_token_sealed = ?, access_expires_at = ?, version = version + 1,
                    refresh_owner = NULL, refresh_lease_until = NULL, updated_at = ?
                WHERE tenant_id = ? AND slug = ? AND version = ? AND refresh_owner = ?
                RETURNING version
                """, [tokens.sealedAccessToken, tokens.sealedRefreshToken, tokens.accessExpiresAt, at, tenantId, slug, version, owner])
                .map { try $0.int64("version") }
        }
    }

    public func releaseTokenRefreshLease(tenantId: String, slug: String, owner: String) async throws {
        try await write { db in
            try db.execute("""
                UPDATE provider_tokens SET refresh_owner = NULL, refresh_lease_until = NULL WHERE tenant_id = ? AND slug = ? AND refresh_owner = ?
                """, [tenantId, slug, owner])
        }
    }

    public func deleteProviderToken(tenantId: String, slug: String) async throws {
        try await write { db in try db.execute("DELETE FROM provider_tokens WHERE tenant_id = ? AND slug = ?", [tenantId, slug]) }
    }
}

extension SQLStores: OutboxNotifications {
    public func onOutboxNotification(_ handler: @escaping @Sendable () -> Void) {
        (engine as? PostgresEngine)?.listen(channel: PostgresEngine.outboxChannel, onNotification: handler)
    }
}

extension NewOrder {
    /// The order's `order.paid` event: the order's own bytes, under the order's id.
    var paidEvent: OutboxEvent {
        OutboxEvent(id: id, tenantId: tenantId, type: event, subject: EventSubject(.order, id: id), outletId: outletId, payload: payload,
                    createdAt: receivedAt)
    }
}

// MARK: OAuthStateStore

extension SQLStores {
    public func insertOAuthState(_ state: OAuthAuthorizationState) async throws {
        try await write { db in
            try db.execute("DELETE FROM oauth_states WHERE expires_at <= ?", [state.createdAt])
            try db.execute("""
                INSERT INTO oauth_states (state_hash, tenant_id, slug, redirect_uri, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)
                """, [state.stateHash, state.tenantId, state.slug, state.redirectUri, state.expiresAt, state.createdAt])
        }
    }

    public func consumeOAuthState(stateHash: String, now: Int64) async throws -> OAuthAuthorizationState? {
        let row = try await write { db in
            try db.queryOne("""
                DELETE FROM oauth_states WHERE state_hash = ?
                RETURNING state_hash, tenant_id, slug, redirect_uri, expires_at, created_at
                """, [stateHash]).map { row in
                OAuthAuthorizationState(stateHash: try row.string("state_hash"), tenantId: try row.string("tenant_id"), slug: try row.string("slug"),
                                        redirectUri: try row.string("redirect_uri"), expiresAt: try row.int64("expires_at"),
                                        createdAt: try row.int64("created_at"))
            }
        }
        guard let row, row.expiresAt > now else { return nil }
        return row
    }
}
