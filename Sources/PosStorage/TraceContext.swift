import Instrumentation

/// A context's W3C `traceparent`, as the bootstrapped instrument writes it, and back: what an
/// outbox event keeps, so the worker's later attempts stay in the trace of the request that
/// emitted it, and what the request's log lines take their trace id from. With tracing off no
/// instrument writes one, and both cost a look at an empty dictionary.
public enum TraceContext {
    static let traceparentKey = "traceparent"

    /// nil when tracing is off or `context` carries no span.
    public static func traceparent(of context: InstrumentationContext? = .current) -> String? {
        guard let context else { return nil }
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryCarrier())
        return carrier[traceparentKey]
    }

    /// The context that continues `traceparent` (an empty one with tracing off).
    public static func context(continuing traceparent: String) -> InstrumentationContext {
        var context = InstrumentationContext.topLevel
        InstrumentationSystem.instrument.extract([traceparentKey: traceparent], into: &context, using: DictionaryCarrier())
        return context
    }

    private struct DictionaryCarrier: Injector, Extractor {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }
}
