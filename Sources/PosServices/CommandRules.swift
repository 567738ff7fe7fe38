import PosDomain

/// The value rules of the commands people and partners send, checked by the services whichever
/// presentation read the values: the JSON API's body readers check only shapes and types, the
/// console's forms only read text. Messages name the field as the JSON path.
enum FieldRules {
    static let maxURLBytes = 2048
    static let maxSecretBytes = 4096

    /// Not blank, at most ``DispatchValidator/maxIdentifierLength`` bytes.
    static func identifier(_ value: String, _ field: String) throws(ValidationError) {
        try text(value, field, maxBytes: DispatchValidator.maxIdentifierLength)
    }

    static func text(_ value: String, _ field: String, maxBytes: Int) throws(ValidationError) {
        guard !value.allSatisfy(\.isWhitespace) else { throw ValidationError(field: field, message: "must not be empty") }
        guard value.utf8.count <= maxBytes else { throw ValidationError(field: field, message: "must be at most \(maxBytes) bytes") }
    }

    /// An absolute http(s) URL without query or fragment, at most 2048 bytes.
    static func httpURL(_ value: String, _ field: String) throws(ValidationError) {
        try text(value, field, maxBytes: maxURLBytes)
        guard BaseURL.isValid(value) else { throw ValidationError(field: field, message: "must be an absolute http(s) URL without query or fragment") }
    }

    /// A credential, when one is given: not empty, at most 4096 bytes.
    static func secret(_ value: String?, _ field: String) throws(ValidationError) {
        guard let value else { return }
        guard !value.isEmpty else { throw ValidationError(field: field, message: "must not be empty") }
        guard value.utf8.count <= maxSecretBytes else { throw ValidationError(field: field, message: "must be at most \(maxSecretBytes) bytes") }
    }

    /// Event names from the catalogue, at least one, repeats dropped (the first kept).
    static func events(_ names: [String], _ field: String = "events") throws(ValidationError) -> [String] {
        guard !names.isEmpty else { throw ValidationError(field: field, message: "must have at least 1 element") }
        var events: [String] = []
        for (index, name) in names.enumerated() {
            guard EventCatalogue.contains(name) else {
                throw ValidationError(field: "\(field)[\(index)]", message: "must be one of: \(EventCatalogue.names.joined(separator: ", "))")
            }
            if !events.contains(name) { events.append(name) }
        }
        return events
    }
}

extension RegisterWebhook {
    func validated() throws(ValidationError) -> RegisterWebhook {
        if let outletId { try FieldRules.identifier(outletId, "outletId") }
        try FieldRules.identifier(provider, "provider")
        try FieldRules.text(callbackUrl, "callbackUrl", maxBytes: FieldRules.maxURLBytes)
        return RegisterWebhook(outletId: outletId, provider: provider, callbackUrl: callbackUrl, events: try FieldRules.events(events))
    }
}

extension UpdateWebhook {
    func validated() throws(ValidationError) -> UpdateWebhook {
        guard callbackUrl != nil || events != nil || isActive != nil else {
            throw ValidationError(field: "", message: "nothing to change: send callbackUrl, events or isActive")
        }
        if let callbackUrl { try FieldRules.text(callbackUrl, "callbackUrl", maxBytes: FieldRules.maxURLBytes) }
        return UpdateWebhook(callbackUrl: callbackUrl, events: try events.map { names throws(ValidationError) in try FieldRules.events(names) },
                             isActive: isActive)
    }
}

extension PutProviderConnection {
    func validate() throws(ValidationError) {
        guard Self.statuses.contains(status) else {
            throw ValidationError(field: "status", message: "must be one of: \(Self.statuses.joined(separator: ", "))")
        }
        try FieldRules.secret(apiKey, "apiKey")
        if let apiSecret, apiSecret.utf8.count > FieldRules.maxSecretBytes {
            throw ValidationError(field: "apiSecret", message: "must be at most \(FieldRules.maxSecretBytes) bytes")
        }
        if !webhookUrl.isEmpty { try FieldRules.httpURL(webhookUrl, "webhookUrl") }
        try FieldRules.httpURL(baseUrl, "baseUrl")
        if case .set(let secret) = webhookSecret { try FieldRules.secret(secret, "webhookSecret") }
    }
}

extension PutOutletProvider {
    func validate() throws(ValidationError) {
        try FieldRules.identifier(providerSlug, "providerSlug")
        try FieldRules.identifier(externalId, "externalId")
        guard case .object = settings else { throw ValidationError(field: "settings", message: "must be an object") }
    }
}

extension PutLoyaltyConfig {
    func validate() throws(ValidationError) {
        if let baseUrl { try FieldRules.httpURL(baseUrl, "baseUrl") }
        try FieldRules.secret(apiKey, "apiKey")
        if let timeoutMs, !LoyaltySettings.timeoutRangeMs.contains(timeoutMs) {
            throw ValidationError(field: "timeout", message: "must be a duration from 100ms to 60s, such as 500ms or 5s")
        }
    }
}

/// A command's rules, failing as the service's 400 naming the field.
func checked<T>(_ body: () throws(ValidationError) -> T) throws(ServiceError) -> T {
    do {
        return try body()
    } catch {
        throw .invalid(error)
    }
}
