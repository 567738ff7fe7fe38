import Hummingbird
import PosDomain
import PosServices

// The loyalty routes' bodies and queries, checked before anything goes upstream; 400s name the field.

extension PutLoyaltyConfig: JSONBodyCommand {
    /// Whether `apiKey` may be omitted (an update) and `baseUrl` (a deployment default) is the service's to decide.
    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let reader = try FieldReader.object(root, path: "")
        try BodyFields.rejectUnknown(root, allowed: ["baseUrl", "apiKey", "timeout"])
        var timeoutMs: Int64?
        if let text = try BodyFields.text(reader, "timeout") {
            guard let value = DurationText.milliseconds(text) else {
                throw ValidationError(field: "timeout", message: "must be a duration from 100ms to 60s, such as 500ms or 5s")
            }
            timeoutMs = value
        }
        self.init(baseUrl: try BodyFields.text(reader, "baseUrl"), apiKey: try BodyFields.text(reader, "apiKey"), timeoutMs: timeoutMs)
    }
}

/// `POST /loyalty/earn-points {customerUuid, points, refCode, displayNotes?}`.
struct EarnPoints: JSONBodyCommand {
    let move: LoyaltyPointsMove

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        move = try LoyaltyBody.move(root, allowed: ["customerUuid", "points", "refCode", "displayNotes"])
    }
}

/// `POST /loyalty/use-points {customerUuid, points, refCode}`.
struct UsePoints: JSONBodyCommand {
    let move: LoyaltyPointsMove

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        move = try LoyaltyBody.move(root, allowed: ["customerUuid", "points", "refCode"])
    }
}

enum LoyaltyBody {
    static func move(_ root: JSONNode, allowed: Set<String>) throws(ValidationError) -> LoyaltyPointsMove {
        let reader = try FieldReader.object(root, path: "")
        try BodyFields.rejectUnknown(root, allowed: allowed)
        let customerUuid = try LoyaltyRules.customerUuid(try reader.string("customerUuid", maxLength: 64))
        let points = try reader.positiveInteger("points", max: LoyaltyRules.maxPoints)
        let refCode = try LoyaltyRules.refCode(try text(reader, "refCode", maxLength: LoyaltyRules.maxRefCodeLength))
        let displayNotes = try BodyFields.nonEmptyText(reader, "displayNotes", maxLength: LoyaltyRules.maxDisplayNotesLength)
        return LoyaltyPointsMove(customerUuid: customerUuid, points: Int64(points), refCode: refCode, displayNotes: displayNotes)
    }

    /// A required string, blank or not (its own rule says what it may hold).
    private static func text(_ reader: FieldReader, _ key: String, maxLength: Int) throws(ValidationError) -> String {
        let node = try reader.required(key)
        guard case .string(let text) = node.kind else { throw ValidationError(field: key, message: "must be a string, not \(node.typeName)") }
        guard text.utf8.count <= maxLength else { throw ValidationError(field: key, message: "must be 1 to \(maxLength) printable ASCII characters") }
        return text
    }
}

enum LoyaltyQuery {
    /// A required query parameter, checked by `rule`.
    static func required<Value>(_ query: Parameters, _ name: String, _ rule: (String) throws(ValidationError) -> Value) throws(ServiceError) -> Value {
        guard let text = query[Substring(name)], !text.isEmpty else { throw .invalid(field: name, message: "\(name) is required") }
        do throws(ValidationError) {
            return try rule(String(text))
        } catch {
            throw .invalid(error)
        }
    }

    /// `?customerUuid=&since=&limit=` of the transaction list.
    static func filter(_ query: Parameters) throws(ServiceError) -> LoyaltyCallFilter {
        var filter = LoyaltyCallFilter()
        if query["customerUuid"] != nil {
            filter.customerUuid = try required(query, "customerUuid") { text throws(ValidationError) in try LoyaltyRules.customerUuid(text) }
        }
        if let text = query["since"] {
            guard let since = RFC3339.parseMilliseconds(String(text)) else {
                throw .invalid(field: "since", message: "since must be an RFC 3339 date-time such as 2026-03-16T15:05:33Z")
            }
            filter.since = since
        }
        if let limit = try QueryFields.limit(query) { filter.limit = limit }
        return filter
    }
}
