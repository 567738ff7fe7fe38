import PosDomain

/// Typed column access that both engines' rows provide, so rows become records in one place.
protocol ColumnReader {
    func string(_ column: String) throws -> String
    func optionalString(_ column: String) throws -> String?
    func int64(_ column: String) throws -> Int64
    func optionalInt64(_ column: String) throws -> Int64?
}

extension ColumnReader {
    func int(_ column: String) throws -> Int { Int(try int64(column)) }
    func optionalInt(_ column: String) throws -> Int? { try optionalInt64(column).map(Int.init) }
}

/// Rows to records. Column names are the schema's (see `Migrations`); queries select them as-is.
enum RecordMapping {
    static func tenant(_ row: some ColumnReader) throws -> Tenant {
        Tenant(id: try row.string("id"), subdomain: try row.string("subdomain"), name: try row.string("name"),
               status: try row.string("status"))
    }

    /// Expects the key's columns aliased `key_id`, `key_created_at` (they share a row with its tenant).
    static func apiKey(_ row: some ColumnReader) throws -> APIKeyRecord {
        APIKeyRecord(
            apiKeyId: try row.int64("key_id"),
            tenantId: try row.string("tenant_id"),
            scopes: try row.string("scopes").split(separator: ",").compactMap { APIScope(rawValue: String($0)) },
            secretHash: try row.string("secret_hash"),
            createdAt: try row.int64("key_created_at"),
            expiresAt: try row.optionalInt64("expires_at"),
            revokedAt: try row.optionalInt64("revoked_at"))
    }

    static func webhookTarget(_ row: some ColumnReader) throws -> WebhookTarget {
        let webhook = Webhook(
            id: try row.int64("id"),
            tenantId: try row.string("tenant_id"),
            outletId: try row.string("outlet_id"),
            provider: try row.string("provider"),
            callbackUrl: try row.string("callback_url"),
            events: try row.string("events").split(separator: ",").map(String.init),
            isActive: try row.int64("is_active") != 0,
            createdAt: try row.int64("created_at"),
            updatedAt: try row.int64("updated_at"),
            disabledReason: try row.optionalString("disabled_reason"),
            lastPingStatus: try row.optionalInt("last_ping_status"),
            lastPingError: try row.optionalString("last_ping_error"),
            previousSecretExpiresAt: try row.optionalInt64("previous_secret_expires_at"),
            health: EndpointHealth(consecutiveFailures: try row.int("consecutive_failures"), failingSince: try row.optionalInt64("failing_since"),
                                   circuitOpenUntil: try row.optionalInt64("circuit_open_until")))
        return WebhookTarget(webhook: webhook, sealedSecret: try row.string("secret_sealed"),
                             previousSealedSecret: try row.optionalString("previous_secret_sealed"))
    }

    static func order(_ row: some ColumnReader) throws -> OrderRecord {
        OrderRecord(
            id: try row.string("id"),
            tenantId: try row.string("tenant_id"),
            outletId: try row.string("outlet_id"),
            event: try row.string("event"),
            orderUUID: try row.string("order_uuid"),
            orderRefNo: try row.string("order_ref_no"),
            builtInTransformer: try row.optionalString("built_in_transformer"),
            currency: try row.string("currency"),
            totalPayMinor: try row.int64("total_pay_minor"),
            payloadSHA256: try row.string("payload_sha256"),
            dispatchStatus: DispatchStatus(rawValue: try row.string("dispatch_status")) ?? .pending,
            dispatchReason: try row.optionalString("dispatch_reason"),
            firstResponse: try row.optionalString("first_response"),
            externalOrderId: try row.optionalString("external_order_id"),
            receivedAt: try row.int64("received_at"),
            updatedAt: try row.int64("updated_at"))
    }

    static func delivery(_ row: some ColumnReader) throws -> Delivery {
        Delivery(
            id: try row.string("id"),
            tenantId: try row.string("tenant_id"),
            orderId: try row.string("order_id"),
            webhookId: try row.optionalInt64("webhook_id"),
            connector: try row.string("connector"),
            event: try row.string("event"),
            status: DeliveryStatus(rawValue: try row.string("status")) ?? .pending,
            attemptCount: try row.int("attempt_count"),
            nextAttemptAt: try row.optionalInt64("next_attempt_at"),
            lastStatusCode: try row.optionalInt("last_status_code"),
            lastError: try row.optionalString("last_error"),
            createdAt: try row.int64("created_at"),
            updatedAt: try row.int64("updated_at"),
            deliveredAt: try row.optionalInt64("delivered_at"),
            progress: try row.optionalString("progress"))
    }

