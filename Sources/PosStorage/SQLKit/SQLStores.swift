import Foundation
import PosDomain
import SQLKit

/// Every store protocol over one ``SQLEngine``; the SQL is written once for SQLite and PostgreSQL.
public final class SQLStores: StoreEngine {
    public let engine: any SQLEngine

    public init(engine: any SQLEngine) {
        self.engine = engine
    }

    /// Brings the schema up to date; returns the migration versions it applied.
    @discardableResult
    public func migrate() async throws -> [Int] {
        try await Migrations.run(on: engine, now: Int64(Date().timeIntervalSince1970 * 1000))
    }

    public func shutdown() async {
        await engine.shutdown()
    }

    /// Inside a transaction: tell every replica's idle worker there is due work (delivered on commit).
    private func notifyOutbox(_ db: any SQLDatabase) async throws {
        guard engine.flavor == .postgres else { return }
        try await db.raw("SELECT pg_notify(\(bind: PostgresEngine.outboxChannel), '')").run()
    }

    // MARK: StoreHealth

    public func ping() async throws {
        try await engine.withReader { db in
            _ = try await db.raw("SELECT 1 AS one").first()
        }
    }

    // MARK: TenantStore

    public func createTenant(_ tenant: Tenant, createdAt: Int64) async throws {
        let inserted = try await engine.withTransaction { db in
            try await db.raw("""
                INSERT INTO tenants (id, subdomain, name, status, created_at)
                VALUES (\(bind: tenant.id), \(bind: tenant.subdomain), \(bind: tenant.name), \(bind: tenant.status), \(bind: createdAt))
                ON CONFLICT DO NOTHING RETURNING id
                """).first() != nil
        }
        guard inserted else { throw StoreError.subdomainTaken(tenant) }
    }

    public func tenant(id: String) async throws -> Tenant? {
        try await engine.withReader { db in
            try await db.raw("SELECT id, subdomain, name, status FROM tenants WHERE id = \(bind: id)").first().map { try RecordMapping.tenant(SQLKitRow($0)) }
        }
    }

    public func tenant(subdomain: String) async throws -> Tenant? {
        try await engine.withReader { db in
            try await db.raw("SELECT id, subdomain, name, status FROM tenants WHERE subdomain = \(bind: subdomain)").first().map { try RecordMapping.tenant(SQLKitRow($0)) }
        }
    }

    public func tenants() async throws -> [Tenant] {
        try await engine.withReader { db in
            try await db.raw("SELECT id, subdomain, name, status FROM tenants ORDER BY subdomain").all().map { try RecordMapping.tenant(SQLKitRow($0)) }
        }
    }


    // MARK: APIKeyStore

    public func createKey(_ key: NewAPIKey) async throws -> APIKeyRecord {
        let scopes = RecordMapping.scopes(key.scopes)
        let id = try await engine.withTransaction { db in
            guard let row = try await db.raw("""
                INSERT INTO api_keys (tenant_id, secret_hash, scopes, created_at, expires_at)
                VALUES (\(bind: key.tenantId), \(bind: key.secretHash), \(bind: scopes), \(bind: key.createdAt), \(bind: key.expiresAt))
                RETURNING id
                """).first()
            else { throw StoreError.unavailable("insert returned no id") }
            return try row.decode(column: "id", as: Int64.self)
        }
        return APIKeyRecord.inserted(key, id: id)
    }

    public func keyWithTenant(id: Int64) async throws -> (APIKeyRecord, Tenant)? {
        try await engine.withReader { db -> (APIKeyRecord, Tenant)? in
            guard let row = try await db.raw("""
                SELECT \(unsafeRaw: SharedSQL.keyColumns), t.id, t.subdomain, t.name, t.status
                FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = \(bind: id)
                """).first()
            else { return nil }
            return (try RecordMapping.apiKey(SQLKitRow(row)), try RecordMapping.tenant(SQLKitRow(row)))
        }
    }

    public func keys(tenantId: String) async throws -> [APIKeyRecord] {
        try await engine.withReader { db in
            try await db.raw("SELECT \(unsafeRaw: SharedSQL.keyColumns) FROM api_keys k WHERE k.tenant_id = \(bind: tenantId) ORDER BY k.id")
                .all().map { try RecordMapping.apiKey(SQLKitRow($0)) }
        }
    }

