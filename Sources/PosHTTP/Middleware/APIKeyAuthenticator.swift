import HTTPTypes
import Hummingbird
import PosDomain
import PosServices

extension HTTPField.Name {
    static let apiKey = HTTPField.Name("X-Api-Key")!
    static let tenantId = HTTPField.Name("X-Tenant-ID")!
}

/// Puts the caller in the context: `X-Api-Key`, valid for the tenant the request names by
/// subdomain or `X-Tenant-ID` (decisions D4). Every failure is the same 401, thrown before the
/// route runs.
public struct APIKeyAuthenticator: RouterMiddleware {
    public typealias Context = PosRequestContext
    let auth: AuthService
    /// Partners' hosts are `<subdomain>.<baseDomain>`.
    let baseDomain: String?

    public init(auth: AuthService, baseDomain: String?) {
        self.auth = auth
        self.baseDomain = baseDomain
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let claim = TenantClaim(host: request.head.authority, tenantHeader: request.headers[.tenantId], baseDomain: baseDomain)
        let principal = try await auth.authenticate(apiKey: request.headers[.apiKey], claim: claim)
        var context = context
        context.principal = principal
        context.logger[metadataKey: "tenant_id"] = .string(principal.tenant.id)
        RequestLogScope.current?.tenant = principal.tenant.subdomain
        return try await next(request, context)
    }
}

/// Who may pass a route group: a key with any of `scopes`, or any key when `scopes` is nil.
/// Others get 403 naming the scopes the group requires.
public struct ScopePolicyMiddleware: RouterMiddleware {
    public typealias Context = AuthenticatedContext
    public let scopes: Set<APIScope>?

    public init(anyOf scopes: Set<APIScope>?) {
        self.scopes = scopes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let scopes, !context.principal.has(anyOf: scopes) {
            let names = scopes.map(\.rawValue).sorted().joined(separator: " or ")
            throw APIError(status: .forbidden, message: "this API key lacks the required scope", details: "requires scope \(names)")
        }
        return try await next(request, context)
    }
}
