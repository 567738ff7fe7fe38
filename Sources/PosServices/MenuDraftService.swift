import Foundation
import PosDomain
import PosStorage

/// The platform's menu editor: drafts (sections of products by `itemCode`, operating hours, target
/// outlets) and publishing them. A publish replaces each target outlet's live menus with one menu
/// per draft, each outlet in its own transaction with its log line, so one outlet that cannot take
/// the menus does not hold back the others.
public struct MenuDraftService: Sendable {
    public static let defaultPageSize = 50
    /// Edits of one draft that race are applied one after the other; past this many lost races the caller is told.
    static let editAttempts = 5

    private let store: any MenuStore
    private let catalog: any CatalogStore
    private let clock: ServiceClock
    private let makeId: @Sendable () -> String

    public init(store: any MenuStore, catalog: any CatalogStore, clock: @escaping ServiceClock,
                makeId: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() }) {
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.makeId = makeId
    }

    /// A stored draft with its content read.
    public struct Draft: Sendable {
        public let stored: StoredMenuDraft
        public let draft: MenuDraft
    }

    // MARK: Drafts

    /// `POST /menus/drafts`: 400 naming an item code no live product has, or an outlet the tenant has not.
    public func create(_ draft: MenuDraft, tenant: Tenant) async throws -> Draft {
        try await checkReferences(draft, tenant: tenant)
        let now = clock()
        let stored = StoredMenuDraft(tenantId: tenant.id, id: makeId(), name: draft.name, document: draft.document.serialized, version: 1,
                                     createdAt: now, updatedAt: now)
        try await translatingStoreErrors { try await store.createDraft(stored) }
        return Draft(stored: stored, draft: draft)
    }

    public func draft(id: String, tenant: Tenant) async throws -> Draft {
        guard let stored = try await translatingStoreErrors({ try await store.draft(tenantId: tenant.id, id: id) }) else {
            throw Self.noDraft(id)
        }
        return Draft(stored: stored, draft: try Self.read(stored))
    }

    public struct DraftPage: Sendable {
        public let drafts: [Draft]
        public let nextCursor: String?
    }

    /// `GET /menus/drafts`: oldest first.
    public func drafts(_ query: PageQuery, tenant: Tenant) async throws -> DraftPage {
        var after: (createdAt: Int64, id: String)?
        if let cursor = query.cursor {
            guard let position = PageCursorText.decode(cursor) else {
                throw ServiceError.invalid(field: "cursor", message: "cursor is not one this service issued")
            }
            after = (position.position, position.key)
        }
        let limit = query.limit ?? Self.defaultPageSize
        let stored = try await translatingStoreErrors { try await store.drafts(tenantId: tenant.id, limit: limit, after: after) }
        let drafts = try stored.map { Draft(stored: $0, draft: try Self.read($0)) }
        let next = stored.count == limit ? stored.last.map { PageCursorText.encode($0.createdAt, $0.id) } : nil
        return DraftPage(drafts: drafts, nextCursor: next)
    }

    /// `PUT /menus/drafts/{id}`: the whole draft replaced; 412 when `ifMatch` is not its version.
    public func replace(id: String, with draft: MenuDraft, ifMatch: Int64?, tenant: Tenant) async throws -> Draft {
        try await edit(id: id, ifMatch: ifMatch, tenant: tenant) { current in current = draft }
    }

    /// An edit of part of the draft (a section added, a section's items, hours, outlets), applied to
    /// the draft as it is now; `change` runs again if another edit got in first.
    public func edit(id: String, ifMatch: Int64? = nil, tenant: Tenant,
                     _ change: (inout MenuDraft) throws -> Void) async throws -> Draft {
        for _ in 0..<Self.editAttempts {
            let current = try await draft(id: id, tenant: tenant)
            if let ifMatch, ifMatch != current.stored.version {
                throw ServiceError.preconditionFailed("the draft's version is \(current.stored.version), not \(ifMatch)",
                                                      details: "read the draft again and resend with If-Match: \"\(current.stored.version)\"")
            }
            var edited = current.draft
            try change(&edited)
            try await checkReferences(edited, tenant: tenant)
            var stored = current.stored
            stored.name = edited.name
            stored.document = edited.document.serialized
            stored.updatedAt = clock()
            let expected = current.stored.version
            if let written = try await translatingStoreErrors({ try await store.replaceDraft(stored, expectedVersion: expected) }) {
                return Draft(stored: written, draft: edited)
            }
        }
        throw ServiceError.conflict("the draft \"\(id)\" kept changing under this edit; try again")
    }

    /// `POST /menus/drafts/{id}/sections`: the section appended; returns the draft and the section's id.
    public func addSection(draftId: String, _ section: MenuDraft.Section, tenant: Tenant) async throws -> Draft {
        try await edit(id: draftId, tenant: tenant) { draft in
            guard !draft.sections.contains(where: { $0.id == section.id }) else {
                throw ServiceError.conflict("the draft already has a section with id \"\(section.id)\"")
            }
            guard draft.sections.count < MenuDraft.maxSections else {
                throw ServiceError.invalid(field: "", message: "a draft holds at most \(MenuDraft.maxSections) sections")
            }
            draft.sections.append(section)
        }
    }

    /// `PUT /menus/drafts/{id}/sections/{sectionId}/items`: the section's items replaced.
    public func setSectionItems(draftId: String, sectionId: String, _ items: [MenuDraft.Item], tenant: Tenant) async throws -> Draft {
        try await edit(id: draftId, tenant: tenant) { draft in
            guard let index = draft.sections.firstIndex(where: { $0.id == sectionId }) else {
                throw ServiceError.notFound("the draft has no section with id \"\(sectionId)\"")
            }
            draft.sections[index].items = items
        }
    }

    public func delete(id: String, tenant: Tenant) async throws {
        guard try await translatingStoreErrors({ try await store.deleteDraft(tenantId: tenant.id, id: id, at: clock()) }) else {
            throw Self.noDraft(id)
        }
    }

    /// Every item code names a live product, every outlet is the tenant's: 400 naming the first that does not.
    private func checkReferences(_ draft: MenuDraft, tenant: Tenant) async throws {
        let codes = draft.itemCodes
        let known = Set(try await translatingStoreErrors { try await catalog.liveProducts(tenantId: tenant.id, itemCodes: codes.map(\.code)) }
            .map(\.itemCode))
        if let missing = codes.first(where: { !known.contains($0.code) }) {
            throw ServiceError.invalid(field: missing.path, message: "\(missing.path) names no product \"\(missing.code)\"; sync it into the product catalog first")
        }
        for (index, outletId) in draft.outletIds.enumerated() {
            guard try await translatingStoreErrors({ try await catalog.outletStatus(tenantId: tenant.id, id: outletId) }) != nil else {
                throw ServiceError.invalid(field: "outletIds[\(index)]", message: "outletIds[\(index)] names no outlet \"\(outletId)\"")
            }
        }
    }

    // MARK: Publishing

    /// One outlet's outcome of a publish.
    public struct OutletResult: Sendable {
        public let outletId: String
        public let status: MenuPublicationRecord.Status
        public let menuIds: [String]
        public let summary: MenuSyncSummary?
        public let error: String?
    }

    public struct PublishResult: Sendable {
        public let publishId: String
        public let outlets: [OutletResult]
    }

    /// `POST /menus/publish {draftIds, outletIds?}`: each target outlet's live menus become one menu
    /// per draft (menu id = draft id), in its own transaction with its log line. Without `outletIds`
    /// each draft goes to its own target outlets. A draft id the tenant has not is a 404 before
    /// anything is written; an outlet that cannot take the menus is reported as failed, and logged.
    public func publish(draftIds: [String], outletIds: [String]?, tenant: Tenant) async throws -> PublishResult {
        var drafts: [Draft] = []
        for id in draftIds { drafts.append(try await draft(id: id, tenant: tenant)) }
        let targets: [(outletId: String, drafts: [Draft])]
        if let outletIds {
            targets = outletIds.map { ($0, drafts) }
        } else {
            var order: [String] = []
            for draft in drafts { for id in draft.draft.outletIds where !order.contains(id) { order.append(id) } }
            guard !order.isEmpty else {
                throw ServiceError.invalid(field: "outletIds", message: "outletIds is required when no draft names target outlets")
            }
            targets = order.map { outletId in (outletId, drafts.filter { $0.draft.outletIds.contains(outletId) }) }
        }
        let products = try await products(for: drafts, tenant: tenant)
        let publishId = makeId()
        var results: [OutletResult] = []
        for target in targets {
            results.append(await publish(target.drafts, to: target.outletId, products: products, publishId: publishId, tenant: tenant))
        }
        return PublishResult(publishId: publishId, outlets: results)
    }

    private func products(for drafts: [Draft], tenant: Tenant) async throws -> [String: Product] {
        let codes = Array(Set(drafts.flatMap { $0.draft.itemCodes.map(\.code) }))
        var products: [String: Product] = [:]
        for stored in try await translatingStoreErrors({ try await catalog.liveProducts(tenantId: tenant.id, itemCodes: codes) }) {
            products[stored.itemCode] = try? Product(document: stored.document)
        }
        return products
    }

    private func publish(_ drafts: [Draft], to outletId: String, products: [String: Product], publishId: String, tenant: Tenant) async -> OutletResult {
        let now = clock()
        let draftIds = drafts.map(\.stored.id)
        func failed(_ message: String) async -> OutletResult {
            // The log line of a failure is best effort: the answer reports it either way.
            try? await store.recordPublication(MenuPublicationRecord(tenantId: tenant.id, id: publishId, outletId: outletId, draftIds: draftIds, menuIds: [],
                                                                     status: .failed, error: message, publishedAt: now))
            return OutletResult(outletId: outletId, status: .failed, menuIds: [], summary: nil, error: message)
        }
        let outlet: Outlet
        do {
            guard let found = try await catalog.outlet(tenantId: tenant.id, id: outletId) else { return await failed("no outlet with id \"\(outletId)\"") }
            outlet = found
        } catch {
            return await failed("the outlet could not be read: \(error)")
        }
        guard let code = outlet.currency, let currency = Currency(code: code) else {
            return await failed("outlet \"\(outletId)\" has no currency; set it to price the menus")
        }
        var menus: [StoredMenu] = []
        for draft in drafts {
            do {
                let document = try draft.draft.liveMenu(menuId: draft.stored.id, products: products, currency: currency)
                guard let menu = try OutletMenu.menus(from: .array([document])).first else { continue }
                menus.append(MenuService.stored(menu, document: document))
            } catch let problem as MenuDraft.PublishProblem {
                return await failed("draft \"\(draft.stored.id)\": \(problem.message)")
            } catch {
                return await failed("draft \"\(draft.stored.id)\" does not make a valid menu: \(error)")
            }
        }
        let record = MenuPublicationRecord(tenantId: tenant.id, id: publishId, outletId: outletId, draftIds: draftIds, menuIds: menus.map(\.menuId),
                                           status: .published, error: nil, publishedAt: now)
        let makeId = self.makeId
        do {
            let summary = try await store.publishMenus(record, menus: menus) { summary in
                MenuService.menuUpdated(tenantId: tenant.id, outletId: outletId, menuIds: summary.created + summary.updated + summary.deleted,
                                        reason: "menus published", at: now, id: makeId())
            }
            return OutletResult(outletId: outletId, status: .published, menuIds: record.menuIds, summary: summary, error: nil)
        } catch {
            return await failed("the outlet's menus could not be written: \(error)")
        }
    }

    /// `GET /menus/publications`: the publish log, newest first.
    public func publications(outletId: String?, limit: Int?, tenant: Tenant) async throws -> [MenuPublicationRecord] {
        try await translatingStoreErrors { try await store.publications(tenantId: tenant.id, outletId: outletId, limit: limit ?? Self.defaultPageSize) }
    }

    private static func read(_ stored: StoredMenuDraft) throws -> MenuDraft {
        do {
            let node = try JSONParser.parse(Array(stored.document.utf8))
            return try MenuDraft(try FieldReader.object(node, path: ""), makeId: { UUID().uuidString.lowercased() })
        } catch {
            throw ServiceError.unavailable("the stored draft \"\(stored.id)\" cannot be read: \(error)")
        }
    }

    private static func noDraft(_ id: String) -> ServiceError { .notFound("no menu draft with id \"\(id)\"") }
}