    public func revokeKey(id: Int64, at: Int64) async throws -> Bool {
        try await engine.withTransaction { db in
            try await db.raw("UPDATE api_keys SET revoked_at = \(bind: at) WHERE id = \(bind: id) AND revoked_at IS NULL RETURNING id").first() != nil
        }
    }


    // MARK: WebhookStore

    public func createWebhook(_ webhook: NewWebhook) async throws -> Webhook {
        let events = webhook.events.joined(separator: ",")
        let id = try await engine.withTransaction { db -> Int64? in
            try await db.raw("""
                INSERT INTO webhooks (tenant_id, outlet_id, provider, callback_url, events, secret_sealed, is_active, created_at, updated_at)
                VALUES (\(bind: webhook.tenantId), \(bind: webhook.outletId), \(bind: webhook.provider), \(bind: webhook.callbackUrl),
                        \(bind: events), \(bind: webhook.sealedSecret), 1, \(bind: webhook.createdAt), \(bind: webhook.createdAt))
                ON CONFLICT DO NOTHING RETURNING id
                """).first().map { try $0.decode(column: "id", as: Int64.self) }
        }
        guard let id else { throw StoreError.webhookExists(webhook) }
        return Webhook.inserted(webhook, id: id)
    }

    public func webhook(id: Int64, tenantId: String) async throws -> Webhook? {
        try await engine.withReader { db in
            try await db.raw("""
                SELECT \(unsafeRaw: SharedSQL.webhookColumns) FROM webhooks w
                WHERE w.id = \(bind: id) AND w.tenant_id = \(bind: tenantId) AND w.deleted_at IS NULL
                """).first().map { try RecordMapping.webhookTarget(SQLKitRow($0)).webhook }
        }
    }


    public func webhooks(tenantId: String) async throws -> [Webhook] {
        try await engine.withReader { db in
            try await db.raw("""
                SELECT \(unsafeRaw: SharedSQL.webhookColumns) FROM webhooks w WHERE w.tenant_id = \(bind: tenantId) AND w.deleted_at IS NULL
                ORDER BY w.id
                """).all().map { try RecordMapping.webhookTarget(SQLKitRow($0)).webhook }
        }
    }

    public func updateWebhook(id: Int64, tenantId: String, change: WebhookChange, at: Int64) async throws -> Webhook? {
        try await engine.withTransaction { db -> Webhook? in
            let activate: Int64 = change.isActive == true ? 1 : 0
            guard try await db.raw("""
                UPDATE webhooks SET callback_url = COALESCE(\(bind: change.callbackUrl), callback_url),
                    events = COALESCE(\(bind: change.events?.joined(separator: ",")), events),
                    is_active = COALESCE(\(bind: change.isActive.map { $0 ? Int64(1) : Int64(0) }), is_active),
                    disabled_reason = CASE WHEN \(bind: activate) = 1 THEN NULL ELSE disabled_reason END,
                    consecutive_failures = CASE WHEN \(bind: activate) = 1 THEN 0 ELSE consecutive_failures END,
                    failing_since = CASE WHEN \(bind: activate) = 1 THEN NULL ELSE failing_since END,
                    circuit_open_until = CASE WHEN \(bind: activate) = 1 THEN NULL ELSE circuit_open_until END, updated_at = \(bind: at)
                WHERE id = \(bind: id) AND tenant_id = \(bind: tenantId) AND deleted_at IS NULL RETURNING id
                """).first() != nil
            else { return nil }
            return try await db.raw("SELECT \(unsafeRaw: SharedSQL.webhookColumns) FROM webhooks w WHERE w.id = \(bind: id)").first()
                .map { try RecordMapping.webhookTarget(SQLKitRow($0)).webhook }
        }
    }

    public func deleteWebhook(id: Int64, tenantId: String, at: Int64) async throws -> Int? {
        try await engine.withTransaction { db -> Int? in
            guard try await db.raw("""
                UPDATE webhooks SET deleted_at = \(bind: at), is_active = 0, updated_at = \(bind: at)
                WHERE id = \(bind: id) AND tenant_id = \(bind: tenantId) AND deleted_at IS NULL RETURNING id
                """).first() != nil
            else { return nil }
            return try await db.raw("""
                UPDATE deliveries SET status = 'dead', last_error = 'webhook deleted', next_attempt_at = NULL, updated_at = \(bind: at)
                WHERE webhook_id = \(bind: id) AND status IN ('pending', 'failed') RETURNING id
                """).all().count
        }
    }

