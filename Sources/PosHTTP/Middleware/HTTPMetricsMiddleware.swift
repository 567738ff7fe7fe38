import CoreMetrics
import Hummingbird
import Synchronization

/// Hummingbird's `MetricsMiddleware`, with the same metric names and labels, made through an
/// injected `MetricsFactory`: Hummingbird's records into the process-wide `MetricsSystem`, which
/// can be bootstrapped once per process, and this service keeps one registry per application.
///
/// - `hb_requests{http_route, http_request_method, http_response_status_code}` (counter)
/// - `http_server_request_duration{…same…}` (histogram, seconds)
/// - `hb_request_errors{http_route, http_request_method, error_type}` (counter: responses of 4xx/5xx
///   that were thrown as errors before the envelope turned them into responses)
/// - `http_server_active_requests{http_request_method}` (gauge)
///
/// `http_route` is the route template (`/api/v1/orders/{orderId}`), never the path: a path holds
/// ids and tokens, and every distinct label value is a series kept forever.
public struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let cache: Cache

    public init(factory: any MetricsFactory) {
        self.cache = Cache(factory: factory)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let active = cache.active(request.method)
        active.increment()
        defer { active.decrement() }
        let status: HTTPResponse.Status
        do {
            let response = try await next(request, context)
            status = response.status
            cache.record(route: context.endpointPath ?? "NotFound", method: request.method, status: status, since: started)
            return response
        } catch {
            status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            cache.record(route: context.endpointPath ?? "NotFound", method: request.method, status: status, since: started)
            cache.error(route: context.endpointPath ?? "NotFound", method: request.method, status: status)
            throw error
        }
    }

    /// The series made so far, so a request costs a dictionary look-up, not a registry one.
    final class Cache: Sendable {
        private struct Key: Hashable {
            let route: String
            let method: HTTPRequest.Method
            let status: Int
        }

        private struct Series: Sendable {
            let requests: Counter
            let duration: Timer
        }

        private let factory: any MetricsFactory
        private let series = Mutex<[Key: Series]>([:])
        private let errors = Mutex<[Key: Counter]>([:])
        private let activeMeters = Mutex<[HTTPRequest.Method: Meter]>([:])

        init(factory: any MetricsFactory) {
            self.factory = factory
        }

        func active(_ method: HTTPRequest.Method) -> Meter {
            activeMeters.withLock { meters in
                if let meter = meters[method] { return meter }
                let meter = Meter(label: "http.server.active_requests", dimensions: [("http.request.method", method.rawValue)], factory: factory)
                meters[method] = meter
                return meter
            }
        }

        func record(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status, since started: ContinuousClock.Instant) {
            let key = Key(route: route, method: method, status: status.code)
            let made = series.withLock { series in
                if let made = series[key] { return made }
                let dimensions = [("http.route", route), ("http.request.method", method.rawValue), ("http.response.status_code", String(status.code))]
                let made = Series(requests: Counter(label: "hb.requests", dimensions: dimensions, factory: factory),
                                  duration: Timer(label: "http.server.request.duration", dimensions: dimensions,
                                                  preferredDisplayUnit: .seconds, factory: factory))
                series[key] = made
                return made
            }
            made.requests.increment()
            let elapsed = ContinuousClock.now - started
            made.duration.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        }

        func error(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status) {
            let key = Key(route: route, method: method, status: status.code)
            errors.withLock { errors in
                if let counter = errors[key] { return counter }
                let counter = Counter(label: "hb.request.errors",
                                      dimensions: [("http.route", route), ("http.request.method", method.rawValue), ("error.type", String(status.code))],
                                      factory: factory)
                errors[key] = counter
                return counter
            }.increment()
        }
    }
}