    static func connection(_ row: some ColumnReader) throws -> ProviderConnection {
        ProviderConnection(
            tenantId: try row.string("tenant_id"), slug: try row.string("slug"), status: try row.string("status"),
            sealedApiKey: try row.string("api_key_sealed"), sealedApiSecret: try row.string("api_secret_sealed"),
            webhookUrl: try row.string("webhook_url"), baseUrl: try row.string("base_url"), config: try row.string("config"),
            createdAt: try row.int64("created_at"), updatedAt: try row.int64("updated_at"))
    }

    static func outletProvider(_ row: some ColumnReader) throws -> OutletProvider {
        OutletProvider(
            tenantId: try row.string("tenant_id"), outletId: try row.string("outlet_id"), providerSlug: try row.string("provider_slug"),
            externalId: try row.string("external_id"), settings: try row.string("settings"),
            createdAt: try row.int64("created_at"), updatedAt: try row.int64("updated_at"))
    }

    static func attempt(_ row: some ColumnReader) throws -> DeliveryAttempt {
        DeliveryAttempt(
            deliveryId: try row.string("delivery_id"),
            attemptNumber: try row.int("attempt_number"),
            startedAt: try row.int64("started_at"),
            durationMs: try row.int64("duration_ms"),
            statusCode: try row.optionalInt("status_code"),
            errorClass: try row.optionalString("error_class"),
            error: try row.optionalString("error"),
            responseExcerpt: try row.optionalString("response_excerpt"),
            signedWith: try row.optionalString("signed_with"))
    }

    static func scopes(_ scopes: [APIScope]) -> String { scopes.map(\.rawValue).joined(separator: ",") }
}

/// The SQL both engines share, where it needs no engine-specific syntax.
enum SharedSQL {
    static let keyColumns = "k.id AS key_id, k.tenant_id, k.secret_hash, k.scopes, k.created_at AS key_created_at, k.expires_at, k.revoked_at"
    static let webhookColumns = """
        w.id, w.tenant_id, w.outlet_id, w.provider, w.callback_url, w.events, w.is_active, w.created_at, w.updated_at, w.secret_sealed,
        w.previous_secret_sealed, w.previous_secret_expires_at, w.last_ping_status, w.last_ping_error, w.disabled_reason,
        w.consecutive_failures, w.failing_since, w.circuit_open_until
        """
    static let orderColumns = """
        o.id, o.tenant_id, o.outlet_id, o.event, o.order_uuid, o.order_ref_no, o.built_in_transformer, o.currency,
        o.total_pay_minor, o.payload_sha256, o.dispatch_status, o.dispatch_reason, o.first_response,
        o.external_order_id, o.received_at, o.updated_at
        """
    static let deliveryColumns = deliveryColumns(nil)

    /// The delivery columns, qualified by `table` when the query joins others.
    static func deliveryColumns(_ table: String?) -> String {
        let prefix = table.map { "\($0)." } ?? ""
        return ["id", "tenant_id", "order_id", "webhook_id", "connector", "event", "status", "attempt_count", "next_attempt_at",
                "last_status_code", "last_error", "created_at", "updated_at", "delivered_at", "progress"].map { prefix + $0 }.joined(separator: ", ")
    }
    static let connectionColumns = """
        tenant_id, slug, status, api_key_sealed, api_secret_sealed, webhook_url, base_url, config, created_at, updated_at
        """
    static let outletProviderColumns = "tenant_id, outlet_id, provider_slug, external_id, settings, created_at, updated_at"
    static let attemptColumns = """
        a.delivery_id, a.attempt_number, a.started_at, a.duration_ms, a.status_code, a.error_class, a.error,
        a.response_excerpt, a.signed_with
        """
}

extension Delivery {
    /// The outbox row written with a new order: leased to the dispatch request for its first
    /// attempt — or, when the endpoint's circuit is open, pending until it closes.
    static func firstFor(order: NewOrder, target: WebhookTarget, id: String) -> Delivery {
        let circuitOpen = target.webhook.health.isOpen(at: order.receivedAt)
        return Delivery(id: id, tenantId: order.tenantId, orderId: order.id, webhookId: target.webhook.id, connector: "webhook",
                 event: order.event, status: circuitOpen ? .pending : .delivering, attemptCount: 0,
                 nextAttemptAt: circuitOpen ? target.webhook.health.circuitOpenUntil : order.receivedAt,
                 lastStatusCode: nil, lastError: nil, createdAt: order.receivedAt, updatedAt: order.receivedAt, deliveredAt: nil)
    }

    /// The one outbox row of an order for a built-in transformer, leased to the dispatch request.
    static func firstFor(order: NewOrder, connector: String, id: String) -> Delivery {
        Delivery(id: id, tenantId: order.tenantId, orderId: order.id, webhookId: nil, connector: connector, event: order.event,
                 status: .delivering, attemptCount: 0, nextAttemptAt: order.receivedAt, lastStatusCode: nil, lastError: nil,
                 createdAt: order.receivedAt, updatedAt: order.receivedAt, deliveredAt: nil)
    }

