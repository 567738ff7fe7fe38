import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import PosServices

// Outlet and product bodies, queries and the X-Provider header. What a valid outlet or product
// is lives in the domain (OutletValidator, ProductValidator); these only pick the reader.

/// `POST /outlets`: `externalId` may be left out (a later sync can link the outlet by name).
struct CreateOutlet: JSONBodyCommand {
    let input: OutletInput

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        input = try OutletValidator.input(root, externalIdRequired: false)
    }
}

/// `POST /outlets/sync`: matched by `externalId`, so it is required.
struct SyncOutlet: JSONBodyCommand {
    let input: OutletInput

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        input = try OutletValidator.input(root, externalIdRequired: true)
    }
}

/// `POST /products/sync`: `{products: [...]}`.
struct SyncProducts: JSONBodyCommand {
    let products: [Product]

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        products = try ProductValidator.products(root)
    }
}

/// `PATCH /outlets/{outletId}/status`: `{status: "OPEN" | "CLOSED", reason?}`.
struct ChangeOutletStatus: JSONBodyCommand {
    let command: OutletStateCommand

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let reader = try FieldReader.object(root, path: "")
        try reader.rejectUnknownKeys(allowed: ["status", "reason"])
        let text = try reader.string("status", maxLength: 16)
        guard let status = OutletStatus(rawValue: text) else {
            throw ValidationError(field: "status", message: "must be one of: \(OutletStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        command = OutletStateCommand(change: .status(status), reason: try reader.optionalText("reason", maxLength: 500))
    }
}

/// `PATCH /outlets/{outletId}/busy`: `{isBusy, busyUntil?, reason?}`; `busyUntil` (RFC 3339) only with `isBusy: true`.
struct ChangeOutletBusy: JSONBodyCommand {
    let command: OutletStateCommand

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let reader = try FieldReader.object(root, path: "")
        try reader.rejectUnknownKeys(allowed: ["isBusy", "busyUntil", "reason"])
        let busy = try reader.bool("isBusy")
        var until: Int64?
        if let text = try reader.optionalText("busyUntil", maxLength: 64) {
            guard busy else { throw ValidationError(field: "busyUntil", message: "is only for isBusy: true") }
            guard let parsed = RFC3339.parseMilliseconds(text) else {
                throw ValidationError(field: "busyUntil", message: "must be an RFC 3339 date-time such as 2026-03-16T15:05:33Z")
            }
            until = parsed
        }
        command = OutletStateCommand(change: .busy(busy, until: until), reason: try reader.optionalText("reason", maxLength: 500))
    }
}

extension PageQuery {
    /// `?limit=&cursor=`.
    init(query: Parameters) throws(ServiceError) {
        self.init(limit: try QueryFields.limit(query), cursor: query["cursor"].map(String.init))
    }
}

extension ProductQuery {
    /// `?updatedSince=&includeDeleted=&limit=&cursor=`.
    init(query: Parameters) throws(ServiceError) {
        self.init(limit: try QueryFields.limit(query), cursor: query["cursor"].map(String.init))
        if let text = query["updatedSince"] {
            guard let since = RFC3339.parseMilliseconds(String(text)) else {
                throw .invalid(field: "updatedSince", message: "updatedSince must be an RFC 3339 date-time such as 2026-03-16T15:05:33Z")
            }
            updatedSince = since
        }
        if let text = query["includeDeleted"] {
            guard text == "true" || text == "false" else { throw .invalid(field: "includeDeleted", message: "includeDeleted must be true or false") }
            includeDeleted = text == "true"
        }
    }
}

/// `X-Provider`: which POS a catalogue call speaks for; nil when absent (the platform, `cata`).
enum ProviderHeader {
    static let name = HTTPField.Name("X-Provider")!

    static func read(_ request: Request) throws(ServiceError) -> String? {
        guard let raw = request.headers[name] else { return nil }
        let slug = raw.trimmingCharacters(in: .whitespaces)
        let bytes = Array(slug.utf8)
        // A provider slug: what PUT /provider-connections/{slug} takes.
        guard (1...64).contains(bytes.count),
              bytes.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else { throw .invalid(field: "X-Provider", message: "X-Provider must be a provider slug: 1 to 64 lowercase letters, digits, - or _") }
        return slug
    }
}