    public func rotateWebhookSecret(id: Int64, tenantId: String, sealedSecret: String, previousValidUntil: Int64, at: Int64) async throws -> Webhook? {
        try await engine.withTransaction { db -> Webhook? in
            guard try await db.raw("""
                UPDATE webhooks SET previous_secret_sealed = secret_sealed, previous_secret_expires_at = \(bind: previousValidUntil),
                    secret_sealed = \(bind: sealedSecret), updated_at = \(bind: at)
                WHERE id = \(bind: id) AND tenant_id = \(bind: tenantId) AND deleted_at IS NULL RETURNING id
                """).first() != nil
            else { return nil }
            return try await db.raw("SELECT \(unsafeRaw: SharedSQL.webhookColumns) FROM webhooks w WHERE w.id = \(bind: id)").first()
                .map { try RecordMapping.webhookTarget(SQLKitRow($0)).webhook }
        }
    }

    public func recordPing(webhookId: Int64, status: Int?, error: String?) async throws {
        try await engine.withTransaction { db in
            try await db.raw("""
                UPDATE webhooks SET last_ping_status = \(bind: status), last_ping_error = \(bind: error) WHERE id = \(bind: webhookId)
                """).run()
        }
    }

    // MARK: OrderStore

    public func acceptOrder(_ order: NewOrder, completionWithoutTargets completion: DispatchCompletion,
                            makeDeliveryId: @escaping @Sendable () -> String) async throws -> AcceptedOrder {
        try await engine.withTransaction { db -> AcceptedOrder in
            let targets = try await db.raw("""
                SELECT \(unsafeRaw: SharedSQL.webhookColumns) FROM webhooks w
                WHERE w.tenant_id = \(bind: order.tenantId) AND w.outlet_id = \(bind: order.outletId)
                  AND w.is_active = 1 AND w.deleted_at IS NULL
                ORDER BY w.id
                """).all().map { try RecordMapping.webhookTarget(SQLKitRow($0)) }.filter { $0.webhook.isSubscribed(to: order.event) }
            let plannedDeliveries = Delivery.planned(for: order, webhooks: targets, makeId: makeDeliveryId)
            let record = OrderRecord.accepted(order, completion: plannedDeliveries.isEmpty ? completion : nil)
            let inserted = try await db.raw("""
                INSERT INTO orders (id, tenant_id, outlet_id, event, order_uuid, order_ref_no, built_in_transformer, currency,
                                    total_pay_minor, payload, payload_sha256, dispatch_status, dispatch_reason, first_response,
                                    received_at, updated_at)
                VALUES (\(bind: order.id), \(bind: order.tenantId), \(bind: order.outletId), \(bind: order.event),
                        \(bind: order.orderUUID), \(bind: order.orderRefNo), \(bind: order.builtInTransformer), \(bind: order.currency),
                        \(bind: order.totalPayMinor), \(bind: Data(order.payload)), \(bind: order.payloadSHA256),
                        \(bind: record.dispatchStatus.rawValue), \(bind: record.dispatchReason), \(bind: record.firstResponse),
                        \(bind: order.receivedAt), \(bind: record.updatedAt))
                ON CONFLICT (tenant_id, order_uuid, event) DO NOTHING RETURNING id
                """).first() != nil
            guard inserted else {
                guard let existing = try await db.raw("""
                    SELECT \(unsafeRaw: SharedSQL.orderColumns) FROM orders o
                    WHERE o.tenant_id = \(bind: order.tenantId) AND o.order_uuid = \(bind: order.orderUUID) AND o.event = \(bind: order.event)
                    """).first()
                else { throw StoreError.unavailable("conflicting order vanished") }
                return .existing(try RecordMapping.order(SQLKitRow(existing)))
            }
            for planned in plannedDeliveries {
                let delivery = planned.delivery
                let lease: DeliveryLease? = delivery.status == .delivering ? order.firstAttemptLease : nil
                try await db.raw("""
                    INSERT INTO deliveries (id, tenant_id, order_id, webhook_id, connector, event, status, attempt_count,
                                            next_attempt_at, lease_owner, lease_expires_at, created_at, updated_at)
                    VALUES (\(bind: delivery.id), \(bind: delivery.tenantId), \(bind: delivery.orderId), \(bind: delivery.webhookId),
                            \(bind: delivery.connector), \(bind: delivery.event), \(bind: delivery.status.rawValue), 0,
                            \(bind: delivery.nextAttemptAt), \(bind: lease?.owner),
                            \(bind: lease?.expiresAt), \(bind: delivery.createdAt), \(bind: delivery.updatedAt))
                    """).run()
            }
            return .created(record, plannedDeliveries)
        }
    }

