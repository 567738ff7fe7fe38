import PosDomain

/// Rows to records. Column names are the schema's (see `Migrations`); queries select them as-is.
enum RecordMapping {
    static func tenant(_ row: SQLRow) throws -> Tenant {
        Tenant(id: try row.string("id"), subdomain: try row.string("subdomain"), name: try row.string("name"),
               status: try row.string("status"))
    }

    /// Expects the key's columns aliased `key_id`, `key_created_at` (they share a row with its tenant).
    static func apiKey(_ row: SQLRow) throws -> APIKeyRecord {
        APIKeyRecord(
            apiKeyId: try row.int64("key_id"),
            tenantId: try row.string("tenant_id"),
            scopes: try row.strings("scopes").compactMap(APIScope.init(rawValue:)),
            secretHash: try row.string("secret_hash"),
            createdAt: try row.int64("key_created_at"),
            expiresAt: try row.optionalInt64("expires_at"),
            revokedAt: try row.optionalInt64("revoked_at"),
            name: try row.string("key_name"),
            // Keys issued before migration 14 stored none: their id part alone.
            prefix: try row.string("key_prefix").nonEmpty,
            lastUsedAt: try row.optionalInt64("last_used_at"))
    }

    static func operatorKey(_ row: SQLRow) throws -> OperatorKeyRecord {
        OperatorKeyRecord(
            operatorKeyId: try row.int64("id"),
            name: try row.string("name"),
            prefix: try row.string("prefix"),
            secretHash: try row.string("secret_hash"),
            createdAt: try row.int64("created_at"),
            expiresAt: try row.optionalInt64("expires_at"),
            revokedAt: try row.optionalInt64("revoked_at"),
            lastUsedAt: try row.optionalInt64("last_used_at"))
    }

