import Foundation
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
        // The menu read shows the outlet's state and caches it by menu version.
        try bumpMenuVersion(tenantId: outlet.tenantId, outletId: outlet.id, db)
    }

    // MARK: Products

    public func syncProducts(tenantId: String, provider: String, _ products: [Product], at: Int64,
                             repriced: @escaping @Sendable (_ outletId: String) -> EventPublication?) async throws -> ProductSyncResult {
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
            try Self.replaceOutletPrices(tenantId: tenantId, provider: provider, plan, repriced: repriced, db)
            return plan.result
        }
    }

    /// Keeps `product_outlet_prices` in step with the products the plan writes; an outlet whose prices
    /// changed gets a new menu version (its cached read is stale) and, when it has menus, `repriced`'s event.
    private static func replaceOutletPrices(tenantId: String, provider: String, _ plan: ProductSyncPlan,
                                            repriced: (String) -> EventPublication?, _ db: any SQLSession) throws {
        struct Price: Hashable {
            let itemCode: String
            let outletId: String
            let price: String
        }
        var before = Set<Price>()
        for chunk in (plan.rewrites.map(\.itemCode) + plan.deletions).chunked(500) {
            let codes = chunk.map { $0 as any SQLBindable }
            for row in try db.query("""
                SELECT item_code, outlet_id, price FROM product_outlet_prices WHERE tenant_id = ? AND provider = ? AND item_code IN (\(placeholders(chunk.count)))
                """, [tenantId, provider] + codes) {
                before.insert(Price(itemCode: try row.string("item_code"), outletId: try row.string("outlet_id"), price: try row.string("price")))
            }
            try db.execute("DELETE FROM product_outlet_prices WHERE tenant_id = ? AND provider = ? AND item_code IN (\(placeholders(chunk.count)))",
                           [tenantId, provider] + codes)
        }
        let after = (plan.inserts + plan.rewrites).flatMap { product in
            product.outletPrices.map { Price(itemCode: product.itemCode, outletId: $0.outletId, price: $0.price.decimalText) }
        }
        for chunk in after.chunked(100) {
            let rows = Array(repeating: "(?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
            try db.execute("INSERT INTO product_outlet_prices (tenant_id, provider, item_code, outlet_id, price) VALUES \(rows)",
                           chunk.flatMap { price -> [any SQLBindable] in [tenantId, provider, price.itemCode, price.outletId, price.price] })
        }
        let outlets = Set(before.symmetricDifference(after).map(\.outletId)).sorted()
        guard !outlets.isEmpty else { return }
        for chunk in outlets.chunked(500) {
            let withMenus = Set(try db.query("""
                SELECT DISTINCT outlet_id FROM outlet_menus WHERE tenant_id = ? AND deleted_at IS NULL AND outlet_id IN (\(placeholders(chunk.count)))
                """, [tenantId] + chunk.map { $0 as any SQLBindable }).map { try $0.string("outlet_id") })
            for outletId in chunk {
                try bumpMenuVersion(tenantId: tenantId, outletId: outletId, db)
                // Only an outlet that sells something has something to tell.
                if withMenus.contains(outletId) {
                    try publish(repriced(outletId).map { [$0] } ?? [], makeDeliveryId: makeId, db)
                }
            }
        }
    }

    /// Where two providers synced one item code: the platform's own (`cata`) first, then by name.
    static let providerPreference = "CASE WHEN provider = 'cata' THEN 0 ELSE 1 END, provider"

    public func liveProducts(tenantId: String, itemCodes: [String]) async throws -> [StoredProduct] {
        let codes = Array(Set(itemCodes)).sorted()
        return try await read { db in
            var chosen: [String: StoredProduct] = [:]
            for chunk in codes.chunked(500) {
                // The first row of each code wins.
                for row in try db.query("""
                    SELECT \(SharedSQL.productColumns) FROM products
                    WHERE tenant_id = ? AND deleted_at IS NULL AND item_code IN (\(placeholders(chunk.count)))
                    ORDER BY item_code, \(Self.providerPreference)
                    """, [tenantId] + chunk.map { $0 as any SQLBindable }) {
                    let product = try RecordMapping.product(row)
                    if chosen[product.itemCode] == nil { chosen[product.itemCode] = product }
                }
            }
            return codes.compactMap { chosen[$0] }
        }
    }

    public func outletPrices(tenantId: String, outletId: String) async throws -> [String: String] {
        try await read { db in
            var prices: [String: String] = [:]
            for row in try db.query("""
                SELECT item_code, price FROM product_outlet_prices WHERE tenant_id = ? AND outlet_id = ?
                ORDER BY item_code, \(Self.providerPreference)
                """, [tenantId, outletId]) {
                let code = try row.string("item_code")
                if prices[code] == nil { prices[code] = try row.string("price") }
            }
            return prices
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
