import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import PosServices

/// The platform's menu editor: drafts, their sections, items, hours and outlets, and publishing.
/// A draft answers as the bare draft object (prices with their exact digits) with `ETag: "<version>"`.
struct MenuDraftRoutes: Sendable {
    let body: JSONBodyDecoder
    let drafts: MenuDraftService

    func create(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let command = try await body.decode(DraftBody.self, from: request)
        return Self.view(try await drafts.create(command.draft, tenant: context.principal.tenant), status: .created)
    }

    func list(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let page = try await drafts.drafts(try PageQuery(query: request.uri.queryParameters), tenant: context.principal.tenant)
        return ExactJSON(.object([("drafts", .array(page.drafts.map(Self.json))), ("nextCursor", page.nextCursor.map(JSONValue.string) ?? .null)]))
    }

    func draft(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        Self.view(try await drafts.draft(id: try Self.draftId(context), tenant: context.principal.tenant))
    }

    func replace(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let id = try Self.draftId(context)
        let command = try await body.decode(DraftBody.self, from: request)
        return Self.view(try await drafts.replace(id: id, with: command.draft, ifMatch: try OrderRoutes.ifMatch(request), tenant: context.principal.tenant))
    }

    func delete(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await drafts.delete(id: try Self.draftId(context), tenant: context.principal.tenant)
        return Response(status: .noContent)
    }

    func addSection(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let id = try Self.draftId(context)
        let command = try await body.decode(NewSection.self, from: request)
        return Self.view(try await drafts.addSection(draftId: id, command.section, tenant: context.principal.tenant), status: .created)
    }

    func setSectionItems(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let id = try Self.draftId(context)
        let sectionId = try context.parameters.require("sectionId")
        let command = try await body.decode(SectionItems.self, from: request)
        return Self.view(try await drafts.setSectionItems(draftId: id, sectionId: sectionId, command.items, tenant: context.principal.tenant))
    }

    func setOperatingHours(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let id = try Self.draftId(context)
        let command = try await body.decode(DraftOperatingHours.self, from: request)
        return Self.view(try await drafts.edit(id: id, tenant: context.principal.tenant) { $0.operatingHours = command.hours })
    }

    func setOutlets(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let id = try Self.draftId(context)
        let command = try await body.decode(DraftOutlets.self, from: request)
        return Self.view(try await drafts.edit(id: id, tenant: context.principal.tenant) { $0.outletIds = command.outletIds })
    }

    // MARK: Publishing

    struct Published: Encodable {
        struct Outlet: Encodable {
            let outletId: String
            let status: String
            let menuIds: [String]
            let summary: MenuCounts?
            let error: String?

            func encode(to encoder: any Encoder) throws {
                // Absent keys would hide the difference between "no error" and a forgotten field.
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(outletId, forKey: .outletId)
                try container.encode(status, forKey: .status)
                try container.encode(menuIds, forKey: .menuIds)
                try container.encode(summary, forKey: .summary)
                try container.encode(error, forKey: .error)
            }

            enum CodingKeys: String, CodingKey { case outletId, status, menuIds, summary, error }
        }

        let publishId: String
        /// `published` (every outlet), `partial`, or `failed` (none).
        let status: String
        let outlets: [Outlet]
    }

