import CompressNIO
import Hummingbird
import PosDomain
import PosServices
import Synchronization

/// What an outlet sells: menu sync, snoozes, and the menu partners read.
struct MenuRoutes: Sendable {
    let body: JSONBodyDecoder
    let menus: MenuService
    let imports: MenuImportService
    let deliveries: DeliveryService
    let compressed = CompressedAnswers()

    struct Started: Encodable {
        let jobId: String
        let status: String
    }

    /// `POST /provider-connections/{slug}/import {outletId}`: the import runs as an outbox job.
    func startImport(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Started> {
        let slug = try context.parameters.require("slug")
        let command = try await body.decode(StartImport.self, from: request)
        let jobId = try await imports.start(slug: slug, outletId: command.outletId, tenant: context.principal.tenant)
        return Envelope(.accepted, message: "menu import queued", Started(jobId: jobId, status: "pending"))
    }

    /// `GET /jobs/{jobId}`: a job's progress and outcome, as its delivery with every attempt.
    func job(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<DeliveryView> {
        let id = try context.parameters.require("jobId")
        return JSONResponse(DeliveryView(try await deliveries.delivery(id: id, tenant: context.principal.tenant)))
    }

    struct Synced: Encodable {
        struct Menu: Encodable {
            let menuId: String
            let action: String
        }

        let status: String
        let summary: MenuCounts
        let menus: [Menu]
    }

    func sync(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Synced> {
        let outletId = try ProviderRoutes.outletId(context)
        let command = try await body.decode(MenuSync.self, from: request)
        let summary = try await menus.syncMenus(outletId: outletId, command.menus, documents: command.documents, provider: try ProviderHeader.read(request),
                                                tenant: context.principal.tenant)
        let actions = summary.created.map { Synced.Menu(menuId: $0, action: "created") } + summary.updated.map { Synced.Menu(menuId: $0, action: "updated") }
            + summary.unchanged.map { Synced.Menu(menuId: $0, action: "unchanged") } + summary.deleted.map { Synced.Menu(menuId: $0, action: "deleted") }
        return Envelope(message: summary.changed ? "menus synced" : "menus unchanged", Synced(
            status: summary.changed ? "synced" : "unchanged",
            summary: MenuCounts(summary),
            menus: actions))
    }

    struct Snoozed: Encodable {
        let status: String
        let itemsUpdated: Int
        let modifierOptionsUpdated: Int
    }

    func snooze(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Snoozed> {
        let outletId = try ProviderRoutes.outletId(context)
        let command = try await body.decode(SnoozeItems.self, from: request)
        let result = try await menus.snooze(outletId: outletId, command.items, provider: try ProviderHeader.read(request), tenant: context.principal.tenant)
        return Envelope(message: "snoozes updated", Snoozed(status: "updated", itemsUpdated: result.itemsUpdated,
                                                              modifierOptionsUpdated: result.modifierOptionsUpdated))
    }

    func menu(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let outletId = try ProviderRoutes.outletId(context)
        var at: Int64?
        if let text = request.uri.queryParameters["at"] {
            guard let parsed = RFC3339.parseMilliseconds(String(text)) else {
                throw ServiceError.invalid(field: "at", message: "at must be an RFC 3339 date-time such as 2026-03-16T15:05:33Z")
            }
            at = parsed
        }
        let (answer, etag) = try await menus.menu(outletId: outletId, at: at, ifNoneMatch: request.headers[.ifNoneMatch],
                                                  provider: try ProviderHeader.read(request), tenant: context.principal.tenant)
        guard let answer else { return Response(status: .notModified, headers: [.eTag: etag, .vary: "Accept-Encoding"]) }
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8", .eTag: etag, .vary: "Accept-Encoding"]
        if AcceptEncoding.acceptsGzip(request.headers[.acceptEncoding]) {
            // Compressed once per answer and kept: the next read of the same answer sends the same bytes.
            let key = "\(context.principal.tenant.id)\u{0}\(outletId)"
            let gzipped = try compressed.body(key: key, etag: etag, answer: answer)
            headers[.contentEncoding] = "gzip"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: gzipped))
        }
        // The menus part is the cached buffer itself: written, not copied.
        let body = ResponseBody(contentLength: answer.byteCount) { writer in
            try await writer.write(ByteBuffer(bytes: answer.head))
            try await writer.write(answer.menus)
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}

/// What a full replace of an outlet's menus did, counted (menu sync and publish answer it alike).
struct MenuCounts: Encodable {
    let created: Int
    let updated: Int
    let unchanged: Int
    let deleted: Int

    init(_ summary: MenuSyncSummary) {
        created = summary.created.count
        updated = summary.updated.count
        unchanged = summary.unchanged.count
        deleted = summary.deleted.count
    }
}

/// `POST /outlets/{outletId}/menu`: the menus, and each menu's JSON as sent (stored as is).
struct MenuSync: JSONBodyCommand {
    let menus: [OutletMenu]
    let documents: [JSONValue]

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let value = JSONValue(root)
        menus = try OutletMenu.menus(from: value)
        guard case .array(let elements) = value else { throw ValidationError(field: "", message: "must be an array of menus") }
        documents = elements
    }
}

/// `POST /outlets/{outletId}/items/snooze`: `{items: [{itemCode, snoozeEnd | null}]}`.
struct SnoozeItems: JSONBodyCommand {
    let items: [(itemCode: String, until: Int64?)]

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let reader = try FieldReader.object(root, path: "")
        try BodyFields.rejectUnknown(root, allowed: ["items"])
        var items: [(itemCode: String, until: Int64?)] = []
        for element in try reader.array("items", minCount: 1) {
            let item = try FieldReader.object(element.node, path: element.path)
            try item.rejectUnknownKeys(allowed: ["itemCode", "snoozeEnd"])
            let code = try item.identifier("itemCode")
            var until: Int64?
            if let node = element.node["snoozeEnd"], !BodyFields.isNull(node) {
                guard case .string(let text) = node.kind, let parsed = RFC3339.parseMilliseconds(text) else {
                    throw ValidationError(field: item.path("snoozeEnd"), message: "must be an RFC 3339 date-time or null")
                }
                until = parsed
            }
            items.append((code, until))
        }
        self.items = items
    }
}

/// `POST /provider-connections/{slug}/import`: `{outletId}`.
struct StartImport: JSONBodyCommand {
    let outletId: String

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let reader = try FieldReader.object(root, path: "")
        try BodyFields.rejectUnknown(root, allowed: ["outletId"])
        outletId = try reader.identifier("outletId")
    }
}

/// `Accept-Encoding`: whether the client takes gzip (`gzip` or `x-gzip`, not with `q=0`).
enum AcceptEncoding {
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { entry in
            let parts = entry.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let coding = parts.first, coding == "gzip" || coding == "x-gzip" else { return false }
            return !parts.dropFirst().contains { $0.replacingOccurrences(of: " ", with: "").range(of: #"^q=0(\.0{0,3})?$"#, options: .regularExpression) != nil }
        }
    }
}

/// The latest gzip answer per outlet: while the answer is the same (same ETag, same head — `at`
/// is to the second when the client gives none), readers get the same compressed bytes and the
/// compression runs once.
final class CompressedAnswers: Sendable {
    private struct Entry {
        let etag: String
        let head: [UInt8]
        let body: ByteBuffer
    }

    private let entries = Mutex<[String: Entry]>([:])

    func body(key: String, etag: String, answer: MenuService.MenuAnswer) throws -> ByteBuffer {
        if let entry = entries.withLock({ $0[key] }), entry.etag == etag, entry.head == answer.head { return entry.body }
        var plain = ByteBuffer(bytes: answer.head)
        var menus = answer.menus
        plain.writeBuffer(&menus)
        let body = try plain.compress(with: .gzip)
        entries.withLock { entries in
            // Bounded like the read model's cache.
            if entries.count >= 10_000 { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(etag: etag, head: answer.head, body: body)
        }
        return body
    }
}
