import PosDomain

// MARK: CatalogStore
// Outlet writes take the tenant's outlet lock, product syncs the (tenant, provider)'s product lock
// (``SQLDialect/transactionLock(_:)``): each reads, lets the domain decide, and writes, and a
// concurrent one on another replica decides on what this one committed.

extension SQLStores {
    public func outlet(tenantId: String, id: String) async throws -> Outlet? {
        try await read { db in try Self.outlet(tenantId: tenantId, id: id, db) }
    }

    public func createOutlet(_ outlet: Outlet) async throws -> Outlet {
        try await write { db in
            try Self.lockOutlets(tenantId: outlet.tenantId, db)
            if let externalId = outlet.externalId,
               try Self.linkedOutlet(tenantId: outlet.tenantId, provider: outlet.provider, externalId: externalId, db) != nil {
                throw StoreError.conflict("an outlet with externalId \"\(externalId)\" already exists for provider \"\(outlet.provider)\"")
            }
            try Self.save(outlet, db)
            return outlet
        }
    }

    public func syncOutlet(_ write: OutletSyncWrite) async throws -> (action: OutletSyncAction, outlet: Outlet) {
        let result = try await self.write { db -> SyncedOutlet in
            try Self.lockOutlets(tenantId: write.tenantId, db)
            let linked = try write.input.externalId.flatMap { externalId in
                try Self.linkedOutlet(tenantId: write.tenantId, provider: write.provider, externalId: externalId, db)
            }
            var sameName: Outlet?
            if linked == nil {
                sameName = try db.queryOne("""
                    SELECT \(SharedSQL.outletColumns) FROM outlets WHERE tenant_id = ? AND name = ? AND external_id IS NULL
                    ORDER BY created_at, id LIMIT 1
                    """, [write.tenantId, write.input.name]).map(RecordMapping.outlet)
            }
            let decided = Outlet.synced(write.input, provider: write.provider, linked: linked, sameName: sameName, newId: write.newId,
                                        tenantId: write.tenantId, at: write.at)
            if decided.outlet != (linked ?? sameName) { try Self.save(decided.outlet, db) }
            return SyncedOutlet(action: decided.action, outlet: decided.outlet)
        }
        return (result.action, result.outlet)
    }

    private struct SyncedOutlet: Sendable {
        let action: OutletSyncAction
        let outlet: Outlet
    }

    public func outlets(tenantId: String, provider: String?, limit: Int, after: OutletCursor?) async throws -> [Outlet] {
        try await read { db in
            var sql = "SELECT \(SharedSQL.outletColumns) FROM outlets WHERE tenant_id = ?"
            var arguments: [any SQLBindable] = [tenantId]
            if let provider { sql += " AND provider = ?"; arguments.append(provider) }
            if let after {
                sql += " AND (created_at > ? OR (created_at = ? AND id > ?))"
                arguments += [after.createdAt, after.createdAt, after.id]
            }
            sql += " ORDER BY created_at, id LIMIT ?"
            arguments.append(limit)
            return try db.query(sql, arguments).map(RecordMapping.outlet)
        }
    }

    public func changeOutletState(tenantId: String, id: String, _ change: OutletStateChange, at: Int64,
                                  events: @escaping @Sendable (Outlet) -> [EventPublication],
                                  makeDeliveryId: @escaping @Sendable () -> String) async throws -> OutletStateResult? {
        try await write { db -> OutletStateResult? in
            try Self.lockOutlets(tenantId: tenantId, db)
            guard let outlet = try Self.outlet(tenantId: tenantId, id: id, db) else { return nil }
            guard let changed = outlet.applying(change, at: at) else { return OutletStateResult(outlet: outlet, changed: false) }
            try Self.save(changed, db)
            try Self.publish(events(changed), makeDeliveryId: makeDeliveryId, db)
            return OutletStateResult(outlet: changed, changed: true)
        }
    }

    public func outletStatus(tenantId: String, id: String) async throws -> OutletStatus? {
        try await read { db in
            try db.queryOne("SELECT status FROM outlets WHERE id = ? AND tenant_id = ?", [id, tenantId])
                .flatMap { OutletStatus(rawValue: try $0.string("status")) }
        }
    }

    private static func lockOutlets(tenantId: String, _ db: any SQLSession) throws {
        if let lock = db.dialect.transactionLock(SQLDialect.lockKey("outlets:\(tenantId)")) { try db.execute(lock) }
    }

