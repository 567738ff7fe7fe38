import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Gives every request an id (the caller's `X-Request-ID` when it is sane, else a new UUID),
/// puts it on every log line of the request and on the response, and logs the outcome.
public struct RequestIdentityMiddleware: RouterMiddleware {
    public typealias Context = PosRequestContext
    static let header = HTTPField.Name("X-Request-ID")!

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestId = request.headers[Self.header].flatMap(Self.acceptable) ?? UUID().uuidString.lowercased()
        context.requestId = requestId
        context.logger[metadataKey: "request_id"] = .string(requestId)
        let started = ContinuousClock.now
        var response = try await next(request, context)
        response.headers[Self.header] = requestId
        let elapsed = ContinuousClock.now - started
        context.logger.debug("request handled", metadata: [
            "method": .string(request.method.rawValue), "path": .string(request.uri.path),
            "status": .stringConvertible(response.status.code),
            "duration_ms": .string(String(format: "%.2f", Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)),
        ])
        return response
    }

    /// Printable ASCII up to 128 characters; anything else is replaced rather than echoed.
    static func acceptable(_ value: String) -> String? {
        guard !value.isEmpty, value.utf8.count <= 128, value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return value
    }
}
