import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import Synchronization

/// A partner's webhook endpoint, as integrators (and our benchmarks) would run it: verifies
/// `X-Cata-Signature` and `webhook-signature` with the configured secret, rejects stale
/// timestamps, and counts deliveries by `X-Cata-Delivery-ID`.
///
/// Routes: `POST /webhook/{name}` receives; `GET /webhook/received` reports
/// `{received, unique, duplicates, rejected}`; `DELETE /webhook/received` resets.
public final class SignedWebhookReceiver: Sendable {
    public static let toleranceSeconds: Int64 = 300

    private let trusted: Mutex<[WebhookSecret]>
    private let state = Mutex(State())

    struct State {
        var received = 0
        var rejected = 0
        var pings = 0
        var seen = Set<String>()
    }

    public struct Counts: Codable, Sendable, Equatable {
        public var received: Int
        public var unique: Int
        public var duplicates: Int
        public var rejected: Int
        /// Registration pings, counted apart from deliveries.
        public var pings: Int

        public init(received: Int, unique: Int, duplicates: Int, rejected: Int, pings: Int) {
            self.received = received
            self.unique = unique
            self.duplicates = duplicates
            self.rejected = rejected
            self.pings = pings
        }
    }

    /// `secrets` may be empty: then signatures are not checked, only counted deliveries.
    public init(secrets: [WebhookSecret]) {
        self.trusted = Mutex(secrets)
    }

    /// Adds a secret to verify with (a webhook registered after the receiver started).
    public func trust(_ secret: WebhookSecret) {
        trusted.withLock { $0.append(secret) }
    }

    public var counts: Counts {
        state.withLock {
            Counts(received: $0.received, unique: $0.seen.count, duplicates: $0.received - $0.seen.count, rejected: $0.rejected, pings: $0.pings)
        }
    }

    /// Why a delivery fails verification, or nil when it passes.
    public func rejection(headers: HTTPFields, body: [UInt8], now: Int64) -> String? {
        let secrets = trusted.withLock { $0 }
        guard !secrets.isEmpty else { return nil }
        guard let id = headers[HTTPField.Name("webhook-id")!], let timestampText = headers[HTTPField.Name("webhook-timestamp")!],
              let timestamp = Int64(timestampText), let signatures = headers[HTTPField.Name("webhook-signature")!],
              let cata = headers[HTTPField.Name("X-Cata-Signature")!]
        else { return "missing signature headers" }
        guard abs(now - timestamp) <= Self.toleranceSeconds else { return "timestamp outside tolerance" }
        let offered = signatures.split(separator: " ").map(String.init)
        let standardOK = secrets.contains { secret in
            let expected = WebhookSigning.standardSignature(id: id, timestamp: timestamp, body: body, secret: secret)
            return offered.contains { ConstantTime.equals(Array($0.utf8), Array(expected.utf8)) }
        }
        let cataOK = secrets.contains { secret in
            ConstantTime.equals(Array(cata.utf8), Array(WebhookSigning.cataSignature(body: body, secret: secret).utf8))
        }
        guard standardOK else { return "webhook-signature does not verify" }
        guard cataOK else { return "X-Cata-Signature does not verify" }
        return nil
    }

    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.post("/webhook/:name") { request, _ -> Response in
            let body = Array(try await request.body.collect(upTo: 4 << 20).readableBytesView)
            let now = Int64(Date().timeIntervalSince1970)
            if let reason = self.rejection(headers: request.headers, body: body, now: now) {
                self.state.withLock { $0.rejected += 1 }
                return Self.json(.unauthorized, #"{"error":"\#(reason)"}"#)
            }
            let deliveryId = request.headers[HTTPField.Name("X-Cata-Delivery-ID")!] ?? UUID().uuidString
            let isPing = request.headers[HTTPField.Name("X-Cata-Event")!] == "ping"
            self.state.withLock { state in
                if isPing {
                    state.pings += 1
                } else {
                    state.received += 1
                    state.seen.insert(deliveryId)
                }
            }
            return Self.json(.ok, #"{"received":true}"#)
        }
        router.get("/webhook/received") { _, _ -> Response in
            let data = try JSONEncoder().encode(self.counts)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.delete("/webhook/received") { _, _ -> Response in
            self.state.withLock { $0 = State() }
            return Self.json(.ok, #"{"reset":true}"#)
        }
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
