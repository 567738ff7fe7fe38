import Tracing

/// A client span around one call to the stores, named `store.<operation>`: a trace then shows a
/// request's time in the database beside its time at partners. `call` sees the span as current, so
/// events it stores keep its `traceparent`.
func withStoreSpan<T>(_ operation: String, _ call: () async throws -> T) async rethrows -> T {
    try await withSpan("store.\(operation)", ofKind: .client) { span in
        span.attributes["db.operation.name"] = operation
        return try await call()
    }
}
