import Foundation
import Hummingbird
import InMemoryTracing
import Logging
import PosApp
import PosDomain
import PosSandbox
import PosServices
import Testing
import Tracing

@Suite("Traces")
struct TracingTests {
    @Test("a dispatch continues the caller's trace: store calls and the attempt are children of the request, the HTTP call of the attempt; the receiver gets a traceparent")
    func dispatchSpans() async throws {
        let tracer = TestTracer()
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withTracedService(tracer) { service in
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let caller = Traceparent.random()
            let reply = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey, headers: [("traceparent", caller.header)])
            #expect(reply.json["dispatched"] as? Bool == true, "\(reply.text)")

            let spans = tracer.finishedSpans(inTrace: caller.traceId)
            let request = try #require(spans.first { $0.kind == .server })
            #expect(request.operationName == "POST /api/v1/orders/dispatch")
            #expect(request.parentSpanID == caller.spanId)
            #expect(request[attribute: "http.route"] == .string("/api/v1/orders/dispatch"))
            #expect(request[attribute: "http.response.status_code"] == .int64(200))
            #expect(request[attribute: "url.path"] == nil, "the path holds ids and tokens")

            for name in ["store.acceptOrder", "store.recordAttempts"] {
                let store = try #require(spans.first { $0.operationName == name }, "no \(name) span")
                #expect(store.parentSpanID == request.spanID, "\(name) is a child of the request")
                #expect(store.kind == .client)
            }
            let attempt = try #require(spans.first { $0.operationName == "delivery.attempt" })
            #expect(attempt.parentSpanID == request.spanID)
            #expect(attempt[attribute: "delivery.target"] == .string("webhook"))
            #expect(attempt[attribute: "delivery.provider"] == .string("webhook"))
            #expect(attempt[attribute: "delivery.attempt"] == .int64(1))
            #expect(attempt[attribute: "delivery.outcome"] == .string("delivered"))

            let call = try #require(spans.first { $0.kind == .client && $0.operationName == "POST" })
            #expect(call.parentSpanID == attempt.spanID, "the outbound call is a child of its attempt")
            #expect(call[attribute: "http.response.status_code"] == .int64(200))
            #expect(call[attribute: "server.address"] == .string("127.0.0.1"))
            #expect(call[attribute: "url.full"] == nil)

            let delivered = try #require(receiver.received.first)
            let sent = try #require(delivered.header("traceparent").flatMap(Traceparent.init(header:)))
            #expect(sent == Traceparent(traceId: caller.traceId, spanId: call.spanID), "the receiver's parent is our outbound call")
        }
    }

    @Test("a worker retry, long after the request, continues the caller's trace from the event it stored")
    func workerRetrySpans() async throws {
        let tracer = TestTracer()
        let receiver = try await WebhookReceiver.start(statuses: [503])
        defer { Task { await receiver.stop() } }
        try await withTracedService(tracer, schedule: RetrySchedule(delaysMs: [0, 30, 30])!) { service in
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let caller = Traceparent.random()
            let reply = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey, headers: [("traceparent", caller.header)])
            #expect(reply.json["dispatched"] as? Bool == false)
            let delivered = await service.events.first { $0.transition.status == .delivered }
            #expect(delivered?.attempt.attemptNumber == 2)

            #expect(receiver.received.count == 2)
            let sent = receiver.received.compactMap { $0.header("traceparent").flatMap(Traceparent.init(header:)) }
            #expect(sent.map(\.traceId) == [caller.traceId, caller.traceId], "both attempts, inline and the worker's, carry the caller's trace id")

            let spans = tracer.finishedSpans(inTrace: caller.traceId)
            let accept = try #require(spans.first { $0.operationName == "store.acceptOrder" })
            let retry = try #require(spans.first { $0.operationName == "delivery.attempt" && $0[attribute: "delivery.attempt"] == .int64(2) })
            #expect(retry.parentSpanID == accept.spanID, "the retry is a child of the store call that enqueued its event")
            #expect(retry[attribute: "delivery.outcome"] == .string("delivered"))
            let call = try #require(spans.first { $0.kind == .client && $0.operationName == "POST" && $0.parentSpanID == retry.spanID })
            #expect(sent.last?.spanId == call.spanID)
        }
    }

    @Test("a loyalty call is a span of the request's trace, its outbound call a child; no span holds the customer's id or the key")
    func loyaltySpans() async throws {
        let tracer = TestTracer()
        let double = LoyaltySandbox()
        let router = Router()
        double.addRoutes(to: router, prefix: "/loyalty")
        let server = try await LiveServer.start(router: router)
        defer { Task { await server.stop() } }
        try await withTracedService(tracer) { service in
            let acme = try await service.tenant("acme")
            let saved = try await service.call("PUT", "/api/v1/loyalty/config", key: acme.adminKey, json: Array("""
                {"baseUrl":"http://127.0.0.1:\(server.port)/loyalty","apiKey":"\(LoyaltySandbox.defaultAPIKey)"}
                """.utf8))
            try #require(saved.status == 200, "\(saved.text)")
            let caller = Traceparent.random()
            let customer = LoyaltySandbox.defaultCustomer.uuid
            let reply = try await service.call("GET", "/api/v1/loyalty/balance?customerUuid=\(customer)", key: acme.partnerKey,
                                               headers: [("traceparent", caller.header)])
            #expect(reply.status == 200, "\(reply.text)")

            let spans = tracer.finishedSpans(inTrace: caller.traceId)
            let request = try #require(spans.first { $0.kind == .server })
            #expect(request.operationName == "GET /api/v1/loyalty/balance")
            let loyalty = try #require(spans.first { $0.operationName == "loyalty.balance" })
            #expect(loyalty.parentSpanID == request.spanID)
            #expect(loyalty[attribute: "loyalty.success"] == .bool(true))
            let call = try #require(spans.first { $0.kind == .client && $0.operationName == "GET" })
            #expect(call.parentSpanID == loyalty.spanID)
            expectNoAttribute(of: spans, contains: [customer, LoyaltySandbox.defaultAPIKey])
        }
    }

    @Test("an inbound POS webhook is a span of its request; the connection token in the path is on no span")
    func inboundSpans() async throws {
        let tracer = TestTracer()
        try await withTracedService(tracer) { service in
            let caller = Traceparent.random()
            let token = "tok-\(UUID().uuidString)"
            let reply = try await service.call("POST", "/api/v1/inbound/oktopos/order-status/\(token)", headers: [("traceparent", caller.header)],
                                               json: Array("{}".utf8))
            #expect(reply.status == 404)

            let spans = tracer.finishedSpans(inTrace: caller.traceId)
            let request = try #require(spans.first { $0.kind == .server })
            #expect(request.operationName == "POST /api/v1/inbound/{provider}/order-status/{connectionToken}")
            #expect(request[attribute: "http.response.status_code"] == .int64(404))
            #expect(request.status == nil, "a 4xx is the caller's, not an error of ours")
            let inbound = try #require(spans.first { $0.operationName == "inbound.orderStatus" })
            #expect(inbound.parentSpanID == request.spanID)
            #expect(inbound[attribute: "inbound.verdict"] == .string("unknown_endpoint"))
            expectNoAttribute(of: spans, contains: [token])
        }
    }

    @Test("with tracing on, a request's log lines carry its span's trace id, a new one when the caller sent none")
    func logsCarryTheSpansTraceId() async throws {
        let tracer = TestTracer()
        let capture = LogCapture()
        let logger = Logger(label: "pos-integration") { label in
            JSONLogHandler(label: label, level: .info, metadataProvider: RequestLogScope.metadataProvider, write: capture.write)
        }
        try await withTracedService(tracer, logger: logger) { service in
            let acme = try await service.tenant("acme")
            let reply = try await service.call("GET", "/api/v1/auth/whoami", key: acme.partnerKey, headers: [("X-Request-ID", "req-traced")])
            #expect(reply.status == 200)
            let access = try #require(capture.lines.compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            }.first { $0["message"] as? String == "request" && $0["request_id"] as? String == "req-traced" })
            let traceId = try #require(access["trace_id"] as? String)
            let request = try #require(tracer.finishedSpans(inTrace: traceId).first { $0.kind == .server })
            #expect(request.operationName == "GET /api/v1/auth/whoami")
            #expect(request.parentSpanID == nil, "a trace of its own")
        }
    }

    @Test("with tracing off, nothing is propagated: the receiver gets no traceparent")
    func offPropagatesNothing() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let reply = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey,
                                                   headers: [("traceparent", Traceparent.random().header)])
            #expect(reply.json["dispatched"] as? Bool == true)
            #expect(receiver.received.first?.header("traceparent") == nil)
        }
    }

    @Test("without an OTLP endpoint nothing is bootstrapped; the gRPC protocol, not built in, is refused at start")
    func exportSettings() throws {
        #expect(try TraceExport.bootstrap(environment: [:], logger: testLogger) == nil)
        #expect(try TraceExport.bootstrap(environment: ["OTEL_SERVICE_NAME": "pos", "OTEL_BSP_SCHEDULE_DELAY": "500"], logger: testLogger) == nil)
        #expect(try TraceExport.bootstrap(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"],
                                          logger: testLogger) == nil)
        #expect(throws: (any Error).self) {
            try TraceExport.bootstrap(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"],
                                      logger: testLogger)
        }
    }
}

/// What a collector would get must not hold `secrets` (tokens, keys, customer ids) in any attribute.
private func expectNoAttribute(of spans: [FinishedInMemorySpan], contains secrets: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    for span in spans {
        span.attributes.forEach { name, value in
            #expect(!secrets.contains { "\(value)".contains($0) }, "\(span.operationName) \(name)", sourceLocation: sourceLocation)
        }
    }
}

/// A fresh service whose spans all go to `tracer`: its tasks (server, worker) start inside the
/// tracer's scope. The test's own calls start outside it, so a `traceparent` they send arrives as
/// sent, like a caller's.
private func withTracedService<T>(_ tracer: TestTracer, schedule: RetrySchedule = .standard, logger: Logger = testLogger,
                                  _ body: (TestService) async throws -> T) async throws -> T {
    try await withTracer(tracer) { try await TestService.start(schedule: schedule, logger: logger) }.running(body)
}
