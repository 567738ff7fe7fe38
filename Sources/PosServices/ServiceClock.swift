import Foundation

/// Wall-clock milliseconds since the Unix epoch; injected so tests can move time.
public typealias ServiceClock = @Sendable () -> Int64

public enum SystemClock {
    public static let now: ServiceClock = { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
