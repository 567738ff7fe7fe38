import Logging
import PosStorage
import Synchronization

/// What every log line a request causes carries — its request id, its trace id (its span's with
/// tracing on, else the caller's when it sent a `traceparent`), and its tenant once known — whichever logger writes the line: the
/// request's own, or a service's root logger (loyalty, credentials, connectors). Kept in a task
/// local for the request's task and its child tasks (a dispatch's first attempts), and put on the
/// line by ``metadataProvider``, which the log handlers are given at start.
public final class RequestLogScope: Sendable {
    @TaskLocal public static var current: RequestLogScope?

    public let requestId: String
    public let traceId: String?
    private let tenantBox = Mutex<String?>(nil)

    public init(requestId: String, traceId: String?) {
        self.requestId = requestId
        self.traceId = traceId
    }

    /// The tenant's subdomain, set once the caller is authenticated.
    public var tenant: String? {
        get { tenantBox.withLock { $0 } }
        set { tenantBox.withLock { $0 = newValue } }
    }

    /// `request_id`, `trace_id` and `tenant` of the current request; nothing outside one.
    public static let metadataProvider = Logger.MetadataProvider {
        guard let scope = current else { return [:] }
        var metadata: Logger.Metadata = ["request_id": .string(scope.requestId)]
        if let traceId = scope.traceId { metadata["trace_id"] = .string(traceId) }
        if let tenant = scope.tenant { metadata["tenant"] = .string(tenant) }
        return metadata
    }

    /// The trace id of the current span when tracing is on (which is the caller's when it sent
    /// one), else of the caller's `traceparent`.
    public static func traceId(callerTraceparent: String?) -> String? {
        traceId(fromTraceparent: TraceContext.traceparent() ?? callerTraceparent)
    }

    /// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), nil when absent or malformed
    /// (never echoed then: it is the caller's text).
    public static func traceId(fromTraceparent value: String?) -> String? {
        guard let value else { return nil }
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
              parts[0] != "ff", parts.allSatisfy({ $0.utf8.allSatisfy(Self.isLowerHex) }),
              parts[1].utf8.contains(where: { $0 != UInt8(ascii: "0") })
        else { return nil }
        return String(parts[1])
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}
