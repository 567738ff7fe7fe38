/// How a webhook endpoint has been doing: what the circuit breaker and auto-disable act on.
public struct EndpointHealth: Sendable, Equatable {
    public var consecutiveFailures: Int
    /// When the current run of failures began; nil after a success.
    public var failingSince: Int64?
    /// Attempts wait until then; at that time one probe goes through (half-open).
    public var circuitOpenUntil: Int64?

    public init(consecutiveFailures: Int = 0, failingSince: Int64? = nil, circuitOpenUntil: Int64? = nil) {
        self.consecutiveFailures = consecutiveFailures
        self.failingSince = failingSince
        self.circuitOpenUntil = circuitOpenUntil
    }

    public func isOpen(at now: Int64) -> Bool { circuitOpenUntil.map { $0 > now } ?? false }
    /// Cool-down over, no verdict yet: the next attempt is the probe.
    public func isHalfOpen(at now: Int64) -> Bool { circuitOpenUntil.map { $0 <= now } ?? false }
}

/// The circuit breaker and auto-disable rules (`POS_CIRCUIT_FAILURES`, `POS_CIRCUIT_COOLDOWN`,
/// `POS_DISABLE_AFTER`).
public struct EndpointHealthPolicy: Sendable, Equatable {
    /// Failures in a row that open the circuit.
    public var failureThreshold: Int
    public var cooldownMs: Int64
    /// A webhook that has only failed for this long is disabled.
    public var disableAfterMs: Int64

    public init(failureThreshold: Int = 5, cooldownMs: Int64 = 60_000, disableAfterMs: Int64 = 5 * 86_400_000) {
        self.failureThreshold = failureThreshold
        self.cooldownMs = cooldownMs
        self.disableAfterMs = disableAfterMs
    }

    public struct Verdict: Sendable, Equatable {
        public var health: EndpointHealth
        /// Set when the webhook is to be disabled now.
        public var disabledReason: String?

        public init(health: EndpointHealth, disabledReason: String?) {
            self.health = health
            self.disabledReason = disabledReason
        }

        /// Whether this verdict changes an endpoint that was `before`: only then is it written.
        public func changes(_ before: EndpointHealth) -> Bool { health != before || disabledReason != nil }
    }

    /// The endpoint's health after an attempt that succeeded or not at `now`.
    public func after(_ health: EndpointHealth, succeeded: Bool, at now: Int64) -> Verdict {
        guard !succeeded else { return Verdict(health: EndpointHealth(), disabledReason: nil) }
        let failures = health.consecutiveFailures + 1
        let since = health.failingSince ?? now
        var next = EndpointHealth(consecutiveFailures: failures, failingSince: since, circuitOpenUntil: nil)
        if failures >= failureThreshold { next.circuitOpenUntil = now + cooldownMs }
        let reason: String? = now - since >= disableAfterMs
            ? "disabled after failing without a success since \(RFC3339.format(milliseconds: since)); re-enable with PUT isActive=true"
            : nil
        return Verdict(health: next, disabledReason: reason)
    }
}
