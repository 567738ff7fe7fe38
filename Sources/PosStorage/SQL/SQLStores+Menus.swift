import Foundation
import PosDomain

// MARK: MenuStore

extension SQLStores {
    public func syncMenus(tenantId: String, outletId: String, menus: [StoredMenu], at: Int64,
                          publication: @escaping @Sendable (MenuSyncSummary) -> EventPublication?) async throws -> MenuSyncSummary {
        try await write { db in
            let live = Dictionary(uniqueKeysWithValues: try db.query("""
                SELECT menu_id, content_sha256 FROM outlet_menus WHERE tenant_id = ? AND outlet_id = ? AND deleted_at IS NULL
                """, [tenantId, outletId]).map { (try $0.string("menu_id"), try $0.string("content_sha256")) })
            var summary = MenuSyncSummary()
            for menu in menus {
                switch live[menu.menuId] {
                case menu.contentSHA256?:
                    summary.unchanged.append(menu.menuId)
                    continue
                case nil: summary.created.append(menu.menuId)
                case _?: summary.updated.append(menu.menuId)
                }
                // A menu deleted earlier comes back under its id.
                try db.execute("""
                    INSERT INTO outlet_menus (tenant_id, outlet_id, menu_id, name, menu_type, document, content_sha256, created_at, updated_at, deleted_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
                    ON CONFLICT (tenant_id, outlet_id, menu_id) DO UPDATE SET name = excluded.name, menu_type = excluded.menu_type,
                        document = excluded.document, content_sha256 = excluded.content_sha256, updated_at = excluded.updated_at, deleted_at = NULL
                    """, [tenantId, outletId, menu.menuId, menu.name, menu.menuType, menu.document, menu.contentSHA256, at, at])
            }
            let kept = Set(menus.map(\.menuId))
            for menuId in live.keys.sorted() where !kept.contains(menuId) {
                try db.execute("UPDATE outlet_menus SET deleted_at = ?, updated_at = ? WHERE tenant_id = ? AND outlet_id = ? AND menu_id = ?",
                               [at, at, tenantId, outletId, menuId])
                summary.deleted.append(menuId)
            }
            if summary.changed {
                try Self.bumpMenuVersion(tenantId: tenantId, outletId: outletId, db)
                try Self.publish(publication(summary).map { [$0] } ?? [], makeDeliveryId: { UUID().uuidString.lowercased() }, db)
            }
            return summary
        }
    }

    public func liveMenus(tenantId: String, outletId: String) async throws -> (version: Int64, menus: [StoredMenu]) {
        let result = try await read { db -> VersionedMenus in
            let menus = try db.query("""
                SELECT menu_id, name, menu_type, document, content_sha256 FROM outlet_menus
                WHERE tenant_id = ? AND outlet_id = ? AND deleted_at IS NULL ORDER BY menu_id
                """, [tenantId, outletId]).map { row in
                StoredMenu(menuId: try row.string("menu_id"), name: try row.string("name"), menuType: try row.int("menu_type"),
                           document: try row.string("document"), contentSHA256: try row.string("content_sha256"))
            }
            return VersionedMenus(version: try Self.menuVersion(tenantId: tenantId, outletId: outletId, db), menus: menus)
        }
        return (result.version, result.menus)
    }

    private struct VersionedMenus: Sendable {
        let version: Int64
        let menus: [StoredMenu]
    }

    public func setSnoozes(tenantId: String, outletId: String, _ snoozes: [(itemCode: String, until: Int64?)], at: Int64,
                           publication: EventPublication?) async throws {
        let changes = snoozes.map { SnoozeChange(itemCode: $0.itemCode, until: $0.until) }
        try await write { db in
            for change in changes {
                if let until = change.until {
                    try db.execute("""
                        INSERT INTO item_snoozes (tenant_id, outlet_id, item_code, snooze_end, updated_at) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (tenant_id, outlet_id, item_code) DO UPDATE SET snooze_end = excluded.snooze_end, updated_at = excluded.updated_at
                        """, [tenantId, outletId, change.itemCode, until, at])
                } else {
                    try db.execute("DELETE FROM item_snoozes WHERE tenant_id = ? AND outlet_id = ? AND item_code = ?",
                                   [tenantId, outletId, change.itemCode])
                }
            }
            try Self.bumpMenuVersion(tenantId: tenantId, outletId: outletId, db)
            try Self.publish(publication.map { [$0] } ?? [], makeDeliveryId: { UUID().uuidString.lowercased() }, db)
        }
    }

    private struct SnoozeChange: Sendable {
        let itemCode: String
        let until: Int64?
    }

    public func snoozes(tenantId: String, outletId: String, now: Int64) async throws -> [String: Int64] {
        try await read { db in
            Dictionary(uniqueKeysWithValues: try db.query("""
                SELECT item_code, snooze_end FROM item_snoozes WHERE tenant_id = ? AND outlet_id = ? AND snooze_end > ?
                """, [tenantId, outletId, now]).map { (try $0.string("item_code"), try $0.int64("snooze_end")) })
        }
    }

    public func menuVersion(tenantId: String, outletId: String) async throws -> Int64 {
        try await read { db in try Self.menuVersion(tenantId: tenantId, outletId: outletId, db) }
    }

    static func menuVersion(tenantId: String, outletId: String, _ db: any SQLSession) throws -> Int64 {
        try db.queryOne("SELECT version FROM outlet_menu_versions WHERE tenant_id = ? AND outlet_id = ?", [tenantId, outletId])?
            .int64("version") ?? 0
    }

    /// Anything an outlet sells changed: cached read models of it are stale.
    static func bumpMenuVersion(tenantId: String, outletId: String, _ db: any SQLSession) throws {
        try db.execute("""
            INSERT INTO outlet_menu_versions (tenant_id, outlet_id, version) VALUES (?, ?, 1)
            ON CONFLICT (tenant_id, outlet_id) DO UPDATE SET version = outlet_menu_versions.version + 1
            """, [tenantId, outletId])
    }
}