    public func recordAttempts(_ attempts: [RecordedAttempt], completion: DispatchCompletion?, health: [EndpointHealthUpdate]) async throws {
        try await engine.withTransaction { db in
            for update in health {
                let state = update.verdict.health
                try await db.raw("""
                    UPDATE webhooks SET consecutive_failures = \(bind: state.consecutiveFailures), failing_since = \(bind: state.failingSince),
                        circuit_open_until = \(bind: state.circuitOpenUntil) WHERE id = \(bind: update.webhookId)
                    """).run()
                if let reason = update.verdict.disabledReason {
                    try await db.raw("""
                        UPDATE webhooks SET is_active = 0, disabled_reason = \(bind: reason), updated_at = \(bind: update.at)
                        WHERE id = \(bind: update.webhookId)
                        """).run()
                }
            }
            for recorded in attempts {
                let attempt = recorded.attempt
                try await db.raw("""
                    INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms, status_code, error_class,
                                                   error, response_excerpt, signed_with)
                    VALUES (\(bind: attempt.deliveryId), \(bind: attempt.attemptNumber), \(bind: attempt.startedAt),
                            \(bind: attempt.durationMs), \(bind: attempt.statusCode), \(bind: attempt.errorClass),
                            \(bind: attempt.error), \(bind: attempt.responseExcerpt), \(bind: attempt.signedWith))
                    ON CONFLICT (delivery_id, attempt_number) DO NOTHING
                    """).run()
                let deliveredAt: Int64? = recorded.transition.status == .delivered ? recorded.at : nil
                try await db.raw("""
                    UPDATE deliveries SET status = \(bind: recorded.transition.status.rawValue), attempt_count = \(bind: attempt.attemptNumber),
                        next_attempt_at = \(bind: recorded.transition.nextAttemptAt), last_status_code = \(bind: attempt.statusCode),
                        last_error = \(bind: attempt.error), lease_owner = NULL, lease_expires_at = NULL,
                        updated_at = \(bind: recorded.at), delivered_at = COALESCE(delivered_at, \(bind: deliveredAt))
                    WHERE id = \(bind: attempt.deliveryId)
                    """).run()
            }
            if let completion {
                try await db.raw("""
                    UPDATE orders SET dispatch_status = \(bind: completion.status.rawValue), dispatch_reason = \(bind: completion.reason),
                        first_response = COALESCE(first_response, \(bind: completion.response)),
                        external_order_id = COALESCE(\(bind: completion.externalOrderId), external_order_id), updated_at = \(bind: completion.at)
                    WHERE id = \(bind: completion.orderId)
                    """).run()
            }
        }
    }

    // MARK: ProviderStore

    public func upsertConnection(_ connection: ProviderConnection) async throws -> ProviderConnection {
        try await engine.withTransaction { db in
            guard let row = try await db.raw("""
                INSERT INTO provider_connections (\(unsafeRaw: SharedSQL.connectionColumns))
                VALUES (\(bind: connection.tenantId), \(bind: connection.slug), \(bind: connection.status), \(bind: connection.sealedApiKey),
                        \(bind: connection.sealedApiSecret), \(bind: connection.webhookUrl), \(bind: connection.baseUrl), \(bind: connection.config),
                        \(bind: connection.createdAt), \(bind: connection.updatedAt))
                ON CONFLICT (tenant_id, slug) DO UPDATE SET status = excluded.status, api_key_sealed = excluded.api_key_sealed,
                    api_secret_sealed = excluded.api_secret_sealed, webhook_url = excluded.webhook_url, base_url = excluded.base_url,
                    config = excluded.config, updated_at = excluded.updated_at
                RETURNING \(unsafeRaw: SharedSQL.connectionColumns)
                """).first()
            else { throw StoreError.unavailable("provider connection vanished") }
            return try RecordMapping.connection(SQLKitRow(row))
        }
    }