    func publish(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Published> {
        let command = try await body.decode(PublishMenus.self, from: request)
        let result = try await drafts.publish(draftIds: command.draftIds, outletIds: command.outletIds, tenant: context.principal.tenant)
        let published = result.outlets.filter { $0.status == .published }.count
        let status = published == result.outlets.count ? "published" : published == 0 ? "failed" : "partial"
        return Envelope(message: "published to \(published) of \(result.outlets.count) outlets", Published(
            publishId: result.publishId, status: status,
            outlets: result.outlets.map { outlet in
                Published.Outlet(outletId: outlet.outletId, status: outlet.status.rawValue, menuIds: outlet.menuIds,
                                 summary: outlet.summary.map(MenuCounts.init),
                                 error: outlet.error)
            }))
    }

    func publications(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let query = request.uri.queryParameters
        let outletId = query["outletId"].map(String.init)
        let records = try await drafts.publications(outletId: outletId, limit: try QueryFields.limit(query), tenant: context.principal.tenant)
        return ExactJSON(.object([("publications", .array(records.map { record in
            .object([
                ("publishId", .string(record.id)), ("outletId", .string(record.outletId)),
                ("draftIds", .array(record.draftIds.map(JSONValue.string))), ("menuIds", .array(record.menuIds.map(JSONValue.string))),
                ("status", .string(record.status.rawValue)), ("error", record.error.map(JSONValue.string) ?? .null),
                ("publishedAt", .string(RFC3339.format(milliseconds: record.publishedAt))),
            ])
        }))]))
    }

    // MARK: Views

    private static func draftId(_ context: AuthenticatedContext) throws -> String {
        let id = try context.parameters.require("draftId")
        guard !id.isEmpty, id.utf8.count <= DispatchValidator.maxIdentifierLength else {
            throw ServiceError.invalid(field: "draftId", message: "draftId must be 1 to \(DispatchValidator.maxIdentifierLength) bytes")
        }
        return id
    }

    static func json(_ draft: MenuDraftService.Draft) -> JSONValue {
        guard case .object(let members) = draft.draft.document else { return draft.draft.document }
        return .object([("id", .string(draft.stored.id))] + members + [
            ("version", .integer(draft.stored.version)),
            ("createdAt", .string(RFC3339.format(milliseconds: draft.stored.createdAt))),
            ("updatedAt", .string(RFC3339.format(milliseconds: draft.stored.updatedAt))),
        ])
    }

    private static func view(_ draft: MenuDraftService.Draft, status: HTTPResponse.Status = .ok) -> ExactJSON {
        ExactJSON(json(draft), status: status, headers: [.eTag: "\"\(draft.stored.version)\""])
    }
}

// MARK: Bodies

/// `POST /menus/drafts` and `PUT /menus/drafts/{id}`: the whole draft.
struct DraftBody: JSONBodyCommand {
    let draft: MenuDraft

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        draft = try MenuDraft(try FieldReader.object(root, path: ""), makeId: { UUID().uuidString.lowercased() })
    }
}

/// `POST /menus/drafts/{id}/sections`: `{id?, name, description?, items?}`.
struct NewSection: JSONBodyCommand {
    let section: MenuDraft.Section

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        section = try MenuDraft.section(try FieldReader.object(root, path: ""), makeId: { UUID().uuidString.lowercased() })
    }
}

/// The body of a `PUT` of one part of a draft: `{<key>: [...]}`, the list required (empty allowed).
enum DraftPart {
    static func reader(_ root: JSONNode, _ key: String) throws(ValidationError) -> FieldReader {
        let reader = try FieldReader.object(root, path: "")
        try reader.rejectUnknownKeys(allowed: [key])
        _ = try reader.array(key, minCount: 0)
        return reader
    }
}

/// `PUT /menus/drafts/{id}/sections/{sectionId}/items`: `{items: [{itemCode, price?}]}` (empty clears).
struct SectionItems: JSONBodyCommand {
    let items: [MenuDraft.Item]

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        items = try MenuDraft.items(DraftPart.reader(root, "items"))
    }
}

/// `PUT /menus/drafts/{id}/operating-hours`: `{operatingHours: [...]}` (empty: always served).
struct DraftOperatingHours: JSONBodyCommand {
    let hours: [AvailabilityWindow]

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        hours = try MenuDraft.hours(DraftPart.reader(root, "operatingHours"))
    }
}

/// `PUT /menus/drafts/{id}/outlets`: `{outletIds: [...]}`.
struct DraftOutlets: JSONBodyCommand {
    let outletIds: [String]

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        outletIds = try MenuDraft.outletIds(DraftPart.reader(root, "outletIds"))
    }
}

/// `POST /menus/publish`: `{draftIds: [...], outletIds?: [...]}`.
struct PublishMenus: JSONBodyCommand {
    static let maxDrafts = 50

    let draftIds: [String]
    let outletIds: [String]?

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let reader = try FieldReader.object(root, path: "")
        try reader.rejectUnknownKeys(allowed: ["draftIds", "outletIds"])
        let drafts = try reader.array("draftIds", minCount: 1)
        guard drafts.count <= Self.maxDrafts else { throw ValidationError(field: "draftIds", message: "must have at most \(Self.maxDrafts) elements") }
        var seen = Set<String>()
        draftIds = try drafts.map { element throws(ValidationError) in
            guard case .string(let id) = element.node.kind, !id.isEmpty, id.utf8.count <= DispatchValidator.maxIdentifierLength else {
                throw ValidationError(field: element.path, message: "must be a draft id")
            }
            guard seen.insert(id).inserted else { throw ValidationError(field: element.path, message: "repeats draft \"\(id)\"") }
            return id
        }
        if reader.isAbsent("outletIds") {
            outletIds = nil
        } else {
            _ = try reader.array("outletIds", minCount: 1)
            outletIds = try MenuDraft.outletIds(reader)
        }
    }
}
