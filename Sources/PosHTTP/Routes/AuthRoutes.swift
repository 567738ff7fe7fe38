import Hummingbird
import PosDomain

/// `GET /api/v1/auth/whoami`: the partner's smoke test.
struct AuthRoutes: Sendable {
    let clock: @Sendable () -> Int64

    struct WhoAmI: Encodable {
        let authenticated: Bool
        let tenantId: String
        let subdomain: String
        let apiKeyId: Int64
        @ExplicitNull var expiresAt: String?
        let serverTime: String
        let scopes: [String]
    }

    func whoAmI(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<WhoAmI> {
        let principal = context.principal
        return JSONResponse(WhoAmI(
            authenticated: true, tenantId: principal.tenant.id, subdomain: principal.tenant.subdomain,
            apiKeyId: principal.key.apiKeyId, expiresAt: principal.key.expiresAt?.rfc3339,
            serverTime: clock().rfc3339, scopes: principal.key.scopes.map(\.rawValue)))
    }
}
