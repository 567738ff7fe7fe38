import Hummingbird
import HTTPTypes
import NIOCore
import Synchronization

/// A partner's webhook endpoint on loopback: records every request byte-for-byte and answers
/// with scripted statuses (200 once the script runs out). Registration pings are kept apart
/// (`pings`) and always get 200, so `received` holds only order deliveries.
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        let headers: [String: String]
        let body: [UInt8]

        func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    private let server: LiveServer
    private let log: RequestLog

    var url: String { "http://127.0.0.1:\(server.port)/hook" }
    var received: [Received] { log.received }
    var pings: [Received] { log.pings }

    private init(server: LiveServer, log: RequestLog) {
        self.server = server
        self.log = log
    }

    static func start(statuses: [Int] = []) async throws -> WebhookReceiver {
        let log = RequestLog(statuses: statuses)
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 4 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let request = Received(headers: headers, body: Array(body.readableBytesView))
            let status = request.header("X-Cata-Event") == "ping" ? log.recordPing(request) : log.record(request)
            return Response(status: .init(code: status), body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"externalOrderId":"POS-1"}"#)))
        }
        return WebhookReceiver(server: try await LiveServer.start(router: router), log: log)
    }

    func stop() async { await server.stop() }

    /// What the receiver saw, and the statuses it still has to answer with.
    final class RequestLog: Sendable {
        private let state: Mutex<(received: [Received], statuses: [Int], pings: [Received])>

        init(statuses: [Int]) { state = Mutex(([], statuses, [])) }

        func recordPing(_ request: Received) -> Int {
            state.withLock { $0.pings.append(request) }
            return 200
        }

        var pings: [Received] { state.withLock { $0.pings } }

        func record(_ request: Received) -> Int {
            state.withLock { state in
                state.received.append(request)
                return state.statuses.isEmpty ? 200 : state.statuses.removeFirst()
            }
        }

        var received: [Received] { state.withLock { $0.received } }
    }
}