    public func connection(tenantId: String, slug: String) async throws -> ProviderConnection? {
        try await engine.withReader { db in
            try await db.raw("""
                SELECT \(unsafeRaw: SharedSQL.connectionColumns) FROM provider_connections WHERE tenant_id = \(bind: tenantId) AND slug = \(bind: slug)
                """).first().map { try RecordMapping.connection(SQLKitRow($0)) }
        }
    }

    public func connections(tenantId: String) async throws -> [ProviderConnection] {
        try await engine.withReader { db in
            try await db.raw("""
                SELECT \(unsafeRaw: SharedSQL.connectionColumns) FROM provider_connections WHERE tenant_id = \(bind: tenantId) ORDER BY slug
                """).all().map { try RecordMapping.connection(SQLKitRow($0)) }
        }
    }

    public func deleteConnection(tenantId: String, slug: String) async throws -> Int? {
        try await engine.withTransaction { db -> Int? in
            guard try await db.raw("""
                DELETE FROM provider_connections WHERE tenant_id = \(bind: tenantId) AND slug = \(bind: slug) RETURNING slug
                """).first() != nil
            else { return nil }
            return try await db.raw("""
                DELETE FROM outlet_providers WHERE tenant_id = \(bind: tenantId) AND provider_slug = \(bind: slug) RETURNING outlet_id
                """).all().count
        }
    }

    public func upsertOutletProvider(_ mapping: OutletProvider) async throws -> OutletProvider {
        try await engine.withTransaction { db in
            guard let row = try await db.raw("""
                INSERT INTO outlet_providers (\(unsafeRaw: SharedSQL.outletProviderColumns))
                VALUES (\(bind: mapping.tenantId), \(bind: mapping.outletId), \(bind: mapping.providerSlug), \(bind: mapping.externalId),
                        \(bind: mapping.settings), \(bind: mapping.createdAt), \(bind: mapping.updatedAt))
                ON CONFLICT (tenant_id, outlet_id) DO UPDATE SET provider_slug = excluded.provider_slug, external_id = excluded.external_id,
                    settings = excluded.settings, updated_at = excluded.updated_at
                RETURNING \(unsafeRaw: SharedSQL.outletProviderColumns)
                """).first()
            else { throw StoreError.unavailable("outlet mapping vanished") }
            return try RecordMapping.outletProvider(SQLKitRow(row))
        }
    }

    public func outletProvider(tenantId: String, outletId: String) async throws -> OutletProvider? {
        try await engine.withReader { db in
            try await db.raw("""
                SELECT \(unsafeRaw: SharedSQL.outletProviderColumns) FROM outlet_providers
                WHERE tenant_id = \(bind: tenantId) AND outlet_id = \(bind: outletId)
                """).first().map { try RecordMapping.outletProvider(SQLKitRow($0)) }
        }
    }

    public func saveProgress(deliveryId: String, progress: String, at: Int64) async throws {
        try await engine.withTransaction { db in
            try await db.raw("""
                UPDATE deliveries SET progress = \(bind: progress), updated_at = \(bind: at) WHERE id = \(bind: deliveryId)
                """).run()
        }
    }

    // MARK: OutboxStore

