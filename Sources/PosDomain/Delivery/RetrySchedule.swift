import Foundation

/// When a failed delivery is tried again (decisions D5, `POS_RETRY_SCHEDULE`).
///
/// `delaysMs[i]` is the wait before attempt `i + 1`; the first entry is the first attempt's
/// (usually 0). After the last attempt the delivery is dead-lettered.
public struct RetrySchedule: Sendable, Equatable {
    public let delaysMs: [Int64]

    /// Standard Webhooks' example: 10 attempts over about 75 hours.
    public static let standard = RetrySchedule(delaysMs: [
        0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000,
    ])!

    /// Jitter applied to every delay: ±20 %.
    public static let jitterFraction = 0.2
    /// The least wait after a 429 or a timeout (the receiver is overloaded), bounded by the
    /// schedule's own longest step so millisecond schedules in tests stay fast.
    public static let overloadFloorMs: Int64 = 60_000

    public init?(delaysMs: [Int64]) {
        guard !delaysMs.isEmpty, delaysMs.allSatisfy({ $0 >= 0 }) else { return nil }
        self.delaysMs = delaysMs
    }

    /// Parses `0s,5s,5m,30m,2h` (units ms, s, m, h, d).
    public init?(parsing text: String) {
        let parts = text.split(separator: ",").map { DurationText.milliseconds(String($0)) }
        guard !parts.contains(where: { $0 == nil }) else { return nil }
        self.init(delaysMs: parts.compactMap { $0 })
    }

    public var maxAttempts: Int { delaysMs.count }

    /// A status poll's schedule: `steps` (the first is the wait before the first look), then the last
    /// step again and again while the total stays within `horizonMs`.
    public static func polling(steps: [Int64], horizonMs: Int64) -> RetrySchedule? {
        guard let last = steps.last, last > 0, steps.allSatisfy({ $0 >= 0 }) else { return nil }
        var delays: [Int64] = []
        var total: Int64 = 0
        for step in steps where total + step <= horizonMs {
            delays.append(step)
            total += step
        }
        while total + last <= horizonMs {
            delays.append(last)
            total += last
        }
        return RetrySchedule(delaysMs: delays)
    }

    /// 30 s, 1 min, 2 min, 5 min…
    public static let statusPollingSteps: [Int64] = [30_000, 60_000, 120_000, 300_000]
    /// …then every 5 min for up to 24 h.
    public static let statusPolling = polling(steps: statusPollingSteps, horizonMs: 86_400_000)!

    /// What a failed attempt tells the schedule.
    public struct Failure: Sendable, Equatable {
        /// The receiver's `Retry-After`, as a wait in milliseconds.
        public var retryAfterMs: Int64?
        /// A 429 or a timeout.
        public var overloaded: Bool

        public init(retryAfterMs: Int64? = nil, overloaded: Bool = false) {
            self.retryAfterMs = retryAfterMs
            self.overloaded = overloaded
        }
    }

    /// When the next attempt is due after attempt `attemptNumber` (1-based) failed at `now`;
    /// nil when that was the last attempt. `jitter` is a draw from -1…1.
    public func nextAttemptAt(after attemptNumber: Int, failedAt now: Int64, failure: Failure, jitter: Double) -> Int64? {
        guard attemptNumber >= 1, attemptNumber < delaysMs.count else { return nil }
        let scheduled = delaysMs[attemptNumber]
        var delay = Int64((Double(scheduled) * (1 + Self.jitterFraction * max(-1, min(1, jitter)))).rounded())
        if failure.overloaded {
            delay = max(delay, min(Self.overloadFloorMs, delaysMs.max() ?? 0))
        }
        if let retryAfter = failure.retryAfterMs {
            delay = max(delay, min(retryAfter, 2 * scheduled))
        }
        return now + delay
    }
}

/// `Retry-After`: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
public enum RetryAfter {
    /// The wait it asks for, in milliseconds from `now`; nil when unparseable.
    public static func milliseconds(_ value: String, now: Int64) -> Int64? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int64(text), seconds >= 0 { return seconds * 1000 }
        guard let date = httpDateMilliseconds(text) else { return nil }
        return max(0, date - now)
    }

    /// IMF-fixdate only (`Sun, 06 Nov 1994 08:49:37 GMT`), the form senders must use.
    static func httpDateMilliseconds(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let monthIndex = months.firstIndex(of: String(parts[2])),
              let year = Int(parts[3])
        else { return nil }
        let time = parts[4].split(separator: ":").compactMap { Int($0) }
        guard time.count == 3 else { return nil }
        let text = String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", year, monthIndex + 1, day, time[0], time[1], time[2])
        return RFC3339.parseMilliseconds(text)
    }
}

