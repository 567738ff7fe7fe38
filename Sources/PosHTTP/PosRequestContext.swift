import Hummingbird
import PosServices

/// Per-request state: Hummingbird's core storage, the request id every log line carries, and the
/// caller once ``APIKeyAuthenticator`` has established it.
public struct PosRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestId: String = ""
    public var principal: Principal?

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }
}

/// The context of a route behind ``APIKeyAuthenticator``: its caller is known, so handlers cannot
/// forget to ask.
public struct AuthenticatedContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let requestId: String
    public let principal: Principal

    /// Refuses with the one 401 when the authenticator did not run: a route put in an
    /// authenticated group without it is closed, never open.
    public init(context: PosRequestContext) throws {
        guard let principal = context.principal else { throw APIError.unauthorized }
        self.coreContext = context.coreContext
        self.requestId = context.requestId
        self.principal = principal
    }
}