    public func claimDueDeliveries(lease: DeliveryLease, now: Int64, limit: Int) async throws -> [ClaimedDelivery] {
        try await engine.withTransaction { db in
            let candidates = try await db.raw("""
                SELECT d.id, d.webhook_id, w.circuit_open_until FROM deliveries d LEFT JOIN webhooks w ON w.id = d.webhook_id
                WHERE ((d.status IN ('pending', 'failed') AND d.next_attempt_at <= \(bind: now))
                       OR (d.status = 'delivering' AND d.lease_expires_at <= \(bind: now)))
                  AND (d.webhook_id IS NULL
                       OR (w.is_active = 1 AND w.deleted_at IS NULL AND (w.circuit_open_until IS NULL OR w.circuit_open_until <= \(bind: now))))
                ORDER BY d.next_attempt_at LIMIT \(bind: limit)
                \(unsafeRaw: self.engine.flavor == .postgres ? "FOR UPDATE OF d SKIP LOCKED" : "")
                """).all().map {
                (id: try $0.decode(column: "id", as: String.self), webhookId: try $0.decode(column: "webhook_id", as: Int64?.self),
                 circuitOpenUntil: try $0.decode(column: "circuit_open_until", as: Int64?.self))
            }
            let (ids, probed) = ClaimedDelivery.admissible(candidates, now: now)
            guard !ids.isEmpty else { return [] }
            for webhookId in probed {
                try await db.raw("UPDATE webhooks SET circuit_open_until = \(bind: lease.expiresAt) WHERE id = \(bind: webhookId)").run()
            }
            try await db.raw("""
                UPDATE deliveries SET status = 'delivering', lease_owner = \(bind: lease.owner), lease_expires_at = \(bind: lease.expiresAt),
                    updated_at = \(bind: now)
                WHERE id IN (\(binds: ids))
                """).run()
            let deliveries = try await db.raw("SELECT \(unsafeRaw: SharedSQL.deliveryColumns) FROM deliveries WHERE id IN (\(binds: ids))")
                .all().map { try RecordMapping.delivery(SQLKitRow($0)) }
            let webhookIds = Array(Set(deliveries.compactMap(\.webhookId)))
            let targets = webhookIds.isEmpty ? [] : try await db.raw("""
                SELECT \(unsafeRaw: SharedSQL.webhookColumns) FROM webhooks w WHERE w.id IN (\(binds: webhookIds))
                """).all().map { try RecordMapping.webhookTarget(SQLKitRow($0)) }
            var orders: [String: (outletId: String, payload: [UInt8])] = [:]
            for row in try await db.raw("SELECT id, outlet_id, payload FROM orders WHERE id IN (\(binds: Array(Set(deliveries.map(\.orderId)))))").all() {
                orders[try row.decode(column: "id", as: String.self)] = (try row.decode(column: "outlet_id", as: String.self),
                                                                          Array(try row.decode(column: "payload", as: Data.self)))
            }
            return ClaimedDelivery.assemble(deliveries, targets: targets, orders: orders)
        }
    }

    public func requeueDelivery(id: String, tenantId: String, now: Int64) async throws -> Delivery? {
        try await engine.withTransaction { db -> Delivery? in
            guard let row = try await db.raw("""
                SELECT \(unsafeRaw: SharedSQL.deliveryColumns), lease_expires_at FROM deliveries
                WHERE id = \(bind: id) AND tenant_id = \(bind: tenantId)
                """).first()
            else { return nil }
            let delivery = try RecordMapping.delivery(SQLKitRow(row))
            if delivery.status == .delivering, let leaseExpiry = try row.decode(column: "lease_expires_at", as: Int64?.self), leaseExpiry > now {
                throw StoreError.conflict("delivery \(id) is being attempted right now")
            }
            try await db.raw("""
                UPDATE deliveries SET status = 'pending', next_attempt_at = \(bind: now), lease_owner = NULL, lease_expires_at = NULL,
                    updated_at = \(bind: now)
                WHERE id = \(bind: id)
                """).run()
            try await self.notifyOutbox(db)
            return delivery.requeued(at: now)
        }
    }

    public func delivery(id: String, tenantId: String) async throws -> DeliveryDetail? {
        try await engine.withReader { db -> DeliveryDetail? in
            guard let row = try await db.raw("""
                SELECT \(unsafeRaw: SharedSQL.deliveryColumns) FROM deliveries WHERE id = \(bind: id) AND tenant_id = \(bind: tenantId)
                """).first()
            else { return nil }
            let attempts = try await db.raw("""
                SELECT \(unsafeRaw: SharedSQL.attemptColumns) FROM delivery_attempts a WHERE a.delivery_id = \(bind: id)
                ORDER BY a.attempt_number
                """).all().map { try RecordMapping.attempt(SQLKitRow($0)) }
            return DeliveryDetail(delivery: try RecordMapping.delivery(SQLKitRow(row)), attempts: attempts)
        }
    }

