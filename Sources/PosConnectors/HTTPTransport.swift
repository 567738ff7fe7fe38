import AsyncHTTPClient
import Foundation
import Instrumentation
import NIOCore
import NIOHTTP1
import Tracing

/// The one outbound HTTP client: pooled, timeouts always set, redirects never followed, response
/// bodies read only up to a limit. Every call is a client span whose `traceparent` goes with the request.
public final class HTTPTransport: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]
        public var truncated: Bool

        public func header(_ name: String) -> String? {
            headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
        }
    }

    public enum Failure: Error, Sendable {
        case timeout(String)
        case network(String)
        case invalidURL(String)
        /// The outbound guard refused the target (SSRF protection).
        case forbiddenTarget(String)

        /// The failure's kind, for a span's status (its text may hold the URL).
        var kind: String {
            switch self {
            case .timeout: "timeout"
            case .network: "network"
            case .invalidURL: "invalid_url"
            case .forbiddenTarget: "forbidden_target"
            }
        }
    }

    public let timeout: TimeAmount
    public let maxResponseBytes: Int
    /// Checked before every request; nil only for callers that talk to fixed, trusted hosts.
    public let outboundGuard: OutboundGuard?
    private let client: HTTPClient

    public init(timeout: TimeAmount = .seconds(10), maxResponseBytes: Int = 64 * 1024, connectionsPerHost: Int = 64,
                outboundGuard: OutboundGuard? = OutboundGuard()) {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: min(timeout, .seconds(5)), read: timeout)
        )
        configuration.decompression = .disabled
        // The outbox retries on its own schedule; a refused connection should fail this attempt now
        // rather than hold the dispatch request until the connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        // Many orders go to one partner host at once; the default of 8 would queue them.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connectionsPerHost
        // Our own span instead of the client's: its records the full URL, and partners' URLs and
        // loyalty queries carry tokens and customer numbers that must not reach a trace collector.
        configuration.tracing.tracer = nil
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
        self.outboundGuard = outboundGuard
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    /// `timeout` replaces the transport's for this request (a loyalty service's own); the read
    /// timeout between bytes stays the transport's.
    public func send(method: HTTPMethod, url: String, headers: [(String, String)], body: [UInt8]?,
                     timeout: TimeAmount? = nil) async throws(Failure) -> Response {
        let timeout = timeout ?? self.timeout
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = parsed.host
        else {
            throw .invalidURL("invalid URL \(url)")
        }
        // Method, host and port only: never the path or query (tokens, customer numbers).
        let result = await withSpan(method.rawValue, ofKind: .client) { span in
            span.updateAttributes { attributes in
                attributes["http.request.method"] = method.rawValue
                attributes["server.address"] = host
                attributes["server.port"] = parsed.port ?? (scheme == "https" ? 443 : 80)
            }
            let result = await exchange(method: method, url: url, headers: headers, body: body, timeout: timeout, span: span)
            switch result {
            case .success(let response):
                span.attributes["http.response.status_code"] = response.status
                if response.status >= 400 { span.setStatus(SpanStatus(code: .error)) }
            case .failure(let failure):
                span.setStatus(SpanStatus(code: .error, message: failure.kind))
            }
            return result
        }
        return try result.get()
    }

    private func exchange(method: HTTPMethod, url: String, headers: [(String, String)], body: [UInt8]?, timeout: TimeAmount,
                          span: any Span) async -> Result<Response, Failure> {
        if let outboundGuard {
            do {
                try await outboundGuard.check(url)
            } catch {
                return .failure(.forbiddenTarget(error.description))
            }
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        InstrumentationSystem.instrument.inject(span.context, into: &request.headers, using: TraceHeaders())
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await client.execute(request, timeout: timeout)
            var collected: [UInt8] = []
            var truncated = false
            for try await chunk in response.body {
                let room = maxResponseBytes - collected.count
                if chunk.readableBytes > room {
                    collected.append(contentsOf: chunk.readableBytesView.prefix(room))
                    truncated = true
                    break
                }
                collected.append(contentsOf: chunk.readableBytesView)
            }
            return .success(Response(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                                     body: collected, truncated: truncated))
        } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout].contains(error) {
            let milliseconds = timeout.nanoseconds / 1_000_000
            return .failure(.timeout(milliseconds % 1000 == 0 ? "timeout after \(milliseconds / 1000) s" : "timeout after \(milliseconds) ms"))
        } catch {
            return .failure(.network("network error: \(Self.describe(error))"))
        }
    }

    /// Writes the trace context (`traceparent`, `tracestate`) into a request's headers, replacing any the caller set.
    private struct TraceHeaders: Injector {
        func inject(_ value: String, forKey name: String, into headers: inout HTTPHeaders) {
            headers.replaceOrAdd(name: name, value: value)
        }
    }

    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
