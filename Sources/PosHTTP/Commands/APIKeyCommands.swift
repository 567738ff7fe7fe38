import PosDomain
import PosServices

// Bodies of /api/v1/api-keys: JSON types are checked here, every rule about the values in
// APIKeyService (the console calls it too).

extension CreateAPIKey: JSONBodyCommand {
    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        let reader = try FieldReader.object(root, path: "")
        try BodyFields.rejectUnknown(root, allowed: ["name", "scopes", "expiresInDays"])
        let nameNode = try reader.required("name")
        guard case .string(let name) = nameNode.kind else {
            throw ValidationError(field: "name", message: "must be a string, not \(nameNode.typeName)")
        }
        var scopes: [String] = []
        for element in try reader.array("scopes", minCount: 0) {
            guard case .string(let scope) = element.node.kind else {
                throw ValidationError(field: element.path, message: "must be a string, not \(element.node.typeName)")
            }
            scopes.append(scope)
        }
        self.init(name: name, scopes: scopes,
                  expiresInDays: try APIKeyFields.optionalInteger(root, "expiresInDays", range: "from 1 to \(APIKeyService.maxExpiresInDays)"))
    }
}

/// `POST /api/v1/api-keys/{apiKeyId}/rotate`: `{overlapHours?}`.
struct RotateAPIKey: JSONBodyCommand {
    var overlapHours: Int?

    init(overlapHours: Int? = nil) {
        self.overlapHours = overlapHours
    }

    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError) {
        _ = try FieldReader.object(root, path: "")
        try BodyFields.rejectUnknown(root, allowed: ["overlapHours"])
        overlapHours = try APIKeyFields.optionalInteger(root, "overlapHours", range: "from 0 to \(APIKeyService.maxOverlapHours)")
    }
}

enum APIKeyFields {
    /// An integer field that may be absent or null; whether it is in range is the service's to say.
    static func optionalInteger(_ root: JSONNode, _ key: String, range: String) throws(ValidationError) -> Int? {
        guard let node = root[key] else { return nil }
        switch node.kind {
        case .null:
            return nil
        case .number(let text):
            guard let integer = (try? ExactDecimal(text))?.integerValue, let value = Int(exactly: integer) else {
                throw ValidationError(field: key, message: "must be an integer \(range)")
            }
            return value
        default:
            throw ValidationError(field: key, message: "must be an integer \(range), not \(node.typeName)")
        }
    }
}