    public func deliveries(tenantId: String, filter: DeliveryFilter) async throws -> [Delivery] {
        try await engine.withReader { db in
            var query: SQLQueryString = """
                SELECT \(unsafeRaw: SharedSQL.deliveryColumns("d")) FROM deliveries d JOIN orders o ON o.id = d.order_id
                WHERE d.tenant_id = \(bind: tenantId)
                """
            if let status = filter.status { query += " AND d.status = \(bind: status.rawValue)" }
            if let outletId = filter.outletId { query += " AND o.outlet_id = \(bind: outletId)" }
            if let webhookId = filter.webhookId { query += " AND d.webhook_id = \(bind: webhookId)" }
            if let since = filter.since { query += " AND d.created_at >= \(bind: since)" }
            if let after = filter.after {
                query += " AND (d.created_at < \(bind: after.createdAt) OR (d.created_at = \(bind: after.createdAt) AND d.id < \(bind: after.id)))"
            }
            query += " ORDER BY d.created_at DESC, d.id DESC LIMIT \(bind: filter.limit)"
            return try await db.raw(query).all().map { try RecordMapping.delivery(SQLKitRow($0)) }
        }
    }

    public func recoverDeliveries(tenantId: String, since: Int64, webhookId: Int64?, outletId: String?, now: Int64) async throws -> Int {
        try await engine.withTransaction { db in
            var query: SQLQueryString = """
                UPDATE deliveries SET status = 'pending', next_attempt_at = \(bind: now), lease_owner = NULL, lease_expires_at = NULL,
                    updated_at = \(bind: now)
                WHERE tenant_id = \(bind: tenantId) AND status IN ('dead', 'failed') AND created_at >= \(bind: since)
                  AND (webhook_id IS NULL OR webhook_id IN (SELECT id FROM webhooks WHERE deleted_at IS NULL))
                """
            if let webhookId { query += " AND webhook_id = \(bind: webhookId)" }
            if let outletId {
                query += " AND order_id IN (SELECT id FROM orders WHERE tenant_id = \(bind: tenantId) AND outlet_id = \(bind: outletId))"
            }
            query += " RETURNING id"
            let count = try await db.raw(query).all().count
            if count > 0 { try await self.notifyOutbox(db) }
            return count
        }
    }

    public func order(id: String, tenantId: String) async throws -> OrderDetail? {
        try await engine.withReader { db -> OrderDetail? in
            guard let row = try await db.raw("""
                SELECT \(unsafeRaw: SharedSQL.orderColumns) FROM orders o WHERE o.id = \(bind: id) AND o.tenant_id = \(bind: tenantId)
                """).first()
            else { return nil }
            let deliveries = try await db.raw("""
                SELECT \(unsafeRaw: SharedSQL.deliveryColumns)
                FROM deliveries WHERE order_id = \(bind: id) ORDER BY created_at, id
                """).all().map { try RecordMapping.delivery(SQLKitRow($0)) }
            let attempts = try await db.raw("""
                SELECT \(unsafeRaw: SharedSQL.attemptColumns)
                FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
                WHERE d.order_id = \(bind: id) ORDER BY a.started_at, a.attempt_number
                """).all().map { try RecordMapping.attempt(SQLKitRow($0)) }
            return OrderDetail(order: try RecordMapping.order(SQLKitRow(row)), deliveries: deliveries, attempts: attempts)
        }
    }

    public func orderCount(tenantId: String) async throws -> Int {
        try await engine.withReader { db in
            try await db.raw("SELECT COUNT(*) AS n FROM orders WHERE tenant_id = \(bind: tenantId)").first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }



}

/// SQLKit rows read through the shared mapping.
struct SQLKitRow: ColumnReader {
    let row: any SQLRow
    init(_ row: any SQLRow) { self.row = row }

    func string(_ column: String) throws -> String { try row.decode(column: column, as: String.self) }
    func optionalString(_ column: String) throws -> String? { try row.decode(column: column, as: String?.self) }
    func int64(_ column: String) throws -> Int64 { try row.decode(column: column, as: Int64.self) }
    func optionalInt64(_ column: String) throws -> Int64? { try row.decode(column: column, as: Int64?.self) }
}

extension SQLStores: OutboxNotifications {
    public func onOutboxNotification(_ handler: @escaping @Sendable () -> Void) {
        (engine as? PostgresEngine)?.listen(channel: PostgresEngine.outboxChannel, onNotification: handler)
    }
}
