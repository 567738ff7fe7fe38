import Hummingbird

/// Per-request state: Hummingbird's core storage plus the request id every log line carries.
public struct PosRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestId: String = ""

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }
}
