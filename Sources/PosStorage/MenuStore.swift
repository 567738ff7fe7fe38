import PosDomain

/// One live menu of an outlet as stored: the menu as it was sent (JSON text), what it is named by,
/// and a hash of its content so a re-sync of the same menu changes nothing.
public struct StoredMenu: Sendable, Equatable {
    public var menuId: String
    public var name: String
    public var menuType: Int
    public var document: String
    public var contentSHA256: String

    public init(menuId: String, name: String, menuType: Int, document: String, contentSHA256: String) {
        self.menuId = menuId
        self.name = name
        self.menuType = menuType
        self.document = document
        self.contentSHA256 = contentSHA256
    }
}

/// An outlet's live menus and item snoozes. Every write that changes what the outlet sells bumps
/// the outlet's menu version (which names cached read models) and publishes its event in the same
/// transaction.
public protocol MenuStore: Sendable {
    /// Full replace of the outlet's live menus in one transaction; `publication(summary)` is published
    /// with it when something changed.
    func syncMenus(tenantId: String, outletId: String, menus: [StoredMenu], at: Int64,
                   publication: @escaping @Sendable (MenuSyncSummary) -> EventPublication?) async throws -> MenuSyncSummary
    /// The outlet's live menus (in menu id order) and its menu version (0 before any change).
    func liveMenus(tenantId: String, outletId: String) async throws -> (version: Int64, menus: [StoredMenu])
    /// Sets (a time) or clears (nil) each item's snooze in one transaction, with `publication`.
    func setSnoozes(tenantId: String, outletId: String, _ snoozes: [(itemCode: String, until: Int64?)], at: Int64,
                    publication: EventPublication?) async throws
    /// itemCode → snooze end, for snoozes not yet ended at `now`.
    func snoozes(tenantId: String, outletId: String, now: Int64) async throws -> [String: Int64]
    /// The outlet's menu version alone: a cheap check whether a cached read model is current.
    func menuVersion(tenantId: String, outletId: String) async throws -> Int64

    // MARK: Drafts and publishing

    /// Throws ``StoreError/conflict(_:)`` when the tenant already has a draft with this id.
    func createDraft(_ draft: StoredMenuDraft) async throws
    /// The tenant's draft; nil for an unknown, deleted, or another tenant's id.
    func draft(tenantId: String, id: String) async throws -> StoredMenuDraft?
    /// Live drafts, oldest first, after `after` (created at, id).
    func drafts(tenantId: String, limit: Int, after: (createdAt: Int64, id: String)?) async throws -> [StoredMenuDraft]
    /// Writes `draft` over the stored one when that is still at `expectedVersion`; returns the stored
    /// draft (version + 1), or nil when it was deleted or has moved on (read it again to tell which).
    func replaceDraft(_ draft: StoredMenuDraft, expectedVersion: Int64) async throws -> StoredMenuDraft?
    /// Soft-deletes; false when there was no live draft.
    func deleteDraft(tenantId: String, id: String, at: Int64) async throws -> Bool
    /// A publish to one outlet, in one transaction: the outlet's live menus become `menus` exactly
    /// (those absent soft-deleted), the log row `record` is written, and `publication` is published.
    func publishMenus(_ record: MenuPublicationRecord, menus: [StoredMenu],
                      publication: @escaping @Sendable (MenuSyncSummary) -> EventPublication?) async throws -> MenuSyncSummary
    /// Logs a publish to one outlet that did not happen (`record.status` failed, with its error).
    func recordPublication(_ record: MenuPublicationRecord) async throws
    /// The publish log, newest first; one outlet's when `outletId` is given.
    func publications(tenantId: String, outletId: String?, limit: Int) async throws -> [MenuPublicationRecord]
}
