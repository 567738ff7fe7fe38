import Foundation
import PosDomain
import SQLKit

/// Every store protocol over one ``SQLEngine``; the SQL is written once for SQLite and PostgreSQL.
public final class SQLStores: Stores {
    public let engine: any SQLEngine

    public init(engine: any SQLEngine) {
        self.engine = engine
    }

    /// Brings the schema up to date; returns the migration versions it applied.
    @discardableResult
    public func migrate(now: Int64) async throws -> [Int] {
        try await Migrations.run(on: engine, now: now)
    }

    public func shutdown() async {
        await engine.shutdown()
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
        guard inserted else { throw StoreError.conflict("a tenant with subdomain \"\(tenant.subdomain)\" already exists") }
    }

    public func tenant(id: String) async throws -> Tenant? {
        try await engine.withReader { db in
            try await db.raw("SELECT id, subdomain, name, status FROM tenants WHERE id = \(bind: id)").first().map(Self.tenant(from:))
        }
    }

    public func tenant(subdomain: String) async throws -> Tenant? {
        try await engine.withReader { db in
            try await db.raw("SELECT id, subdomain, name, status FROM tenants WHERE subdomain = \(bind: subdomain)").first().map(Self.tenant(from:))
        }
    }

    public func tenants() async throws -> [Tenant] {
        try await engine.withReader { db in
            try await db.raw("SELECT id, subdomain, name, status FROM tenants ORDER BY subdomain").all().map(Self.tenant(from:))
        }
    }

    static func tenant(from row: any SQLRow) throws -> Tenant {
        Tenant(
            id: try row.decode(column: "id", as: String.self),
            subdomain: try row.decode(column: "subdomain", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            status: try row.decode(column: "status", as: String.self)
        )
    }

    // MARK: APIKeyStore

    private static let keyColumns = "k.id AS key_id, k.tenant_id, k.secret_hash, k.scopes, k.created_at AS key_created_at, k.expires_at, k.revoked_at"

    public func createKey(_ key: NewAPIKey) async throws -> APIKeyRecord {
        let scopes = key.scopes.map(\.rawValue).joined(separator: ",")
        let id = try await engine.withTransaction { db in
            guard let row = try await db.raw("""
                INSERT INTO api_keys (tenant_id, secret_hash, scopes, created_at, expires_at)
                VALUES (\(bind: key.tenantId), \(bind: key.secretHash), \(bind: scopes), \(bind: key.createdAt), \(bind: key.expiresAt))
                RETURNING id
                """).first()
            else { throw StoreError.unavailable("insert returned no id") }
            return try row.decode(column: "id", as: Int64.self)
        }
        return APIKeyRecord(apiKeyId: id, tenantId: key.tenantId, scopes: key.scopes, secretHash: key.secretHash,
                            createdAt: key.createdAt, expiresAt: key.expiresAt, revokedAt: nil)
    }

    public func keyWithTenant(id: Int64) async throws -> (APIKeyRecord, Tenant)? {
        try await engine.withReader { db -> (APIKeyRecord, Tenant)? in
            guard let row = try await db.raw("""
                SELECT \(unsafeRaw: Self.keyColumns), t.id, t.subdomain, t.name, t.status
                FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = \(bind: id)
                """).first()
            else { return nil }
            return (try Self.key(from: row), try Self.tenant(from: row))
        }
    }

    public func keys(tenantId: String) async throws -> [APIKeyRecord] {
        try await engine.withReader { db in
            try await db.raw("SELECT \(unsafeRaw: Self.keyColumns) FROM api_keys k WHERE k.tenant_id = \(bind: tenantId) ORDER BY k.id")
                .all().map(Self.key(from:))
        }
    }

    public func revokeKey(id: Int64, at: Int64) async throws -> Bool {
        try await engine.withTransaction { db in
            try await db.raw("UPDATE api_keys SET revoked_at = \(bind: at) WHERE id = \(bind: id) AND revoked_at IS NULL RETURNING id").first() != nil
        }
    }

    static func key(from row: any SQLRow) throws -> APIKeyRecord {
        APIKeyRecord(
            apiKeyId: try row.decode(column: "key_id", as: Int64.self),
            tenantId: try row.decode(column: "tenant_id", as: String.self),
            scopes: try row.decode(column: "scopes", as: String.self).split(separator: ",").compactMap { APIScope(rawValue: String($0)) },
            secretHash: try row.decode(column: "secret_hash", as: String.self),
            createdAt: try row.decode(column: "key_created_at", as: Int64.self),
            expiresAt: try row.decode(column: "expires_at", as: Int64?.self),
            revokedAt: try row.decode(column: "revoked_at", as: Int64?.self)
        )
    }

    // MARK: WebhookStore

    private static let webhookColumns = "w.id, w.tenant_id, w.outlet_id, w.provider, w.callback_url, w.events, w.is_active, w.created_at, w.updated_at, w.secret_sealed"

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
        guard let id else {
            throw StoreError.conflict("outlet \"\(webhook.outletId)\" already has a webhook for provider \"\(webhook.provider)\"")
        }
        return Webhook(id: id, tenantId: webhook.tenantId, outletId: webhook.outletId, provider: webhook.provider,
                       callbackUrl: webhook.callbackUrl, events: webhook.events, isActive: true,
                       createdAt: webhook.createdAt, updatedAt: webhook.createdAt)
    }

