import InMemoryTracing
import Tracing

/// swift-distributed-tracing's in-memory tracer, propagating W3C `traceparent` as swift-otel does
/// (the in-memory tracer's own headers are not W3C), with W3C-shaped random ids. Given to one test's
/// service with `withTracer`, a task-local scope: tests in parallel keep their spans apart.
struct TestTracer: Tracer {
    private let recorder = InMemoryTracer(idGenerator: .init(nextTraceID: { randomHex(bytes: 16) }, nextSpanID: { randomHex(bytes: 8) }),
                                          recordInjections: false, recordExtractions: false)

    /// The spans that have ended in `traceId`.
    func finishedSpans(inTrace traceId: String) -> [FinishedInMemorySpan] {
        recorder.finishedSpans.filter { $0.traceID == traceId }
    }

    func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: SpanKind, at instant: @autoclosure () -> Instant,
        function: String, file fileID: String, line: UInt
    ) -> InMemorySpan {
        recorder.startSpan(operationName, context: context(), ofKind: kind, at: instant(), function: function, file: fileID, line: line)
    }

    func forceFlush() {}

    func inject<Carrier, Inject: Injector>(_ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject)
    where Carrier == Inject.Carrier {
        guard let span = context.inMemorySpanContext else { return }
        injector.inject(Traceparent(traceId: span.traceID, spanId: span.spanID).header, forKey: "traceparent", into: &carrier)
    }

    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract)
    where Carrier == Extract.Carrier {
        guard let parent = extractor.extract(key: "traceparent", from: carrier).flatMap(Traceparent.init(header:)) else { return }
        context.inMemorySpanContext = InMemorySpanContext(traceID: parent.traceId, spanID: parent.spanId, parentSpanID: nil)
    }
}

/// A W3C `traceparent`: `00-<trace id>-<parent span id>-01`.
struct Traceparent: Equatable {
    let traceId: String
    let spanId: String

    /// A caller's, with fresh ids.
    static func random() -> Traceparent { Traceparent(traceId: randomHex(bytes: 16), spanId: randomHex(bytes: 8)) }

    init(traceId: String, spanId: String) {
        self.traceId = traceId
        self.spanId = spanId
    }

    init?(header: String) {
        let parts = header.split(separator: "-")
        guard parts.count == 4, parts[1].count == 32, parts[2].count == 16 else { return nil }
        self.init(traceId: String(parts[1]), spanId: String(parts[2]))
    }

    var header: String { "00-\(traceId)-\(spanId)-01" }
}

private func randomHex(bytes: Int) -> String {
    (0..<bytes).map { _ in
        let byte = UInt8.random(in: 0...255)
        return String(byte >> 4, radix: 16) + String(byte & 0xF, radix: 16)
    }.joined()
}

extension FinishedInMemorySpan {
    /// An attribute as recorded, to compare.
    subscript(attribute key: String) -> SpanAttribute? { attributes[key]?.toSpanAttribute() }
}
