import PosDomain

// MARK: OrderStatusStore
// A status change is a compare-and-set on the order's version: the service decides with the state
// machine from what it read, and the write only lands if nobody changed the order since.

extension SQLStores {
    public func orderRecord(id: String, tenantId: String) async throws -> OrderRecord? {
        try await read { db in
            try db.queryOne("SELECT \(SharedSQL.orderColumns) FROM orders o WHERE o.id = ? AND o.tenant_id = ?", [id, tenantId])
                .map(RecordMapping.order)
        }
    }

    public func order(tenantId: String, externalOrderId: String) async throws -> OrderRecord? {
        try await read { db in
            try db.queryOne("""
                SELECT \(SharedSQL.orderColumns) FROM orders o WHERE o.tenant_id = ? AND o.external_order_id = ? ORDER BY o.received_at DESC LIMIT 1
                """, [tenantId, externalOrderId]).map(RecordMapping.order)
        }
    }

    public func order(tenantId: String, orderUUID: String) async throws -> OrderRecord? {
        try await read { db in
            try db.queryOne("""
                SELECT \(SharedSQL.orderColumns) FROM orders o WHERE o.tenant_id = ? AND o.order_uuid = ? AND o.event = ?
                """, [tenantId, orderUUID, EventCatalogue.orderPaid]).map(RecordMapping.order)
        }
    }

    public func recordStatusChange(_ write: StatusChangeWrite, makeDeliveryId: @escaping @Sendable () -> String) async throws -> OrderRecord? {
        try await self.write { db -> OrderRecord? in
            let change = write.change
            if !change.stale {
                guard try db.execute("""
                    UPDATE orders SET status = ?, status_version = status_version + 1, status_changed_at = ?,
                        external_order_id = COALESCE(external_order_id, ?), updated_at = ?
                    WHERE id = ? AND tenant_id = ? AND status_version = ?
                    """, [change.status.rawValue, change.occurredAt ?? change.recordedAt, change.posOrderId, change.recordedAt,
                          write.orderId, write.tenantId, write.expectedVersion]) == 1
                else { return nil }
            } else {
                // A stale report changes nothing, but it must still be about the order as it was read.
                guard try db.queryOne("SELECT 1 AS one FROM orders WHERE id = ? AND tenant_id = ? AND status_version = ?",
                                      [write.orderId, write.tenantId, write.expectedVersion]) != nil
                else { return nil }
            }
            try db.execute("""
                INSERT INTO order_status_history (tenant_id, order_id, \(SharedSQL.statusChangeColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [write.tenantId, write.orderId, change.status.rawValue, change.previous?.rawValue, change.source, change.reason,
                      change.posOrderId, change.occurredAt, change.recordedAt, change.stale])
            if let reason = write.deadLetterWaitingDispatch {
                try db.execute("""
                    UPDATE deliveries SET status = 'dead', last_error = ?, next_attempt_at = NULL, updated_at = ?
                    WHERE tenant_id = ? AND subject_type = 'order' AND subject_id = ? AND event = ? AND status IN ('pending', 'failed')
                    """, [reason, change.recordedAt, write.tenantId, write.orderId, EventCatalogue.orderPaid])
            }
            try Self.publish(write.publications, makeDeliveryId: makeDeliveryId, db)
            return try db.queryOne("SELECT \(SharedSQL.orderColumns) FROM orders o WHERE o.id = ?", [write.orderId]).map(RecordMapping.order)
        }
    }

    public func statusHistory(orderId: String, tenantId: String) async throws -> [OrderStatusChange] {
        try await read { db in try Self.statusHistory(orderId: orderId, tenantId: tenantId, db) }
    }

    static func statusHistory(orderId: String, tenantId: String, _ db: any SQLSession) throws -> [OrderStatusChange] {
        try db.query("""
            SELECT \(SharedSQL.statusChangeColumns) FROM order_status_history WHERE order_id = ? AND tenant_id = ? ORDER BY id
            """, [orderId, tenantId]).map(RecordMapping.statusChange)
    }

    public func recordInbound(_ request: InboundRequestRecord) async throws {
        try await write { db in
            try db.execute("""
                INSERT INTO inbound_requests (tenant_id, provider, headers, body, outcome, detail, status_code, order_id, received_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [request.tenantId, request.provider, request.headers, request.body, request.outcome, request.detail, request.statusCode,
                      request.orderId, request.receivedAt])
        }
    }

    public func inboundRequests(tenantId: String, limit: Int) async throws -> [InboundRequestRecord] {
        try await read { db in
            try db.query("""
                SELECT \(SharedSQL.inboundRequestColumns) FROM inbound_requests WHERE tenant_id = ? ORDER BY received_at DESC, id DESC LIMIT ?
                """, [tenantId, limit]).map(RecordMapping.inboundRequest)
        }
    }

    public func connection(token: String) async throws -> ProviderConnection? {
        try await read { db in
            try db.queryOne("SELECT \(SharedSQL.connectionColumns) FROM provider_connections WHERE connection_token = ?", [token])
                .map(RecordMapping.connection)
        }
    }

    public func inboundEvent(tenantId: String, provider: String, eventKey: String) async throws -> InboundEventRecord? {
        try await read { db in
            try db.queryOne("""
                SELECT tenant_id, provider, event_key, outcome, order_id, received_at FROM inbound_events
                WHERE tenant_id = ? AND provider = ? AND event_key = ?
                """, [tenantId, provider, eventKey]).map { row in
                InboundEventRecord(tenantId: try row.string("tenant_id"), provider: try row.string("provider"), eventKey: try row.string("event_key"),
                                   outcome: try row.string("outcome"), orderId: try row.optionalString("order_id"),
                                   receivedAt: try row.int64("received_at"))
            }
        }
    }

    @discardableResult
    public func recordInboundEvent(_ event: InboundEventRecord) async throws -> Bool {
        try await write { db in
            try db.execute("""
                INSERT INTO inbound_events (tenant_id, provider, event_key, outcome, order_id, received_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, provider, event_key) DO NOTHING
                """, [event.tenantId, event.provider, event.eventKey, event.outcome, event.orderId, event.receivedAt]) == 1
        }
    }
}
