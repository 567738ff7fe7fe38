import CoreMetrics
import Hummingbird
import PosDomain

/// What `GET /metrics` serves: the registry's metrics in Prometheus text format, and the factory
/// the HTTP metrics are made through (the same registry).
public struct MetricsExposition: Sendable {
    public let factory: any MetricsFactory
    /// Brings the cached store gauges up to date when stale, then renders the registry.
    public let scrape: @Sendable () async -> [UInt8]

    public init(factory: any MetricsFactory, scrape: @escaping @Sendable () async -> [UInt8]) {
        self.factory = factory
        self.scrape = scrape
    }
}

/// `GET /metrics`: open unless `POS_METRICS_TOKEN` is set, then `Authorization: Bearer <token>`;
/// a 404 like any unknown route under `POS_METRICS=off`.
struct MetricsRoutes: Sendable {
    let exposition: MetricsExposition?
    let token: String?

    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    func scrape(_ request: Request, context: PosRequestContext) async throws -> Response {
        guard let exposition else { throw APIError(status: .notFound, message: "no route for GET /metrics", details: "POS_METRICS is off") }
        if let token {
            let presented = request.headers[.authorization].flatMap { value -> String? in
                guard value.count > 7, value.prefix(7).lowercased() == "bearer " else { return nil }
                return String(value.dropFirst(7))
            }
            guard let presented, ConstantTime.equalSecrets(presented, token) else {
                var refused = APIError(status: .unauthorized, message: "a metrics token is required",
                                       details: "send Authorization: Bearer <POS_METRICS_TOKEN>")
                refused.headers[.wwwAuthenticate] = "Bearer"
                throw refused
            }
        }
        return Response(status: .ok, headers: [.contentType: Self.contentType],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: await exposition.scrape())))
    }
}
