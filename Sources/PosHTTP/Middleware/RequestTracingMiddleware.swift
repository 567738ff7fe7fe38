import HTTPTypes
import Hummingbird
import Tracing

/// A server span for every request, continuing the caller's `traceparent`: Hummingbird's
/// `TracingMiddleware`, less what must not reach a trace collector — it records the path (ids and
/// inbound connection tokens), the query and the client's address; this names the span by method and
/// route template and records method, route and status only. The span ends when the handler has
/// answered, before the body is written.
public struct RequestTracingMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var parent = InstrumentationContext.current ?? .topLevel
        InstrumentationSystem.instrument.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        // Renamed once the router has matched the route.
        let span = startSpan(request.method.rawValue, context: parent, ofKind: .server)
        defer { span.end() }
        span.attributes["http.request.method"] = request.method.rawValue
        return try await InstrumentationContext.withValue(span.context) {
            do {
                let response = try await next(request, context)
                finish(span, route: context.endpointPath, method: request.method, status: response.status)
                return response
            } catch {
                finish(span, route: context.endpointPath, method: request.method,
                       status: (error as? any HTTPResponseError)?.status ?? .internalServerError)
                throw error
            }
        }
    }

    private func finish(_ span: any Span, route: String?, method: HTTPRequest.Method, status: HTTPResponse.Status) {
        if let route { span.operationName = "\(method.rawValue) \(route)" }
        span.updateAttributes { attributes in
            attributes["http.route"] = route
            attributes["http.response.status_code"] = status.code
        }
        // A server span is in error for a 5xx only: a 4xx is the caller's mistake, answered as designed.
        if status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
    }

    private struct HTTPFieldsExtractor: Extractor {
        func extract(key name: String, from headers: HTTPFields) -> String? {
            HTTPField.Name(name).flatMap { headers[$0] }
        }
    }
}
