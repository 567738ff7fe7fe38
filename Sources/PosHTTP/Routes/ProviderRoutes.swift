import HTTPTypes
import Hummingbird
import PosDomain
import PosServices

/// Provider connections and outlet mappings (scope `admin`): what built-in transformers need.
struct ProviderRoutes: Sendable {
    let body: JSONBodyDecoder
    let providers: ProviderService
    /// `POS_PUBLIC_URL`, the origin POS webhooks are sent to.
    let publicURL: String?

    struct Saved: Encodable {
        let connection: ConnectionView
    }

    struct List: Encodable {
        let connections: [ConnectionView]
    }

    struct Deleted: Encodable {
        let outletMappingsRemoved: Int
    }

    struct RemoteOutlets: Encodable {
        let outlets: [RemoteOutlet]
    }

    struct Mapped: Encodable {
        let outletProvider: OutletProviderView
    }

    func connections(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<List> {
        JSONResponse(List(connections: try await providers.connections(tenant: context.principal.tenant).map { view($0, request) }))
    }

    func putConnection(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Saved> {
        let slug = try context.parameters.require("slug")
        let command = try await body.decode(PutProviderConnection.self, from: request)
        let connection = try await providers.putConnection(slug: slug, command, tenant: context.principal.tenant)
        let created = connection.createdAt == connection.updatedAt
        return Envelope(message: created ? "provider connection created" : "provider connection updated", Saved(connection: view(connection, request)))
    }

    func connection(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<ConnectionView> {
        JSONResponse(view(try await providers.connection(slug: try context.parameters.require("slug"), tenant: context.principal.tenant), request))
    }

    func deleteConnection(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Deleted> {
        let removed = try await providers.deleteConnection(slug: try context.parameters.require("slug"), tenant: context.principal.tenant)
        return Envelope(message: "provider connection deleted", Deleted(outletMappingsRemoved: removed))
    }

    func testConnection(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<ConnectionTestResult> {
        JSONResponse(try await providers.testConnection(slug: try context.parameters.require("slug"), tenant: context.principal.tenant))
    }

    func remoteOutlets(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<RemoteOutlets> {
        JSONResponse(RemoteOutlets(outlets: try await providers.remoteOutlets(slug: try context.parameters.require("slug"),
                                                                            tenant: context.principal.tenant)))
    }

    struct AuthorizeRedirect: Encodable {
        let authorizeUrl: String
    }

    /// `GET /provider-connections/{slug}/oauth/start`: 302 to the POS's authorize URL (also in the body,
    /// for a client that does not follow redirects).
    func oauthStart(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let url = try await providers.startAuthorization(slug: try context.parameters.require("slug"), tenant: context.principal.tenant)
        var response = try JSONResponse(AuthorizeRedirect(authorizeUrl: url), status: .found).response(from: request, context: context)
        response.headers[.location] = url
        response.headers[.cacheControl] = "no-store"
        return response
    }

    struct Authorized: Encodable {
        let connection: ConnectionView
    }

    /// `GET /oauth/lightspeed/callback?code=&state=` (no API key: the state proves the tenant).
    func oauthCallback(_ request: Request, context: PosRequestContext) async throws -> Envelope<Authorized> {
        let query = request.uri.queryParameters
        let connection = try await providers.completeAuthorization(
            slug: "lightspeed", code: query["code"].map(String.init), state: query["state"].map(String.init), error: query["error"].map(String.init))
        return Envelope(message: "lightspeed authorized: tokens stored", Authorized(connection: view(connection, request)))
    }

    func putOutletProvider(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Mapped> {
        let outletId = try Self.outletId(context)
        let command = try await body.decode(PutOutletProvider.self, from: request)
        let mapping = try await providers.putOutletProvider(outletId: outletId, command, tenant: context.principal.tenant)
        return Envelope(message: "outlet mapped to \(mapping.providerSlug)", Mapped(outletProvider: OutletProviderView(mapping)))
    }

    func outletProvider(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<OutletProviderView> {
        JSONResponse(OutletProviderView(try await providers.outletProvider(outletId: try context.parameters.require("outletId"),
                                                                           tenant: context.principal.tenant)))
    }

    static func outletId(_ context: AuthenticatedContext) throws -> String {
        let outletId = try context.parameters.require("outletId")
        guard !outletId.isEmpty, outletId.utf8.count <= DispatchValidator.maxIdentifierLength else {
            throw ServiceError.invalid(field: "outletId", message: "outletId must be 1 to \(DispatchValidator.maxIdentifierLength) bytes")
        }
        return outletId
    }

    private func view(_ connection: ProviderConnection, _ request: Request) -> ConnectionView {
        let inboundUrl = providers.receivesStatusWebhooks(connection.slug)
            ? "\(origin(request))/api/v1/inbound/\(connection.slug)/order-status/\(connection.connectionToken)"
            : nil
        return ConnectionView(slug: connection.slug, status: connection.status, apiKey: providers.maskedKey(connection),
                              apiSecret: providers.hasSecret(connection) ? "****" : "", webhookSecret: connection.sealedWebhookSecret == nil ? "" : "****",
                              webhookUrl: connection.webhookUrl, baseUrl: connection.baseUrl, inboundUrl: inboundUrl,
                              config: JSONValue(parsing: connection.config) ?? .object([]), capabilities: providers.capabilities(connection.slug),
                              createdAt: connection.createdAt.rfc3339, updatedAt: connection.updatedAt.rfc3339)
    }

    /// `POS_PUBLIC_URL`, or the scheme and host this request came in on (behind a proxy, its forwarded ones).
    private func origin(_ request: Request) -> String {
        if let publicURL { return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL }
        let forwardedProto = HTTPField.Name("X-Forwarded-Proto").flatMap { request.headers[$0] }
        let scheme = forwardedProto ?? request.head.scheme ?? "http"
        let host = request.head.authority ?? "localhost"
        return "\(scheme)://\(host)"
    }
}

/// A provider connection as the API shows it: secrets masked, never returned.
struct ConnectionView: Encodable {
    let slug: String
    let status: String
    let apiKey: String
    let apiSecret: String
    /// `****` when set, empty when not: never shown.
    let webhookSecret: String
    let webhookUrl: String
    let baseUrl: String
    /// Where the POS sends its status webhooks for this connection; nil for a POS that sends none.
    let inboundUrl: String?
    let config: JSONValue
    let capabilities: [String]
    let createdAt: String
    let updatedAt: String
}

struct OutletProviderView: Encodable {
    let outletId: String
    let providerSlug: String
    let externalId: String
    let settings: JSONValue
    let createdAt: String
    let updatedAt: String

    init(_ mapping: OutletProvider) {
        outletId = mapping.outletId
        providerSlug = mapping.providerSlug
        externalId = mapping.externalId
        settings = JSONValue(parsing: mapping.settings) ?? .object([])
        createdAt = mapping.createdAt.rfc3339
        updatedAt = mapping.updatedAt.rfc3339
    }
}
