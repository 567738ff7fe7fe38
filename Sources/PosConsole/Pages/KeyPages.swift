import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import PosHTTP
import PosServices

/// `/console/keys`: the tenant's API keys. Issuing, rotating and revoking go through
/// ``APIKeyService`` with the signed-in admin key as the acting principal, so its rules (no scope
/// it does not hold, no self-revocation) hold here as in the API. Operators see the list only.
struct KeyPages: Sendable {
    let kit: ConsoleKit

    func register(on router: Router<PosRequestContext>) {
        router.get("\(Console.root)/keys", use: kit.page(list))
        router.post("\(Console.root)/keys", use: kit.action(create))
        router.post("\(Console.root)/keys/:apiKeyId/rotate", use: kit.action(rotate))
        router.post("\(Console.root)/keys/:apiKeyId/revoke", use: kit.action(revoke))
    }

    struct KeyRow {
        let id: Int64
        let name: String
        let prefix: String
        let scopes: String
        let createdAt: String
        let expiresAt: String
        let lastUsedAt: String
        let revokedAt: String?
        let expired: Bool
        let usable: Bool
        /// The key this session signed in with: the service refuses to revoke it.
        let isCurrent: Bool

        init(_ key: APIKeyRecord, now: Int64, currentKeyId: Int64?) {
            id = key.apiKeyId
            name = key.name
            prefix = key.prefix
            scopes = key.scopes.map(\.rawValue).joined(separator: ", ")
            createdAt = Format.time(key.createdAt)
            expiresAt = key.expiresAt.map(Format.time) ?? "never"
            lastUsedAt = key.lastUsedAt.map(Format.time) ?? "never"
            revokedAt = key.revokedAt.map(Format.time)
            expired = key.expiresAt.map { $0 <= now } ?? false
            usable = key.isUsable(at: now)
            isCurrent = key.apiKeyId == currentKeyId
        }
    }

    struct ScopeOption {
        let name: String
        let checked: Bool
        /// Whether the signed-in key holds it: a key grants only scopes it holds.
        let grantable: Bool
    }

    struct CreateValues {
        let name: String
        let expiresInDays: String
    }

    struct ListView {
        let keys: [KeyRow]
        let manageable: Bool
        let scopes: [ScopeOption]
        let values: CreateValues
        let defaultOverlapHours: Int
        let maxOverlapHours: Int
        let maxExpiresInDays: Int
        let error: String?
        let notice: String?
    }

    @Sendable func list(_ visit: Visit) async throws -> Response {
        try await renderList(visit, values: CreateValues(name: "", expiresInDays: ""), checked: [], error: nil, status: .ok)
    }

    private func renderList(_ visit: Visit, values: CreateValues, checked: [String], error: String?,
                            status: HTTPResponse.Status) async throws -> Response {
        let tenant = try visit.tenant()
        let records: [APIKeyRecord]
        var held: [APIScope] = []
        var currentKeyId: Int64?
        switch visit.viewer {
        case .tenantAdmin(let principal):
            records = try await kit.services.apiKeys.list(by: principal)
            held = principal.key.scopes
            currentKeyId = principal.key.apiKeyId
        case .platformOperator:
            // An operator holds no key of this tenant, and APIKeyService acts only for one; the
            // list (never a key) is what the CLI's `key list` shows operators too.
            records = try await kit.services.tenants.keys(tenant: tenant.id)
        }
        let view = ListView(
            keys: records.map { KeyRow($0, now: visit.now, currentKeyId: currentKeyId) },
            manageable: !visit.viewer.isOperator,
            scopes: APIScope.allCases.map { ScopeOption(name: $0.rawValue, checked: checked.contains($0.rawValue), grantable: held.contains($0)) },
            values: values, defaultOverlapHours: APIKeyService.defaultOverlapHours, maxOverlapHours: APIKeyService.maxOverlapHours,
            maxExpiresInDays: APIKeyService.maxExpiresInDays, error: error, notice: Notice.text(visit.query("done")))
        return try kit.render("keys", title: "API keys", view: view, visit: visit, section: .keys, status: status)
    }

    /// The signed-in tenant admin; an operator is told why they cannot change keys here.
    private func principal(_ visit: Visit) throws -> Principal {
        guard case .tenantAdmin(let principal) = visit.viewer else {
            throw ServiceError.forbidden("operators cannot issue, rotate or revoke a tenant's keys in the console: "
                                         + "they are managed by one of the tenant's own admin keys (operators issue them with the CLI)")
        }
        return principal
    }

    struct CreateForm: Decodable {
        let name: String?
        let scopes: [String]?
        let expiresInDays: String?
    }

