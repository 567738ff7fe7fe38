import Foundation
import PosDomain
import PosServices

// One reader per body shape. Field paths in 400s are the JSON paths of the body.

extension DispatchRequest: JSONBodyCommand {
    /// The order's bytes are kept exactly as sent: they are what the webhook signs.
    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        self = try DispatchValidator.validate(body: bytes, root: root)
    }
}

extension RegisterWebhook: JSONBodyCommand {
    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let reader = try FieldReader.object(root, path: "")
        self.init(outletId: try reader.optionalString("outletId"), provider: try reader.string("provider"),
                  callbackUrl: try reader.string("callbackUrl"), events: try BodyFields.events(reader))
    }
}

extension UpdateWebhook: JSONBodyCommand {
    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let reader = try FieldReader.object(root, path: "")
        let callbackUrl = try reader.optionalString("callbackUrl")
        let events = root["events"] != nil ? try BodyFields.events(reader) : nil
        var isActive: Bool?
        if let active = root["isActive"], !BodyFields.isNull(active) { isActive = try reader.bool("isActive") }
        self.init(callbackUrl: callbackUrl, events: events, isActive: isActive)
    }
}

extension RecoverDeliveries: JSONBodyCommand {
    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let reader = try FieldReader.object(root, path: "")
        guard let since = RFC3339.parseMilliseconds(try reader.string("since")) else {
            throw ValidationError(field: "since", message: "must be an RFC 3339 date-time")
        }
        let outletId = try reader.optionalString("outletId")
        let webhookId: Int64?
        switch root["webhookId"]?.kind {
        case nil, .null?:
            webhookId = nil
        case .number(let text)? where Int64(text) != nil:
            webhookId = Int64(text)
        default:
            throw ValidationError(field: "webhookId", message: "must be an integer")
        }
        self.init(since: since, webhookId: webhookId, outletId: outletId)
    }
}

extension PutProviderConnection: JSONBodyCommand {
    /// Whether `apiKey` may be omitted (an update) and what `config` the POS takes are the service's to decide.
    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let reader = try FieldReader.object(root, path: "")
        try BodyFields.rejectUnknown(root, allowed: ["status", "apiKey", "apiSecret", "webhookUrl", "baseUrl", "config", "webhookSecret"])
        let status = try reader.optionalString("status") ?? "active"
        let apiKey = try BodyFields.text(reader, "apiKey")
        let apiSecret = try BodyFields.text(reader, "apiSecret")
        let webhookUrl = try BodyFields.text(reader, "webhookUrl") ?? ""
        let baseUrl = try reader.string("baseUrl")
        // Absent keeps the stored secret, null removes it.
        let webhookSecret: SecretChange = switch root["webhookSecret"]?.kind {
        case nil: .keep
        case .null?: .remove
        default: .set(try BodyFields.text(reader, "webhookSecret") ?? "")
        }
        self.init(status: status, apiKey: apiKey, apiSecret: apiSecret, webhookUrl: webhookUrl, baseUrl: baseUrl,
                  config: try BodyFields.config(root["config"]), webhookSecret: webhookSecret)
    }
}

extension PutOutletProvider: JSONBodyCommand {
    /// Whether the provider exists and takes these settings is the service's to decide.
    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let reader = try FieldReader.object(root, path: "")
        try BodyFields.rejectUnknown(root, allowed: ["providerSlug", "externalId", "settings"])
        let providerSlug = try reader.string("providerSlug")
        // Revel and OktoPOS number their outlets; both spellings are taken and kept as text.
        let externalId: String
        let external = try reader.required("externalId")
        switch external.kind {
        case .string(let text): externalId = text
        case .number(let text) where (try? ExactDecimal(text))?.integerValue != nil: externalId = text
        default: throw ValidationError(field: "externalId", message: "must be the outlet's id in the POS: a non-empty string or an integer")
        }
        self.init(providerSlug: providerSlug, externalId: externalId, settings: root["settings"].map(JSONValue.init) ?? .object([]))
    }
}