    private static func outlet(tenantId: String, id: String, _ db: any SQLSession) throws -> Outlet? {
        try db.queryOne("SELECT \(SharedSQL.outletColumns) FROM outlets WHERE id = ? AND tenant_id = ?", [id, tenantId]).map(RecordMapping.outlet)
    }

    private static func linkedOutlet(tenantId: String, provider: String, externalId: String, _ db: any SQLSession) throws -> Outlet? {
        try db.queryOne("SELECT \(SharedSQL.outletColumns) FROM outlets WHERE tenant_id = ? AND provider = ? AND external_id = ?",
                        [tenantId, provider, externalId]).map(RecordMapping.outlet)
    }

    /// Inserts the outlet, or rewrites the tenant's outlet with its id.
    private static func save(_ outlet: Outlet, _ db: any SQLSession) throws {
        let columns = SharedSQL.outletColumnList
        let updates = columns.filter { !["id", "tenant_id", "created_at"].contains($0) }.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        try db.execute("""
            INSERT INTO outlets (\(SharedSQL.outletColumns)) VALUES (\(placeholders(columns.count)))
            ON CONFLICT (id) DO UPDATE SET \(updates) WHERE outlets.tenant_id = excluded.tenant_id
            """, RecordMapping.arguments(outlet))
    }

    // MARK: Products

    public func syncProducts(tenantId: String, provider: String, _ products: [Product], at: Int64) async throws -> ProductSyncResult {
        try await write { db in
            if let lock = db.dialect.transactionLock(SQLDialect.lockKey("products:\(tenantId):\(provider)")) { try db.execute(lock) }
            let existing = try db.query("SELECT item_code, content_hash, deleted_at FROM products WHERE tenant_id = ? AND provider = ? ORDER BY item_code",
                                        [tenantId, provider]).map { row in
                ProductSyncPlan.Existing(itemCode: try row.string("item_code"), contentHash: try row.string("content_hash"),
                                         isDeleted: try row.optionalInt64("deleted_at") != nil)
            }
            let plan = ProductSyncPlan(existing: existing, incoming: products)
            // Several rows per statement: on PostgreSQL each statement waits for its answer in place.
            for chunk in plan.inserts.chunked(100) {
                let rows = Array(repeating: "(?, ?, ?, ?, ?, ?, ?, NULL)", count: chunk.count).joined(separator: ", ")
                try db.execute("INSERT INTO products (\(SharedSQL.productColumns)) VALUES \(rows)", chunk.flatMap { product -> [any SQLBindable] in
                    [tenantId, provider, product.itemCode, product.document.serialized, product.contentHash, at, at]
                })
            }
            for product in plan.rewrites {
                try db.execute("""
                    UPDATE products SET document = ?, content_hash = ?, updated_at = ?, deleted_at = NULL
                    WHERE tenant_id = ? AND provider = ? AND item_code = ?
                    """, [product.document.serialized, product.contentHash, at, tenantId, provider, product.itemCode])
            }
            for chunk in plan.deletions.chunked(500) {
                try db.execute("""
                    UPDATE products SET deleted_at = ?, updated_at = ? WHERE tenant_id = ? AND provider = ? AND item_code IN (\(placeholders(chunk.count)))
                    """, [at, at, tenantId, provider] + chunk.map { $0 as any SQLBindable })
            }
            return plan.result
        }
    }

    public func products(tenantId: String, provider: String, filter: ProductFilter) async throws -> [StoredProduct] {
        try await read { db in
            var sql = "SELECT \(SharedSQL.productColumns) FROM products WHERE tenant_id = ? AND provider = ?"
            var arguments: [any SQLBindable] = [tenantId, provider]
            if !filter.includeDeleted { sql += " AND deleted_at IS NULL" }
            if let since = filter.updatedSince { sql += " AND updated_at >= ?"; arguments.append(since) }
            if let after = filter.after {
                sql += " AND (updated_at > ? OR (updated_at = ? AND item_code > ?))"
                arguments += [after.updatedAt, after.updatedAt, after.itemCode]
            }
            sql += " ORDER BY updated_at, item_code LIMIT ?"
            arguments.append(filter.limit)
            return try db.query(sql, arguments).map(RecordMapping.product)
        }
    }

    public func product(tenantId: String, provider: String, itemCode: String) async throws -> StoredProduct? {
        try await read { db in
            try db.queryOne("SELECT \(SharedSQL.productColumns) FROM products WHERE tenant_id = ? AND provider = ? AND item_code = ?",
                            [tenantId, provider, itemCode]).map(RecordMapping.product)
        }
    }
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