    public func webhook(id: Int64, tenantId: String) async throws -> Webhook? {
        try await engine.withReader { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.webhookColumns) FROM webhooks w
                WHERE w.id = \(bind: id) AND w.tenant_id = \(bind: tenantId) AND w.deleted_at IS NULL
                """).first().map { try Self.webhookTarget(from: $0).webhook }
        }
    }

    static func webhookTarget(from row: any SQLRow) throws -> WebhookTarget {
        let webhook = Webhook(
            id: try row.decode(column: "id", as: Int64.self),
            tenantId: try row.decode(column: "tenant_id", as: String.self),
            outletId: try row.decode(column: "outlet_id", as: String.self),
            provider: try row.decode(column: "provider", as: String.self),
            callbackUrl: try row.decode(column: "callback_url", as: String.self),
            events: try row.decode(column: "events", as: String.self).split(separator: ",").map(String.init),
            isActive: try row.decode(column: "is_active", as: Int64.self) != 0,
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            updatedAt: try row.decode(column: "updated_at", as: Int64.self)
        )
        return WebhookTarget(webhook: webhook, sealedSecret: try row.decode(column: "secret_sealed", as: String.self))
    }

    // MARK: OrderStore

    private static let orderColumns = """
        o.id, o.tenant_id, o.outlet_id, o.event, o.order_uuid, o.order_ref_no, o.built_in_transformer, o.currency,
        o.total_pay_minor, o.payload_sha256, o.dispatch_status, o.dispatch_reason, o.first_response,
        o.external_order_id, o.received_at, o.updated_at
        """

    public func acceptOrder(_ order: NewOrder, makeDeliveryId: @escaping @Sendable () -> String) async throws -> AcceptedOrder {
        try await engine.withTransaction { db -> AcceptedOrder in
            let inserted = try await db.raw("""
                INSERT INTO orders (id, tenant_id, outlet_id, event, order_uuid, order_ref_no, built_in_transformer, currency,
                                    total_pay_minor, payload, payload_sha256, dispatch_status, received_at, updated_at)
                VALUES (\(bind: order.id), \(bind: order.tenantId), \(bind: order.outletId), \(bind: order.event),
                        \(bind: order.orderUUID), \(bind: order.orderRefNo), \(bind: order.builtInTransformer), \(bind: order.currency),
                        \(bind: order.totalPayMinor), \(bind: Data(order.payload)), \(bind: order.payloadSHA256),
                        \(bind: DispatchStatus.pending.rawValue), \(bind: order.receivedAt), \(bind: order.receivedAt))
                ON CONFLICT (tenant_id, order_uuid, event) DO NOTHING RETURNING id
                """).first() != nil
            guard inserted else {
                guard let existing = try await db.raw("""
                    SELECT \(unsafeRaw: Self.orderColumns) FROM orders o
                    WHERE o.tenant_id = \(bind: order.tenantId) AND o.order_uuid = \(bind: order.orderUUID) AND o.event = \(bind: order.event)
                    """).first()
                else { throw StoreError.unavailable("conflicting order vanished") }
                return .existing(try Self.order(from: existing))
            }
            let targets = try await db.raw("""
                SELECT \(unsafeRaw: Self.webhookColumns) FROM webhooks w
                WHERE w.tenant_id = \(bind: order.tenantId) AND w.outlet_id = \(bind: order.outletId)
                  AND w.is_active = 1 AND w.deleted_at IS NULL
                ORDER BY w.id
                """).all().map(Self.webhookTarget(from:)).filter { $0.webhook.isSubscribed(to: order.event) }
            var planned: [PlannedDelivery] = []
            for target in targets {
                let delivery = Delivery(
                    id: makeDeliveryId(), tenantId: order.tenantId, orderId: order.id, webhookId: target.webhook.id,
                    connector: "webhook", event: order.event, status: .pending, attemptCount: 0,
                    nextAttemptAt: order.receivedAt, lastStatusCode: nil, lastError: nil,
                    createdAt: order.receivedAt, updatedAt: order.receivedAt, deliveredAt: nil)
                try await db.raw("""
                    INSERT INTO deliveries (id, tenant_id, order_id, webhook_id, connector, event, status, attempt_count,
                                            next_attempt_at, created_at, updated_at)
                    VALUES (\(bind: delivery.id), \(bind: delivery.tenantId), \(bind: delivery.orderId), \(bind: delivery.webhookId),
                            \(bind: delivery.connector), \(bind: delivery.event), \(bind: delivery.status.rawValue), 0,
                            \(bind: delivery.nextAttemptAt), \(bind: delivery.createdAt), \(bind: delivery.updatedAt))
                    """).run()
                planned.append(PlannedDelivery(delivery: delivery, target: target))
            }
            let record = OrderRecord(
                id: order.id, tenantId: order.tenantId, outletId: order.outletId, event: order.event,
                orderUUID: order.orderUUID, orderRefNo: order.orderRefNo, builtInTransformer: order.builtInTransformer,
                currency: order.currency, totalPayMinor: order.totalPayMinor, payloadSHA256: order.payloadSHA256,
                dispatchStatus: .pending, dispatchReason: nil, firstResponse: nil, externalOrderId: nil,
                receivedAt: order.receivedAt, updatedAt: order.receivedAt)
            return .created(record, planned)
        }
    }

    public func recordAttempt(_ attempt: DeliveryAttempt, transition: DeliveryTransition, at: Int64) async throws {
        try await engine.withTransaction { db in
            try await db.raw("""
                INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms, status_code, error_class,
                                               error, response_excerpt, signed_with)
                VALUES (\(bind: attempt.deliveryId), \(bind: attempt.attemptNumber), \(bind: attempt.startedAt),
                        \(bind: attempt.durationMs), \(bind: attempt.statusCode), \(bind: attempt.errorClass),
                        \(bind: attempt.error), \(bind: attempt.responseExcerpt), \(bind: attempt.signedWith))
                """).run()
            let deliveredAt: Int64? = transition.status == .delivered ? at : nil
            try await db.raw("""
                UPDATE deliveries SET status = \(bind: transition.status.rawValue), attempt_count = \(bind: attempt.attemptNumber),
                    next_attempt_at = \(bind: transition.nextAttemptAt), last_status_code = \(bind: attempt.statusCode),
                    last_error = \(bind: attempt.error), lease_owner = NULL, lease_expires_at = NULL,
                    updated_at = \(bind: at), delivered_at = COALESCE(delivered_at, \(bind: deliveredAt))
                WHERE id = \(bind: attempt.deliveryId)
                """).run()
        }
    }

    public func completeDispatch(orderId: String, status: DispatchStatus, reason: String?, response: String, at: Int64) async throws {
        try await engine.withTransaction { db in
            try await db.raw("""
                UPDATE orders SET dispatch_status = \(bind: status.rawValue), dispatch_reason = \(bind: reason),
                    first_response = COALESCE(first_response, \(bind: response)), updated_at = \(bind: at)
                WHERE id = \(bind: orderId)
                """).run()
        }
    }

    public func order(id: String, tenantId: String) async throws -> OrderDetail? {
        try await engine.withReader { db -> OrderDetail? in
            guard let row = try await db.raw("""
                SELECT \(unsafeRaw: Self.orderColumns) FROM orders o WHERE o.id = \(bind: id) AND o.tenant_id = \(bind: tenantId)
                """).first()
            else { return nil }
            let deliveries = try await db.raw("""
                SELECT id, tenant_id, order_id, webhook_id, connector, event, status, attempt_count, next_attempt_at,
                       last_status_code, last_error, created_at, updated_at, delivered_at
                FROM deliveries WHERE order_id = \(bind: id) ORDER BY created_at, id
                """).all().map(Self.delivery(from:))
            let attempts = try await db.raw("""
                SELECT a.delivery_id, a.attempt_number, a.started_at, a.duration_ms, a.status_code, a.error_class, a.error,
                       a.response_excerpt, a.signed_with
                FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
                WHERE d.order_id = \(bind: id) ORDER BY a.started_at, a.attempt_number
                """).all().map(Self.attempt(from:))
            return OrderDetail(order: try Self.order(from: row), deliveries: deliveries, attempts: attempts)
        }
    }

    public func orderCount(tenantId: String) async throws -> Int {
        try await engine.withReader { db in
            try await db.raw("SELECT COUNT(*) AS n FROM orders WHERE tenant_id = \(bind: tenantId)").first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    static func order(from row: any SQLRow) throws -> OrderRecord {
        OrderRecord(
            id: try row.decode(column: "id", as: String.self),
            tenantId: try row.decode(column: "tenant_id", as: String.self),
            outletId: try row.decode(column: "outlet_id", as: String.self),
            event: try row.decode(column: "event", as: String.self),
            orderUUID: try row.decode(column: "order_uuid", as: String.self),
            orderRefNo: try row.decode(column: "order_ref_no", as: String.self),
            builtInTransformer: try row.decode(column: "built_in_transformer", as: String?.self),
            currency: try row.decode(column: "currency", as: String.self),
            totalPayMinor: try row.decode(column: "total_pay_minor", as: Int64.self),
            payloadSHA256: try row.decode(column: "payload_sha256", as: String.self),
            dispatchStatus: DispatchStatus(rawValue: try row.decode(column: "dispatch_status", as: String.self)) ?? .pending,
            dispatchReason: try row.decode(column: "dispatch_reason", as: String?.self),
            firstResponse: try row.decode(column: "first_response", as: String?.self),
            externalOrderId: try row.decode(column: "external_order_id", as: String?.self),
            receivedAt: try row.decode(column: "received_at", as: Int64.self),
            updatedAt: try row.decode(column: "updated_at", as: Int64.self)
        )
    }

    static func delivery(from row: any SQLRow) throws -> Delivery {
        Delivery(
            id: try row.decode(column: "id", as: String.self),
            tenantId: try row.decode(column: "tenant_id", as: String.self),
            orderId: try row.decode(column: "order_id", as: String.self),
            webhookId: try row.decode(column: "webhook_id", as: Int64?.self),
            connector: try row.decode(column: "connector", as: String.self),
            event: try row.decode(column: "event", as: String.self),
            status: DeliveryStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .pending,
            attemptCount: try row.decode(column: "attempt_count", as: Int.self),
            nextAttemptAt: try row.decode(column: "next_attempt_at", as: Int64?.self),
            lastStatusCode: try row.decode(column: "last_status_code", as: Int?.self),
            lastError: try row.decode(column: "last_error", as: String?.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            updatedAt: try row.decode(column: "updated_at", as: Int64.self),
            deliveredAt: try row.decode(column: "delivered_at", as: Int64?.self)
        )
    }

    static func attempt(from row: any SQLRow) throws -> DeliveryAttempt {
        DeliveryAttempt(
            deliveryId: try row.decode(column: "delivery_id", as: String.self),
            attemptNumber: try row.decode(column: "attempt_number", as: Int.self),
            startedAt: try row.decode(column: "started_at", as: Int64.self),
            durationMs: try row.decode(column: "duration_ms", as: Int64.self),
            statusCode: try row.decode(column: "status_code", as: Int?.self),
            errorClass: try row.decode(column: "error_class", as: String?.self),
            error: try row.decode(column: "error", as: String?.self),
            responseExcerpt: try row.decode(column: "response_excerpt", as: String?.self),
            signedWith: try row.decode(column: "signed_with", as: String?.self)
        )
    }
}
