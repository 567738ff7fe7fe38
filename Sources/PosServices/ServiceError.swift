import PosDomain
import PosStorage

/// What went wrong, by kind: services throw these and know nothing of how they are shown. Each
/// presentation maps a kind to its own answer in one place (the JSON API: `APIError.init(_:)` in
/// PosHTTP, status and envelope; docs/adr/0012).
public enum ServiceError: Error, Equatable, Sendable {
    /// The request is malformed or breaks a rule; `field` names the field by JSON path.
    case invalid(field: String, message: String, details: String = "")
    /// No valid API key. Always the same answer, whatever the cause, so a caller learns nothing about which keys exist.
    case unauthorized
    /// A caller that is not an API key holder could not be verified (a POS whose webhook signature did not verify).
    case unverified(String)
    /// Authenticated, but the key lacks the scope, or the request speaks for a provider
    /// (`field` `X-Provider`) the tenant has not connected.
    case forbidden(String, field: String = "")
    /// No such thing for this tenant.
    case notFound(String)
    /// The request clashes with the current state (a duplicate, a transition not allowed).
    case conflict(String, details: String = "")
    /// A version the caller pinned (`If-Match`) that is no longer the current one.
    case preconditionFailed(String, details: String = "")
    /// The database or another dependency is not answering; the message is for the log, not the caller.
    case unavailable(String)
    /// A system we asked on the caller's behalf failed.
    case badGateway(String, details: String = "")
    /// A feature the tenant has not set up (`loyalty_not_configured`): unlike
    /// ``unavailable(_:)``, the message is the caller's to read.
    case notConfigured(String, details: String = "")
    /// A system we asked on the caller's behalf did not answer in time.
    case gatewayTimeout(String, details: String = "")
    /// A key reused for a different request (a loyalty `refCode`).
    case unprocessable(String, details: String = "")
    /// A refusal of a system we proxy, passed through with its own status (data: the upstream's 4xx) and message.
    case upstreamRefused(status: Int, message: String, details: String = "")

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

/// What a presentation answered, for the service logs that keep it for the tenant's admin (the
/// inbound POS request log, the loyalty call log). Services do not know the numbers: the composition
/// root hands them the presentation's own mapping (PosHTTP: `AnsweredStatus.http`).
public struct AnsweredStatus: Sendable {
    /// The answer to a request the service carried out.
    public var success: Int
    /// The answer to a request that failed with this error.
    public var failure: @Sendable (ServiceError) -> Int

    public init(success: Int, failure: @escaping @Sendable (ServiceError) -> Int) {
        self.success = success
        self.failure = failure
    }
}