    static func webhookTarget(_ row: SQLRow) throws -> WebhookTarget {
        let webhook = Webhook(
            id: try row.int64("id"),
            tenantId: try row.string("tenant_id"),
            outletId: try row.optionalString("outlet_id"),
            provider: try row.string("provider"),
            callbackUrl: try row.string("callback_url"),
            events: try row.strings("events"),
            isActive: try row.bool("is_active"),
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

    static func order(_ row: SQLRow) throws -> OrderRecord {
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
            updatedAt: try row.int64("updated_at"),
            status: OrderStatus(rawValue: try row.string("status")) ?? .paid,
            version: try row.int64("status_version"),
            statusChangedAt: try row.optionalInt64("status_changed_at"),
            fulfilment: Fulfilment(rawValue: try row.string("fulfilment")) ?? .unknown)
    }

    static func statusChange(_ row: SQLRow) throws -> OrderStatusChange {
        OrderStatusChange(
            status: OrderStatus(rawValue: try row.string("status")) ?? .paid,
            previous: try row.optionalString("previous").flatMap(OrderStatus.init(rawValue:)),
            source: try row.string("source"), reason: try row.optionalString("reason"), posOrderId: try row.optionalString("pos_order_id"),
            occurredAt: try row.optionalInt64("occurred_at"), recordedAt: try row.int64("recorded_at"), stale: try row.bool("stale"))
    }

    static func inboundRequest(_ row: SQLRow) throws -> InboundRequestRecord {
        InboundRequestRecord(
            id: try row.int64("id"), tenantId: try row.string("tenant_id"), provider: try row.string("provider"),
            headers: try row.string("headers"), body: try row.string("body"), outcome: try row.string("outcome"),
            detail: try row.optionalString("detail"), statusCode: try row.int("status_code"), orderId: try row.optionalString("order_id"),
            receivedAt: try row.int64("received_at"))
    }

    static func delivery(_ row: SQLRow) throws -> Delivery {
        Delivery(
            id: try row.string("id"),
            tenantId: try row.string("tenant_id"),
            eventId: try row.string("event_id"),
            subject: EventSubject(EventSubject.Kind(rawValue: try row.string("subject_type")) ?? .order, id: try row.string("subject_id")),
            webhookId: try row.optionalInt64("webhook_id"),
            connector: try row.string("connector"),
            event: try row.string("event"),
            status: DeliveryStatus(rawValue: try row.string("status")) ?? .pending,
            attemptCount: try row.int("attempt_count"),
            attemptsStarted: try row.int("attempts_started"),
            nextAttemptAt: try row.optionalInt64("next_attempt_at"),
            lastStatusCode: try row.optionalInt("last_status_code"),
            lastError: try row.optionalString("last_error"),
            createdAt: try row.int64("created_at"),
            updatedAt: try row.int64("updated_at"),
            deliveredAt: try row.optionalInt64("delivered_at"),
            progress: try row.optionalString("progress"))
    }

    /// Expects the event's columns as ``SharedSQL/eventColumns`` names them, beside its delivery's.
    static func event(_ row: SQLRow) throws -> OutboxEvent {
        OutboxEvent(
            id: try row.string("event_id"), tenantId: try row.string("tenant_id"), type: try row.string("event_type"),
            subject: EventSubject(EventSubject.Kind(rawValue: try row.string("event_subject_type")) ?? .order,
                                  id: try row.string("event_subject_id")),
            outletId: try row.optionalString("event_outlet_id"), payload: try row.bytes("event_payload"),
            createdAt: try row.int64("event_created_at"), traceparent: try row.optionalString("event_traceparent"))
    }

    static func connection(_ row: SQLRow) throws -> ProviderConnection {
        ProviderConnection(
            tenantId: try row.string("tenant_id"), slug: try row.string("slug"), status: try row.string("status"),
            sealedApiKey: try row.string("api_key_sealed"), sealedApiSecret: try row.string("api_secret_sealed"),
            webhookUrl: try row.string("webhook_url"), baseUrl: try row.string("base_url"), config: try row.string("config"),
            createdAt: try row.int64("created_at"), updatedAt: try row.int64("updated_at"),
            connectionToken: try row.string("connection_token"), sealedWebhookSecret: try row.optionalString("webhook_secret_sealed"))
    }

    static func outletProvider(_ row: SQLRow) throws -> OutletProvider {
        OutletProvider(
            tenantId: try row.string("tenant_id"), outletId: try row.string("outlet_id"), providerSlug: try row.string("provider_slug"),
            externalId: try row.string("external_id"), settings: try row.string("settings"),
            createdAt: try row.int64("created_at"), updatedAt: try row.int64("updated_at"))
    }

    static func providerToken(_ row: SQLRow) throws -> ProviderToken {
        ProviderToken(
            tenantId: try row.string("tenant_id"), slug: try row.string("slug"),
            sealedAccessToken: try row.string("access_token_sealed"), sealedRefreshToken: try row.optionalString("refresh_token_sealed"),
            accessExpiresAt: try row.optionalInt64("access_expires_at"), version: try row.int64("version"),
            refreshOwner: try row.optionalString("refresh_owner"), refreshLeaseUntil: try row.optionalInt64("refresh_lease_until"),
            updatedAt: try row.int64("updated_at"))
    }

    static func outlet(_ row: SQLRow) throws -> Outlet {
        func json(_ column: String) throws -> JSONValue? { try row.optionalString(column).flatMap { JSONValue(parsing: $0) } }
        return Outlet(
            id: try row.string("id"), tenantId: try row.string("tenant_id"), name: try row.string("name"),
            status: OutletStatus(rawValue: try row.string("status")) ?? .open, externalId: try row.optionalString("external_id"),
            provider: try row.string("provider"), internalName: try row.optionalString("internal_name"), slug: try row.string("slug"),
            refCode: try row.optionalString("ref_code"), imageUrl: try row.optionalString("image_url"), address: try json("address"),
            contact: try json("contact"), isBusy: try row.bool("is_busy"), busyUntil: try row.optionalInt64("busy_until"),
            visible: try row.bool("visible"), timezone: try row.string("timezone"), openingHours: try json("opening_hours"),
            capabilities: try json("capabilities"), locationId: try row.optionalString("location_id"),
            channelLinkId: try row.optionalString("channel_link_id"), createdAt: try row.int64("created_at"),
            updatedAt: try row.int64("updated_at"), currency: try row.optionalString("currency"))
    }

    /// An outlet's values in ``SharedSQL/outletColumnList`` order.
    static func arguments(_ outlet: Outlet) -> [any SQLBindable] {
        [outlet.id, outlet.tenantId, outlet.provider, outlet.externalId, outlet.name, outlet.internalName, outlet.slug, outlet.refCode,
         outlet.imageUrl, outlet.address?.serialized, outlet.contact?.serialized, outlet.status.rawValue, outlet.isBusy, outlet.busyUntil,
         outlet.visible, outlet.timezone, outlet.currency, outlet.openingHours?.serialized, outlet.capabilities?.serialized, outlet.locationId,
         outlet.channelLinkId, outlet.createdAt, outlet.updatedAt]
    }

    static func product(_ row: SQLRow) throws -> StoredProduct {
        StoredProduct(
            tenantId: try row.string("tenant_id"), provider: try row.string("provider"), itemCode: try row.string("item_code"),
            document: JSONValue(parsing: try row.string("document")) ?? .null, contentHash: try row.string("content_hash"),
            createdAt: try row.int64("created_at"), updatedAt: try row.int64("updated_at"), deletedAt: try row.optionalInt64("deleted_at"))
    }

    static func attempt(_ row: SQLRow) throws -> DeliveryAttempt {
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

}

/// The SQL both engines share, where it needs no engine-specific syntax.
enum SharedSQL {
    /// `p` is an earlier delivery than `d` of the same subject to the same target, both ordered, in
    /// one of `statuses` (emission order). Open ones (`pending`, `failed`, `delivering`) hold `d`
    /// back; a `dead` one lets it go, and is noted on it.
    static func earlierDelivery(in statuses: [DeliveryStatus], _ dialect: SQLDialect) -> String {
        """
        p.tenant_id = d.tenant_id AND p.subject_type = d.subject_type AND p.subject_id = d.subject_id
            AND p.connector = d.connector AND COALESCE(p.webhook_id, 0) = COALESCE(d.webhook_id, 0)
            AND d.ordered AND p.ordered AND \(dialect.emissionOrder("p")) < \(dialect.emissionOrder("d"))
            AND p.status IN (\(statuses.map { "'\($0.rawValue)'" }.joined(separator: ", ")))
        """
    }

    /// An earlier delivery of its subject to its target is not yet delivered or dead.
    /// Found through the subject index: a subject has a handful of deliveries.
    static func waitsForEarlier(_ dialect: SQLDialect) -> String {
        """
        EXISTS (SELECT 1 FROM deliveries p \(dialect.indexedBy("deliveries_subject"))
                WHERE \(earlierDelivery(in: [.pending, .failed, .delivering], dialect)))
        """
    }

    static let keyColumns = """
        k.id AS key_id, k.tenant_id, k.secret_hash, k.scopes, k.created_at AS key_created_at, k.expires_at, k.revoked_at, k.name AS key_name,
        k.prefix AS key_prefix, k.last_used_at
        """
    static let operatorKeyColumns = "id, name, prefix, secret_hash, created_at, expires_at, revoked_at, last_used_at"
    static let webhookColumns = """
        w.id, w.tenant_id, w.outlet_id, w.provider, w.callback_url, w.events, w.is_active, w.created_at, w.updated_at, w.secret_sealed,
        w.previous_secret_sealed, w.previous_secret_expires_at, w.last_ping_status, w.last_ping_error, w.disabled_reason,
        w.consecutive_failures, w.failing_since, w.circuit_open_until
        """
    static let orderColumns = """
        o.id, o.tenant_id, o.outlet_id, o.event, o.order_uuid, o.order_ref_no, o.built_in_transformer, o.currency,
        o.total_pay_minor, o.payload_sha256, o.dispatch_status, o.dispatch_reason, o.first_response,
        o.external_order_id, o.received_at, o.updated_at, o.status, o.status_version, o.status_changed_at, o.fulfilment
        """
    static let deliveryColumns = """
        d.id, d.tenant_id, d.event_id, d.subject_type, d.subject_id, d.webhook_id, d.connector, d.event, d.status, d.attempt_count,
        d.attempts_started, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at, d.delivered_at, d.progress
        """
    /// An event's own columns, named apart from its delivery's (`e` joined on `d.event_id`).
    static let eventColumns = """
        e.type AS event_type, e.subject_type AS event_subject_type, e.subject_id AS event_subject_id, e.outlet_id AS event_outlet_id,
        e.payload AS event_payload, e.created_at AS event_created_at, e.traceparent AS event_traceparent
        """
    static let connectionColumns = """
        tenant_id, slug, status, api_key_sealed, api_secret_sealed, webhook_url, base_url, config, created_at, updated_at, connection_token,
        webhook_secret_sealed
        """
    static let statusChangeColumns = "status, previous, source, reason, pos_order_id, occurred_at, recorded_at, stale"
    static let inboundRequestColumns = "id, tenant_id, provider, headers, body, outcome, detail, status_code, order_id, received_at"
    static let outletProviderColumns = "tenant_id, outlet_id, provider_slug, external_id, settings, created_at, updated_at"
    static let providerTokenColumns = """
        tenant_id, slug, access_token_sealed, refresh_token_sealed, access_expires_at, version, refresh_owner, refresh_lease_until, updated_at
        """
    static let outletColumnList = [
        "id", "tenant_id", "provider", "external_id", "name", "internal_name", "slug", "ref_code", "image_url", "address", "contact", "status",
        "is_busy", "busy_until", "visible", "timezone", "currency", "opening_hours", "capabilities", "location_id", "channel_link_id",
        "created_at", "updated_at",
    ]
    static let outletColumns = outletColumnList.joined(separator: ", ")
    static let productColumns = "tenant_id, provider, item_code, document, content_hash, created_at, updated_at, deleted_at"
    static let attemptColumns = """
        a.delivery_id, a.attempt_number, a.started_at, a.duration_ms, a.status_code, a.error_class, a.error,
        a.response_excerpt, a.signed_with
        """
}

extension OrderRecord {
    /// The record of an order just accepted: pending, or already complete when nothing is to be delivered.
    static func accepted(_ order: NewOrder, completion: DispatchCompletion?) -> OrderRecord {
        OrderRecord(id: order.id, tenantId: order.tenantId, outletId: order.outletId, event: order.event,
                    orderUUID: order.orderUUID, orderRefNo: order.orderRefNo, builtInTransformer: order.builtInTransformer,
                    currency: order.currency, totalPayMinor: order.totalPayMinor, payloadSHA256: order.payloadSHA256,
                    dispatchStatus: completion?.status ?? .pending, dispatchReason: completion?.reason,
                    firstResponse: completion?.response, externalOrderId: nil,
                    receivedAt: order.receivedAt, updatedAt: completion?.at ?? order.receivedAt, fulfilment: order.fulfilment)
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
                     createdAt: new.createdAt, expiresAt: new.expiresAt, revokedAt: nil, name: new.name,
                     prefix: APIKeyToken.displayPrefix(id: id, secretStart: new.secretStart))
    }
}

extension OperatorKeyRecord {
    /// The record of an operator key just inserted with `id`.
    static func inserted(_ new: NewOperatorKey, id: Int64) -> OperatorKeyRecord {
        OperatorKeyRecord(operatorKeyId: id, name: new.name, prefix: OperatorKeyToken.displayPrefix(id: id, secretStart: new.secretStart),
                          secretHash: new.secretHash, createdAt: new.createdAt, expiresAt: new.expiresAt, revokedAt: nil, lastUsedAt: nil)
    }
}

private extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}

extension StoreError {
    static func subdomainTaken(_ tenant: Tenant) -> StoreError {
        .conflict("a tenant with subdomain \"\(tenant.subdomain)\" already exists")
    }

    static func webhookExists(_ new: NewWebhook) -> StoreError {
        .conflict(new.outletId.map { "outlet \"\($0)\" already has a webhook for provider \"\(new.provider)\"" }
            ?? "the tenant already has a tenant-wide webhook for provider \"\(new.provider)\"")
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
