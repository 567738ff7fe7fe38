import PosDomain
import PosStorage

/// Failures the HTTP layer turns into the error envelope; one case per status the API documents.
public enum ServiceError: Error, Equatable, Sendable {
    /// 400, naming the field by JSON path.
    case invalid(field: String, message: String, details: String = "")
    /// 401. Always the same body, whatever the cause (decisions D4).
    case unauthorized
    /// 401 for a caller that is not an API key holder (a POS whose webhook signature did not verify).
    case unverified(String)
    /// 403: authenticated, but the key lacks the scope, or the request speaks for a provider
    /// (`field` `X-Provider`) the tenant has not connected.
    case forbidden(String, field: String = "")
    case notFound(String)
    /// 409.
    case conflict(String, details: String = "")
    /// 412: an `If-Match` version that is no longer the current one.
    case preconditionFailed(String, details: String = "")
    /// 503: the database or another dependency is not answering.
    case unavailable(String)
    /// 502: a POS we asked on the caller's behalf failed.
    case badGateway(String, details: String = "")
    /// 503 for a feature the tenant has not set up (`loyalty_not_configured`): unlike
    /// ``unavailable(_:)``, the message is the caller's to read.
    case notConfigured(String, details: String = "")
    /// 504: a system we asked on the caller's behalf did not answer in time.
    case gatewayTimeout(String, details: String = "")
    /// 422: a key reused for a different request (a loyalty `refCode`).
    case unprocessable(String, details: String = "")
    /// A refusal of a system we proxy, passed through with its own 4xx status and message.
    case upstreamRefused(status: Int, message: String, details: String = "")

    /// The HTTP status the edge answers with.
    public var statusCode: Int {
        switch self {
        case .invalid: 400
        case .unauthorized, .unverified: 401
        case .forbidden: 403
        case .notFound: 404
        case .conflict: 409
        case .preconditionFailed: 412
        case .unavailable, .notConfigured: 503
        case .badGateway: 502
        case .gatewayTimeout: 504
        case .unprocessable: 422
        case .upstreamRefused(let status, _, _): status
        }
    }

    public static func invalid(_ error: ValidationError) -> ServiceError {
        .invalid(field: error.field, message: error.field.isEmpty ? error.message : "\(error.field) \(error.message)")
    }
}

/// Maps store failures to service failures, leaving everything else alone.
func translatingStoreErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as StoreError {
        switch error {
        case .conflict(let message): throw ServiceError.conflict(message)
        case .unavailable(let message): throw ServiceError.unavailable(message)
        }
    }
}
