import HTTPTypes
import Hummingbird
import PosDomain
import PosServices

extension HTTPField.Name {
    static let apiKey = HTTPField.Name("X-Api-Key")!
    static let tenantId = HTTPField.Name("X-Tenant-ID")!
}

/// What handlers need to read a request: its caller and its JSON body.
struct RequestReader: Sendable {
    let auth: AuthService
    let baseDomain: String?
    let maxBodyBytes: Int

    /// The caller, when its key is valid for the tenant the request names and has one of `scopes`.
    func principal(_ request: Request, anyOf scopes: Set<APIScope>? = nil) async throws -> Principal {
        let claim = TenantClaim(host: request.head.authority,
                                tenantHeader: request.headers[.tenantId], baseDomain: baseDomain)
        let principal = try await auth.authenticate(apiKey: request.headers[.apiKey], claim: claim)
        if let scopes, !principal.has(anyOf: scopes) {
            let names = scopes.map(\.rawValue).sorted().joined(separator: " or ")
            throw APIError(status: .forbidden, message: "this API key lacks the required scope", details: "requires scope \(names)")
        }
        return principal
    }

    /// The raw body of a JSON request: 415 for another content type, 413 past the limit.
    func jsonBody(_ request: Request) async throws -> [UInt8] {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let mediaType = contentType.split(separator: ";").first?.trimmingCharacters(in: .whitespaces) ?? ""
        guard mediaType == "application/json" else {
            throw APIError(status: .unsupportedMediaType, message: "Content-Type must be application/json",
                           details: contentType.isEmpty ? "no Content-Type header was sent" : "got \(contentType)")
        }
        let buffer = try await request.body.collect(upTo: maxBodyBytes)
        guard buffer.readableBytes > 0 else {
            throw APIError(status: .badRequest, message: "request body is empty; a JSON object is required")
        }
        return Array(buffer.readableBytesView)
    }
}

extension Int64 {
    /// RFC 3339 UTC text of epoch milliseconds.
    var rfc3339: String { RFC3339.format(milliseconds: self) }
}
