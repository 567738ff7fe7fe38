import Foundation

/// One weekly window in which a menu is served, in the outlet's local time: `dayOfWeek` 1 = Monday
/// … 7 = Sunday, minutes since local midnight. A window whose end is at or before its start runs
/// past midnight into the next day (`22:00`–`02:00`).
public struct AvailabilityWindow: Sendable, Equatable, Hashable {
    public var dayOfWeek: Int
    public var startMinute: Int
    public var endMinute: Int

    public init(dayOfWeek: Int, startMinute: Int, endMinute: Int) {
        self.dayOfWeek = dayOfWeek
        self.startMinute = startMinute
        self.endMinute = endMinute
    }

    /// `{dayOfWeek, startTime: "HH:mm", endTime: "HH:mm"}` (`24:00` allowed as an end); errors name
    /// the field under `path`.
    public init(json: JSONValue, path: String) throws(ValidationError) {
        guard case .object = json else { throw ValidationError(field: path, message: "must be an object") }
        guard let day = json["dayOfWeek"]?.integerValue, (1...7).contains(day) else {
            throw ValidationError(field: "\(path).dayOfWeek", message: "must be an integer from 1 (Monday) to 7 (Sunday)")
        }
        dayOfWeek = Int(day)
        startMinute = try Self.minutes(json["startTime"], field: "\(path).startTime", allowEndOfDay: false)
        endMinute = try Self.minutes(json["endTime"], field: "\(path).endTime", allowEndOfDay: true)
    }

    /// `"HH:mm"` as minutes since midnight.
    static func minutes(_ node: JSONValue?, field: String, allowEndOfDay: Bool) throws(ValidationError) -> Int {
        let message = "must be a time \"HH:mm\" from 00:00 to \(allowEndOfDay ? "24:00" : "23:59")"
        guard let text = node?.stringValue else { throw ValidationError(field: field, message: message) }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let hours = Int(parts[0]), let minutes = Int(parts[1]), minutes < 60,
              hours < 24 || (allowEndOfDay && hours == 24 && minutes == 0)
        else { throw ValidationError(field: field, message: message) }
        return hours * 60 + minutes
    }

    /// Whether local weekday `day` (1 = Monday) at `minute` past local midnight falls in the window.
    public func covers(day: Int, minute: Int) -> Bool {
        if endMinute > startMinute {
            return day == dayOfWeek && minute >= startMinute && minute < endMinute
        }
        // Past midnight: the evening of its day and the small hours of the next.
        let nextDay = dayOfWeek % 7 + 1
        return (day == dayOfWeek && minute >= startMinute) || (day == nextDay && minute < endMinute)
    }
}

/// When a menu is served, read in the outlet's time zone. Wall-clock times are compared, so a
/// window keeps its local hours across a daylight-saving change (a 01:00–03:00 window on the night
/// clocks spring forward is one real hour long).
public enum MenuAvailability {
    /// Local weekday (1 = Monday … 7 = Sunday) and minutes since local midnight of `instant`: the
    /// zone's offset at that instant (daylight saving included) applied to the epoch count, which is
    /// what a calendar would answer without building one on every read.
    public static func localTime(of instant: Int64, in zone: TimeZone) -> (day: Int, minute: Int) {
        let utcSeconds = instant.dividedRoundingDown(by: 1_000)
        let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(utcSeconds))))
        let local = utcSeconds + offset
        let days = local.dividedRoundingDown(by: 86_400)
        // 1970-01-01 was a Thursday (4).
        let day = Int((days + 3).modulo(7)) + 1
        return (day, Int(local.modulo(86_400) / 60))
    }

    /// Whether a menu with `windows` is served at `instant`; a menu without windows always is.
    public static func isServed(_ windows: [AvailabilityWindow], at instant: Int64, in zone: TimeZone) -> Bool {
        isServed(windows, local: localTime(of: instant, in: zone))
    }

    /// The same for a local time already worked out (several menus of one outlet at one instant).
    public static func isServed(_ windows: [AvailabilityWindow], local: (day: Int, minute: Int)) -> Bool {
        windows.isEmpty || windows.contains { $0.covers(day: local.day, minute: local.minute) }
    }

    /// Whether an item snoozed until `snoozeEnd` is unavailable at `instant`: it becomes available
    /// again by itself once the time has passed.
    public static func isSnoozed(until snoozeEnd: Int64?, at instant: Int64) -> Bool {
        snoozeEnd.map { instant < $0 } ?? false
    }
}

extension Int64 {
    /// Floor division: times before 1970 fall on the day they belong to.
    func dividedRoundingDown(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor < 0) ? quotient - 1 : quotient
    }

    /// The non-negative remainder.
    func modulo(_ divisor: Int64) -> Int64 {
        let remainder = self % divisor
        return remainder < 0 ? remainder + divisor : remainder
    }
}
