import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PosServices

/// Gives every request an id (the caller's `X-Request-ID` when it is sane, else a new UUID), puts
/// it — with the trace id (``RequestLogScope/traceId(callerTraceparent:)``) and, once known, the tenant — on every log
/// line the request causes (``RequestLogScope``) and on the response, and writes one access line
/// at `info`: method, route template, status, duration, tenant, request id. Never the path (it
/// holds ids and inbound connection tokens), a query, or a header.
public struct RequestIdentityMiddleware: RouterMiddleware {
    public typealias Context = PosRequestContext
    static let header = HTTPField.Name("X-Request-ID")!
    static let traceparent = HTTPField.Name("traceparent")!

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestId = request.headers[Self.header].flatMap(Self.acceptable) ?? UUID().uuidString.lowercased()
        context.requestId = requestId
        context.logger[metadataKey: "request_id"] = .string(requestId)
        let scope = RequestLogScope(requestId: requestId, traceId: RequestLogScope.traceId(callerTraceparent: request.headers[Self.traceparent]))
        let started = ContinuousClock.now
        return try await RequestLogScope.$current.withValue(scope) {
            do {
                var response = try await next(request, context)
                response.headers[Self.header] = requestId
                access(request, context: context, status: response.status, since: started, tenant: scope.tenant)
                return response
            } catch {
                access(request, context: context, status: (error as? any HTTPResponseError)?.status ?? .internalServerError, since: started,
                       tenant: scope.tenant)
                throw error
            }
        }
    }

    private func access(_ request: Request, context: Context, status: HTTPResponse.Status, since started: ContinuousClock.Instant, tenant: String?) {
        let elapsed = ContinuousClock.now - started
        let ms = Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15
        context.logger.info("request", metadata: [
            "method": .string(request.method.rawValue), "route": .string(context.endpointPath ?? "NotFound"),
            "status": .stringConvertible(status.code), "duration_ms": .string(String(format: "%.2f", ms)),
            "tenant": .string(tenant ?? "-"),
        ])
    }

    /// Printable ASCII up to 128 characters; anything else is replaced rather than echoed.
    static func acceptable(_ value: String) -> String? {
        guard !value.isEmpty, value.utf8.count <= 128, value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return value
    }
}