extension StatusReport: JSONBodyCommand {
    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let reader = try FieldReader.object(root, path: "")
        try BodyFields.rejectUnknown(root, allowed: ["status", "posOrderId", "timestamp", "reason"])
        let text = try reader.string("status", maxLength: 32)
        guard let status = OrderStatus(rawValue: text) else {
            throw ValidationError(field: "status", message: "must be one of: \(OrderStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var occurredAt: Int64?
        if let timestamp = try BodyFields.optionalText(reader, "timestamp", maxLength: 64) {
            guard let parsed = RFC3339.parseMilliseconds(timestamp) else {
                throw ValidationError(field: "timestamp", message: "must be an RFC 3339 date-time such as 2026-03-16T15:05:33Z")
            }
            occurredAt = parsed
        }
        self.init(status: status, posOrderId: try BodyFields.nonEmptyText(reader, "posOrderId", maxLength: DispatchValidator.maxIdentifierLength),
                  occurredAt: occurredAt, reason: try BodyFields.nonEmptyText(reader, "reason", maxLength: 500))
    }
}

/// `POST /orders/{orderId}/cancel`.
struct CancelOrder: JSONBodyCommand {
    let reason: String

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let reader = try FieldReader.object(root, path: "")
        try BodyFields.rejectUnknown(root, allowed: ["reason"])
        guard let reason = try BodyFields.nonEmptyText(reader, "reason", maxLength: 500) else {
            throw ValidationError(field: "reason", message: "is required")
        }
        self.reason = reason
    }
}

/// Field rules several bodies share.
enum BodyFields {
    static func isNull(_ node: JSONNode) -> Bool {
        if case .null = node.kind { return true }
        return false
    }

    /// Event names as sent (strings); which are known is the service's rule.
    static func events(_ reader: FieldReader) throws(ValidationError) -> [String] {
        try reader.array("events", minCount: 1).map { element throws(ValidationError) in
            guard case .string(let name) = element.node.kind else {
                throw ValidationError(field: element.path, message: "must be a string, not \(element.node.typeName)")
            }
            return name
        }
    }

    /// Refuses a body key the endpoint does not take, naming it.
    static func rejectUnknown(_ root: JSONNode, allowed: Set<String>) throws(ValidationError) {
        guard case .object = root.kind else { throw ValidationError(field: "", message: "must be an object") }
        try FieldReader.object(root, path: "").rejectUnknownKeys(allowed: allowed)
    }

    static func optionalText(_ reader: FieldReader, _ key: String, maxLength: Int) throws(ValidationError) -> String? {
        guard let node = reader.node[key] else { return nil }
        if case .null = node.kind { return nil }
        guard case .string(let text) = node.kind else { throw ValidationError(field: key, message: "must be a string, not \(node.typeName)") }
        guard text.utf8.count <= maxLength else { throw ValidationError(field: key, message: "must be at most \(maxLength) bytes") }
        return text
    }

    /// Optional text that is not blank when present.
    static func nonEmptyText(_ reader: FieldReader, _ key: String, maxLength: Int) throws(ValidationError) -> String? {
        guard let text = try optionalText(reader, key, maxLength: maxLength) else { return nil }
        guard !text.allSatisfy(\.isWhitespace) else { throw ValidationError(field: key, message: "must not be blank") }
        return text
    }

    /// A credential: absent or null is nil, empty is refused.
    /// Optional text: a string when present (null is absent); its rules are the service's.
    static func text(_ reader: FieldReader, _ key: String) throws(ValidationError) -> String? {
        try optionalText(reader, key, maxLength: .max)
    }

    /// `config` as an object; a JSON-encoded string (the original service's docs type it as a string) is read too.
    static func config(_ node: JSONNode?) throws(ValidationError) -> JSONValue {
        guard let node else { return .object([]) }
        switch node.kind {
        case .null: return .object([])
        case .object: return JSONValue(node)
        case .string(let text):
            if text.isEmpty { return .object([]) }
            guard let value = JSONValue(parsing: text), case .object = value else {
                throw ValidationError(field: "config", message: "must be a JSON object (or a string holding one)")
            }
            return value
        default: throw ValidationError(field: "config", message: "must be a JSON object, not \(node.typeName)")
        }
    }
}
