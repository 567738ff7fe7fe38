import CoreMetrics
import Synchronization

/// The service's own metrics, made through one injected `MetricsFactory` (one Prometheus registry
/// per service graph, never the process-wide `MetricsSystem`, which can be bootstrapped once).
///
/// Every label is low-cardinality by construction: a target kind, a provider slug the registry
/// knows (anything else is `unknown`), an operation or an outcome the code names. Never a tenant,
/// order, webhook id or URL: each distinct value is a time series kept forever by Prometheus.
public struct ServiceMetrics: Sendable {
    public enum Target: String, Sendable { case webhook, pos }
    public enum AttemptOutcome: String, Sendable { case delivered, retry, dead }

    /// Metric names, written once.
    public enum Name {
        public static let ordersAccepted = "pos_orders_accepted_total"
        public static let deliveryAttempts = "pos_delivery_attempts_total"
        public static let attemptDuration = "pos_delivery_attempt_duration_seconds"
        public static let enqueueToFirstAttempt = "pos_enqueue_to_first_attempt_seconds"
        public static let outboxPending = "pos_outbox_pending"
        public static let outboxOldestDueAge = "pos_outbox_oldest_due_age_seconds"
        public static let outboxDead = "pos_outbox_dead"
        public static let inboundWebhooks = "pos_inbound_webhooks_total"
        public static let oauthRefresh = "pos_oauth_refresh_total"
        public static let loyaltyCalls = "pos_loyalty_calls_total"
    }

    /// The slugs a provider label may take; anything else is counted as `unknown`.
    private let knownProviders: Set<String>
    private let handles: Handles?

    /// Records nothing.
    public static let disabled = ServiceMetrics(factory: nil, knownProviders: [])

    public init(factory: (any MetricsFactory)?, knownProviders: Set<String>) {
        self.knownProviders = knownProviders
        self.handles = factory.map(Handles.init)
    }

    public var factory: (any MetricsFactory)? { handles?.factory }

    /// A label value for a provider slug: the slug when known, else `unknown` (the inbound URL's
    /// provider is whatever a caller typed).
    public func providerLabel(_ slug: String) -> String {
        knownProviders.contains(slug) ? slug : "unknown"
    }

    public func orderAccepted() {
        handles?.counter(Name.ordersAccepted, []).increment()
    }

    /// One finished attempt (or a delivery given up without one): its outcome and how long the call took.
    public func deliveryAttempt(target: Target, provider: String, outcome: AttemptOutcome, durationMs: Int64?) {
        guard let handles else { return }
        let provider = target == .webhook ? "webhook" : providerLabel(provider)
        handles.counter(Name.deliveryAttempts, [("target", target.rawValue), ("provider", provider), ("outcome", outcome.rawValue)]).increment()
        if let durationMs {
            handles.timer(Name.attemptDuration, [("target", target.rawValue), ("provider", provider)])
                .recordNanoseconds(max(0, durationMs) * 1_000_000)
        }
    }

    /// From a delivery's enqueueing to the start of its first attempt.
    public func enqueueToFirstAttempt(ms: Int64) {
        handles?.timer(Name.enqueueToFirstAttempt, []).recordNanoseconds(max(0, ms) * 1_000_000)
    }

    public func inboundWebhook(provider: String, verdict: String) {
        handles?.counter(Name.inboundWebhooks, [("provider", providerLabel(provider)), ("verdict", verdict)]).increment()
    }

    public func oauthRefresh(provider: String, outcome: String) {
        handles?.counter(Name.oauthRefresh, [("provider", providerLabel(provider)), ("outcome", outcome)]).increment()
    }

    public func loyaltyCall(operation: String, outcome: String) {
        handles?.counter(Name.loyaltyCalls, [("operation", operation), ("outcome", outcome)]).increment()
    }

    /// Sets a gauge (the outbox gauges, refreshed from the store).
    func gauge(_ name: String, _ value: Double) {
        handles?.gauge(name).record(value)
    }

    /// The handles already made, by name and labels: the factory is asked once per series, later
    /// increments are a dictionary look-up under a lock.
    final class Handles: Sendable {
        let factory: any MetricsFactory
        private let counters = Mutex<[String: Counter]>([:])
        private let timers = Mutex<[String: Timer]>([:])
        private let gauges = Mutex<[String: Gauge]>([:])

        init(factory: any MetricsFactory) {
            self.factory = factory
        }

        private static func key(_ name: String, _ labels: [(String, String)]) -> String {
            labels.reduce(into: name) { key, label in key += "\u{0}\(label.1)" }
        }

        func counter(_ name: String, _ labels: [(String, String)]) -> Counter {
            Self.handle(in: counters, Self.key(name, labels)) { Counter(label: name, dimensions: labels, factory: factory) }
        }

        func timer(_ name: String, _ labels: [(String, String)]) -> Timer {
            Self.handle(in: timers, Self.key(name, labels)) { Timer(label: name, dimensions: labels, factory: factory) }
        }

        func gauge(_ name: String) -> Gauge {
            Self.handle(in: gauges, name) { Gauge(label: name, dimensions: [], factory: factory) }
        }

        /// The handle made for `key`, made by `make` the first time.
        private static func handle<Handle>(in made: borrowing Mutex<[String: Handle]>, _ key: String, _ make: () -> Handle) -> Handle {
            made.withLock { made in
                if let handle = made[key] { return handle }
                let handle = make()
                made[key] = handle
                return handle
            }
        }
    }
}