    @Sendable func create(_ visit: Visit) async throws -> Response {
        let principal = try principal(visit)
        let form = try visit.form(CreateForm.self)
        let values = CreateValues(name: form.name ?? "", expiresInDays: WebhookPages.trimmed(form.expiresInDays))
        let scopes = form.scopes ?? []
        let issued: IssuedAPIKey
        do {
            let days = try Self.optionalInteger(values.expiresInDays, field: "expiresInDays",
                                                range: "from 1 to \(APIKeyService.maxExpiresInDays)")
            issued = try await kit.services.apiKeys.create(CreateAPIKey(name: values.name, scopes: scopes, expiresInDays: days), by: principal)
        } catch let error as ServiceError {
            guard let message = WebhookPages.formMessage(error) else { throw error }
            return try await renderList(visit, values: values, checked: scopes, error: message, status: .badRequest)
        }
        kit.logger.notice("console issued API key", metadata: [
            "tenant_id": .string(principal.tenant.id), "api_key_id": .stringConvertible(issued.record.apiKeyId),
            "by_api_key_id": .stringConvertible(principal.key.apiKeyId),
        ])
        return try kit.render("secret-once", title: "API key created", view: Self.secretView(issued, heading: "API key \(issued.record.apiKeyId) created",
                                                                                            extra: nil),
                              visit: visit, section: .keys, status: .created)
    }

    struct RotateForm: Decodable {
        let overlapHours: String?
    }

    @Sendable func rotate(_ visit: Visit) async throws -> Response {
        let principal = try principal(visit)
        let id = try Self.apiKeyId(visit)
        let overlap = try Self.optionalInteger(WebhookPages.trimmed(try visit.form(RotateForm.self).overlapHours), field: "overlapHours",
                                               range: "from 0 to \(APIKeyService.maxOverlapHours)")
        let rotated = try await kit.services.apiKeys.rotate(id: id, overlapHours: overlap, by: principal)
        kit.logger.notice("console rotated API key", metadata: [
            "tenant_id": .string(principal.tenant.id), "api_key_id": .stringConvertible(id),
            "new_api_key_id": .stringConvertible(rotated.issued.record.apiKeyId), "by_api_key_id": .stringConvertible(principal.key.apiKeyId),
        ])
        let until = rotated.previous.expiresAt.map { "The old key (\(rotated.previous.prefix)…) keeps working until \(Format.time($0))." }
        return try kit.render("secret-once", title: "API key rotated",
                              view: Self.secretView(rotated.issued, heading: "Key \(id) rotated: new key \(rotated.issued.record.apiKeyId)", extra: until),
                              visit: visit, section: .keys, status: .created)
    }

    @Sendable func revoke(_ visit: Visit) async throws -> Response {
        let principal = try principal(visit)
        let id = try Self.apiKeyId(visit)
        _ = try await kit.services.apiKeys.revoke(id: id, by: principal)
        kit.logger.notice("console revoked API key", metadata: [
            "tenant_id": .string(principal.tenant.id), "api_key_id": .stringConvertible(id), "by_api_key_id": .stringConvertible(principal.key.apiKeyId),
        ])
        return ConsoleKit.redirect(to: "\(Console.root)/keys?done=revoked")
    }

    static func secretView(_ issued: IssuedAPIKey, heading: String, extra: String?) -> WebhookPages.SecretView {
        let record = issued.record
        return WebhookPages.SecretView(
            heading: heading, secret: issued.key,
            note: "Copy it now: this is the only time the key is shown. It is not stored, and no page shows it again." + (extra.map { " \($0)" } ?? ""),
            facts: [WebhookPages.Fact(label: "Name", value: record.name), WebhookPages.Fact(label: "Prefix", value: record.prefix),
                    WebhookPages.Fact(label: "Scopes", value: record.scopes.map(\.rawValue).joined(separator: ", ")),
                    WebhookPages.Fact(label: "Expires", value: record.expiresAt.map(Format.time) ?? "never")],
            back: "\(Console.root)/keys", backLabel: "Back to the keys")
    }

    /// Blank is nil; anything else must be an integer (the range is the service's to check).
    static func optionalInteger(_ text: String, field: String, range: String) throws -> Int? {
        guard !text.isEmpty else { return nil }
        guard let value = Int(text) else { throw ServiceError.invalid(field: field, message: "\(field) must be an integer \(range)") }
        return value
    }

    static func apiKeyId(_ visit: Visit) throws -> Int64 {
        guard let id = Int64(try visit.parameter("apiKeyId")), id > 0 else { throw ServiceError.notFound("no API key with that id") }
        return id
    }
}