    /// The deliveries written with a new order: one to its connector, or one per subscribed webhook.
    static func planned(for order: NewOrder, webhooks: [WebhookTarget], makeId: () -> String) -> [PlannedDelivery] {
        if let connector = order.builtInTransformer {
            return [PlannedDelivery(delivery: firstFor(order: order, connector: connector, id: makeId()), target: nil)]
        }
        return webhooks.map { PlannedDelivery(delivery: firstFor(order: order, target: $0, id: makeId()), target: $0) }
    }
}

extension OrderRecord {
    /// The record of an order just accepted: pending, or already complete when nothing is to be delivered.
    static func accepted(_ order: NewOrder, completion: DispatchCompletion?) -> OrderRecord {
        OrderRecord(id: order.id, tenantId: order.tenantId, outletId: order.outletId, event: order.event,
                    orderUUID: order.orderUUID, orderRefNo: order.orderRefNo, builtInTransformer: order.builtInTransformer,
                    currency: order.currency, totalPayMinor: order.totalPayMinor, payloadSHA256: order.payloadSHA256,
                    dispatchStatus: completion?.status ?? .pending, dispatchReason: completion?.reason,
                    firstResponse: completion?.response, externalOrderId: nil,
                    receivedAt: order.receivedAt, updatedAt: completion?.at ?? order.receivedAt)
    }
}

extension Webhook {
    /// The record of a webhook just inserted with `id`.
    static func inserted(_ new: NewWebhook, id: Int64) -> Webhook {
        Webhook(id: id, tenantId: new.tenantId, outletId: new.outletId, provider: new.provider, callbackUrl: new.callbackUrl,
                events: new.events, isActive: true, createdAt: new.createdAt, updatedAt: new.createdAt)
    }
}

extension APIKeyRecord {
    /// The record of a key just inserted with `id`.
    static func inserted(_ new: NewAPIKey, id: Int64) -> APIKeyRecord {
        APIKeyRecord(apiKeyId: id, tenantId: new.tenantId, scopes: new.scopes, secretHash: new.secretHash,
                     createdAt: new.createdAt, expiresAt: new.expiresAt, revokedAt: nil)
    }
}

extension StoreError {
    static func subdomainTaken(_ tenant: Tenant) -> StoreError {
        .conflict("a tenant with subdomain \"\(tenant.subdomain)\" already exists")
    }

    static func webhookExists(_ new: NewWebhook) -> StoreError {
        .conflict("outlet \"\(new.outletId)\" already has a webhook for provider \"\(new.provider)\"")
    }
}

extension Delivery {
    /// This delivery made due again now (a manual retry).
    func requeued(at now: Int64) -> Delivery {
        var copy = self
        copy.status = .pending
        copy.nextAttemptAt = now
        copy.updatedAt = now
        return copy
    }
}

extension ClaimedDelivery {
    /// Joins claimed rows with their webhooks and order payloads; a row missing either is skipped
    /// (its lease runs out and it is looked at again).
    static func assemble(_ deliveries: [Delivery], targets: [WebhookTarget], orders: [String: (outletId: String, payload: [UInt8])]) -> [ClaimedDelivery] {
        let targetsById = Dictionary(targets.map { ($0.webhook.id, $0) }, uniquingKeysWith: { first, _ in first })
        return deliveries.compactMap { delivery in
            guard let order = orders[delivery.orderId] else { return nil }
            let target = delivery.webhookId.flatMap { targetsById[$0] }
            if delivery.webhookId != nil, target == nil { return nil }
            var leased = delivery
            leased.status = .delivering
            return ClaimedDelivery(delivery: leased, target: target, outletId: order.outletId, orderBytes: order.payload)
        }
    }

}

extension ClaimedDelivery {
    /// Of the due candidates, those a worker may take: all of a closed circuit's, one probe for a
    /// half-open circuit; returns them and the half-open webhooks probed.
    static func admissible(_ candidates: [(id: String, webhookId: Int64?, circuitOpenUntil: Int64?)], now: Int64) -> (ids: [String], probed: [Int64]) {
        var ids: [String] = []
        var probed: [Int64] = []
        for candidate in candidates {
            guard let webhookId = candidate.webhookId, let openUntil = candidate.circuitOpenUntil, openUntil <= now else {
                ids.append(candidate.id)
                continue
            }
            guard !probed.contains(webhookId) else { continue }
            probed.append(webhookId)
            ids.append(candidate.id)
        }
        return (ids, probed)
    }
}
