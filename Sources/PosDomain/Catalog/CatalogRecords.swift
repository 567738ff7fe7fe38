// What the catalogue and menu stores hand back: plain values the API and the console show.

/// What a menu sync did, per menu id.
public struct MenuSyncSummary: Sendable, Equatable {
    public var created: [String] = []
    public var updated: [String] = []
    public var unchanged: [String] = []
    /// Live menus of the outlet absent from the sync: soft-deleted.
    public var deleted: [String] = []

    public init() {}

    public var changed: Bool { !(created.isEmpty && updated.isEmpty && deleted.isEmpty) }
}

/// A menu draft as stored: its canonical document (``MenuDraft/document``) and bookkeeping.
public struct StoredMenuDraft: Sendable, Equatable {
    public var tenantId: String
    public var id: String
    public var name: String
    public var document: String
    /// 1 when created; each replace adds one.
    public var version: Int64
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(tenantId: String, id: String, name: String, document: String, version: Int64, createdAt: Int64, updatedAt: Int64) {
        self.tenantId = tenantId
        self.id = id
        self.name = name
        self.document = document
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// One outlet's line in the publish log.
public struct MenuPublicationRecord: Sendable, Equatable {
    public enum Status: String, Sendable {
        case published
        case failed
    }

    public var tenantId: String
    /// The publish request's id: one per `POST /menus/publish`, shared by its outlets' lines.
    public var id: String
    public var outletId: String
    public var draftIds: [String]
    /// The live menus the outlet got (empty when failed).
    public var menuIds: [String]
    public var status: Status
    public var error: String?
    public var publishedAt: Int64

    public init(tenantId: String, id: String, outletId: String, draftIds: [String], menuIds: [String], status: Status, error: String?,
                publishedAt: Int64) {
        self.tenantId = tenantId
        self.id = id
        self.outletId = outletId
        self.draftIds = draftIds
        self.menuIds = menuIds
        self.status = status
        self.error = error
        self.publishedAt = publishedAt
    }
}

/// An outlet after a state change, and whether it changed.
public struct OutletStateResult: Sendable, Equatable {
    public var outlet: Outlet
    public var changed: Bool

    public init(outlet: Outlet, changed: Bool) {
        self.outlet = outlet
        self.changed = changed
    }
}
