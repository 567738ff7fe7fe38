import Foundation
import PosDomain

// MARK: MenuStore

extension SQLStores {
    public func syncMenus(tenantId: String, outletId: String, menus: [StoredMenu], at: Int64,
                          publication: @escaping @Sendable (MenuSyncSummary) -> EventPublication?) async throws -> MenuSyncSummary {
        try await write { db in try Self.replaceMenus(tenantId: tenantId, outletId: outletId, menus, at: at, publication: publication, db) }
    }

    /// The outlet's live menus become `menus` exactly: new ones inserted, changed ones rewritten,
    /// absent ones soft-deleted; a menu whose content hash is unchanged is left alone. A change bumps
    /// the outlet's menu version and publishes `publication`'s event.
    private static func replaceMenus(tenantId: String, outletId: String, _ menus: [StoredMenu], at: Int64,
                                     publication: (MenuSyncSummary) -> EventPublication?, _ db: any SQLSession) throws -> MenuSyncSummary {
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
            try bumpMenuVersion(tenantId: tenantId, outletId: outletId, db)
            try publish(publication(summary).map { [$0] } ?? [], makeDeliveryId: makeId, db)
        }
        return summary
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
            try Self.publish(publication.map { [$0] } ?? [], makeDeliveryId: Self.makeId, db)
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

    // MARK: Drafts and publishing

    private static let draftColumns = "tenant_id, id, name, document, version, created_at, updated_at"

    private static func draft(_ row: SQLRow) throws -> StoredMenuDraft {
        StoredMenuDraft(tenantId: try row.string("tenant_id"), id: try row.string("id"), name: try row.string("name"),
                        document: try row.string("document"), version: try row.int64("version"), createdAt: try row.int64("created_at"),
                        updatedAt: try row.int64("updated_at"))
    }

    public func createDraft(_ draft: StoredMenuDraft) async throws {
        try await write { db in
            guard try db.queryOne("SELECT id FROM menu_drafts WHERE tenant_id = ? AND id = ?", [draft.tenantId, draft.id]) == nil else {
                throw StoreError.conflict("a menu draft with id \"\(draft.id)\" already exists")
            }
            try db.execute("INSERT INTO menu_drafts (\(Self.draftColumns), deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                           [draft.tenantId, draft.id, draft.name, draft.document, draft.version, draft.createdAt, draft.updatedAt])
        }
    }

    public func draft(tenantId: String, id: String) async throws -> StoredMenuDraft? {
        try await read { db in
            try db.queryOne("SELECT \(Self.draftColumns) FROM menu_drafts WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL", [tenantId, id])
                .map(Self.draft)
        }
    }

    public func drafts(tenantId: String, limit: Int, after: (createdAt: Int64, id: String)?) async throws -> [StoredMenuDraft] {
        let afterCreatedAt = after?.createdAt, afterId = after?.id
        return try await read { db in
            var sql = "SELECT \(Self.draftColumns) FROM menu_drafts WHERE tenant_id = ? AND deleted_at IS NULL"
            var arguments: [any SQLBindable] = [tenantId]
            if let afterCreatedAt, let afterId {
                sql += " AND (created_at > ? OR (created_at = ? AND id > ?))"
                arguments += [afterCreatedAt, afterCreatedAt, afterId]
            }
            sql += " ORDER BY created_at, id LIMIT ?"
            arguments.append(limit)
            return try db.query(sql, arguments).map(Self.draft)
        }
    }

    public func replaceDraft(_ draft: StoredMenuDraft, expectedVersion: Int64) async throws -> StoredMenuDraft? {
        try await write { db in
            let changed = try db.execute("""
                UPDATE menu_drafts SET name = ?, document = ?, version = version + 1, updated_at = ?
                WHERE tenant_id = ? AND id = ? AND version = ? AND deleted_at IS NULL
                """, [draft.name, draft.document, draft.updatedAt, draft.tenantId, draft.id, expectedVersion])
            guard changed == 1 else { return nil }
            var stored = draft
            stored.version = expectedVersion + 1
            return stored
        }
    }

    public func deleteDraft(tenantId: String, id: String, at: Int64) async throws -> Bool {
        try await write { db in
            try db.execute("UPDATE menu_drafts SET deleted_at = ?, updated_at = ? WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL",
                           [at, at, tenantId, id]) == 1
        }
    }

    public func publishMenus(_ record: MenuPublicationRecord, menus: [StoredMenu],
                             publication: @escaping @Sendable (MenuSyncSummary) -> EventPublication?) async throws -> MenuSyncSummary {
        try await write { db in
            let summary = try Self.replaceMenus(tenantId: record.tenantId, outletId: record.outletId, menus, at: record.publishedAt,
                                                publication: publication, db)
            try Self.insertPublication(record, db)
            return summary
        }
    }

    public func recordPublication(_ record: MenuPublicationRecord) async throws {
        try await write { db in try Self.insertPublication(record, db) }
    }

    private static func insertPublication(_ record: MenuPublicationRecord, _ db: any SQLSession) throws {
        func list(_ ids: [String]) -> String { JSONValue.array(ids.map(JSONValue.string)).serialized }
        try db.execute("""
            INSERT INTO menu_publications (tenant_id, id, outlet_id, draft_ids, menu_ids, status, error, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [record.tenantId, record.id, record.outletId, list(record.draftIds), list(record.menuIds), record.status.rawValue, record.error,
                  record.publishedAt])
    }

    public func publications(tenantId: String, outletId: String?, limit: Int) async throws -> [MenuPublicationRecord] {
        try await read { db in
            var sql = "SELECT tenant_id, id, outlet_id, draft_ids, menu_ids, status, error, published_at FROM menu_publications WHERE tenant_id = ?"
            var arguments: [any SQLBindable] = [tenantId]
            if let outletId {
                sql += " AND outlet_id = ?"
                arguments.append(outletId)
            }
            sql += " ORDER BY published_at DESC, id, outlet_id LIMIT ?"
            arguments.append(limit)
            return try db.query(sql, arguments).map { row in
                func list(_ column: String) throws -> [String] {
                    guard case .array(let items)? = JSONValue(parsing: try row.string(column)) else { return [] }
                    return items.compactMap(\.stringValue)
                }
                return MenuPublicationRecord(tenantId: try row.string("tenant_id"), id: try row.string("id"), outletId: try row.string("outlet_id"),
                                             draftIds: try list("draft_ids"), menuIds: try list("menu_ids"),
                                             status: MenuPublicationRecord.Status(rawValue: try row.string("status")) ?? .failed,
                                             error: try row.optionalString("error"), publishedAt: try row.int64("published_at"))
            }
        }
    }
}
