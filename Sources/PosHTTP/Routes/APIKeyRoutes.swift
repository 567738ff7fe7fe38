import Hummingbird
import PosDomain
import PosServices

/// A tenant's API keys, managed by its `admin` keys. The rules are APIKeyService's.
struct APIKeyRoutes: Sendable {
    let body: JSONBodyDecoder
    let keys: APIKeyService

    /// A key just issued or rotated in: the only answer that holds the full key.
    struct Issued: Encodable {
        let id: Int64
        let key: String
        let name: String
        let prefix: String
        let scopes: [String]
        let createdAt: String
        @ExplicitNull var expiresAt: String?

        init(_ issued: IssuedAPIKey) {
            id = issued.record.apiKeyId
            key = issued.key
            name = issued.record.name
            prefix = issued.record.prefix
            scopes = issued.record.scopes.map(\.rawValue)
            createdAt = issued.record.createdAt.rfc3339
            expiresAt = issued.record.expiresAt?.rfc3339
        }
    }

    struct List: Encodable {
        let apiKeys: [APIKeyView]
    }

    struct Revoked: Encodable {
        let apiKey: APIKeyView
    }

    func create(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Issued> {
        let command = try await body.decode(CreateAPIKey.self, from: request)
        let issued = try await keys.create(command, by: context.principal)
        return Envelope(.created, message: "API key created; this is the only time the key is shown", Issued(issued))
    }

    func list(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<List> {
        JSONResponse(List(apiKeys: try await keys.list(by: context.principal).map(APIKeyView.init)))
    }

    func rotate(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Issued> {
        let id = try Self.apiKeyId(context)
        // The body is optional: none at all means the default overlap.
        let command = Self.hasNoBody(request) ? RotateAPIKey() : try await body.decode(RotateAPIKey.self, from: request)
        let rotated = try await keys.rotate(id: id, overlapHours: command.overlapHours, by: context.principal)
        return Envelope(.created, message: "API key rotated; this is the only time the new key is shown", Issued(rotated.issued))
    }

    func revoke(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Revoked> {
        let id = try Self.apiKeyId(context)
        let key = try await keys.revoke(id: id, by: context.principal)
        return Envelope(message: "API key revoked", Revoked(apiKey: APIKeyView(key)))
    }

    static func apiKeyId(_ context: AuthenticatedContext) throws -> Int64 {
        guard let id = context.parameters.get("apiKeyId").flatMap(Int64.init), id > 0 else {
            throw APIError(status: .notFound, message: "no API key with that id", details: "API key ids are positive integers")
        }
        return id
    }

    /// No Content-Type and no body announced: a bare `POST`.
    static func hasNoBody(_ request: Request) -> Bool {
        request.headers[.contentType] == nil && request.headers[.transferEncoding] == nil
            && (request.headers[.contentLength] ?? "0") == "0"
    }
}

/// A key as lists show it: never the key, never its hash.
struct APIKeyView: Encodable {
    let id: Int64
    let name: String
    let prefix: String
    let scopes: [String]
    let createdAt: String
    @ExplicitNull var expiresAt: String?
    @ExplicitNull var lastUsedAt: String?
    @ExplicitNull var revokedAt: String?

    init(_ key: APIKeyRecord) {
        id = key.apiKeyId
        name = key.name
        prefix = key.prefix
        scopes = key.scopes.map(\.rawValue)
        createdAt = key.createdAt.rfc3339
        expiresAt = key.expiresAt?.rfc3339
        lastUsedAt = key.lastUsedAt?.rfc3339
        revokedAt = key.revokedAt?.rfc3339
    }
}
