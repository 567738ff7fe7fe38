import Foundation
import PosDomain
import Testing

@Suite("Menu availability in the outlet's time zone")
struct MenuAvailabilityTests {
    static func at(_ text: String) -> Int64 { RFC3339.parseMilliseconds(text)! }
    static func window(_ day: Int, _ start: String, _ end: String) throws(ValidationError) -> AvailabilityWindow {
        try AvailabilityWindow(json: .object([("dayOfWeek", .integer(day)), ("startTime", .string(start)), ("endTime", .string(end))]), path: "w")
    }

    let singapore = TimeZone(identifier: "Asia/Singapore")!
    let berlin = TimeZone(identifier: "Europe/Berlin")!

    @Test("inside and outside a day's window, read in the outlet's zone, not UTC")
    func dayWindow() throws {
        let lunch = [try Self.window(1, "09:00", "17:00")]  // Monday
        // 2026-03-16 is a Monday: 10:00 in Singapore is 02:00Z.
        #expect(MenuAvailability.isServed(lunch, at: Self.at("2026-03-16T02:00:00Z"), in: singapore))
        #expect(!MenuAvailability.isServed(lunch, at: Self.at("2026-03-16T09:00:00Z"), in: singapore), "17:00 local: the end is exclusive")
        #expect(!MenuAvailability.isServed(lunch, at: Self.at("2026-03-15T23:59:00Z"), in: singapore), "07:59 local")
        #expect(!MenuAvailability.isServed(lunch, at: Self.at("2026-03-17T02:00:00Z"), in: singapore), "a Tuesday")
        #expect(MenuAvailability.isServed([], at: Self.at("2026-03-17T02:00:00Z"), in: singapore), "no windows: always served")
    }

    @Test("a window past the outlet's midnight covers the small hours of the next day")
    func acrossMidnight() throws {
        let late = [try Self.window(1, "23:00", "01:00")]  // Monday night
        #expect(MenuAvailability.isServed(late, at: Self.at("2026-03-16T15:30:00Z"), in: singapore), "Monday 23:30 local")
        #expect(MenuAvailability.isServed(late, at: Self.at("2026-03-16T16:30:00Z"), in: singapore), "Tuesday 00:30 local")
        #expect(!MenuAvailability.isServed(late, at: Self.at("2026-03-16T17:00:00Z"), in: singapore), "Tuesday 01:00 local")
        #expect(!MenuAvailability.isServed(late, at: Self.at("2026-03-15T16:30:00Z"), in: singapore), "Monday 00:30 local belongs to Sunday night")
        let sunday = [try Self.window(7, "22:00", "02:00")]
        #expect(MenuAvailability.isServed(sunday, at: Self.at("2026-03-15T17:30:00Z"), in: singapore), "Monday 01:30 local, from Sunday's window")
    }

    @Test("across a daylight-saving change the window keeps its local hours")
    func daylightSaving() throws {
        // Berlin springs forward on Sunday 2026-03-29 at 02:00 CET → 03:00 CEST.
        let breakfast = [try Self.window(7, "09:00", "10:00")]
        #expect(MenuAvailability.isServed(breakfast, at: Self.at("2026-03-22T08:30:00Z"), in: berlin), "09:30 CET the week before")
        #expect(!MenuAvailability.isServed(breakfast, at: Self.at("2026-03-22T07:30:00Z"), in: berlin), "08:30 CET")
        #expect(MenuAvailability.isServed(breakfast, at: Self.at("2026-03-29T07:30:00Z"), in: berlin), "09:30 CEST: an hour earlier in UTC")
        #expect(!MenuAvailability.isServed(breakfast, at: Self.at("2026-03-29T08:30:00Z"), in: berlin), "10:30 CEST")
        let night = [try Self.window(7, "01:00", "03:00")]
        #expect(MenuAvailability.isServed(night, at: Self.at("2026-03-29T00:30:00Z"), in: berlin), "01:30 CET")
        #expect(!MenuAvailability.isServed(night, at: Self.at("2026-03-29T01:00:00Z"), in: berlin), "03:00 CEST: the skipped hour is gone")
        // Falling back on 2026-10-25 (03:00 CEST → 02:00 CET): 02:30 happens twice and is served both times.
        let fallBack = [try Self.window(7, "02:00", "03:00")]
        #expect(MenuAvailability.isServed(fallBack, at: Self.at("2026-10-25T00:30:00Z"), in: berlin), "02:30 CEST")
        #expect(MenuAvailability.isServed(fallBack, at: Self.at("2026-10-25T01:30:00Z"), in: berlin), "02:30 CET")
    }

    @Test("windows are read strictly, naming the field")
    func parsing() throws {
        #expect(try Self.window(5, "00:00", "24:00") == AvailabilityWindow(dayOfWeek: 5, startMinute: 0, endMinute: 1440))
        for (day, start, end, field) in [(0, "09:00", "10:00", "w.dayOfWeek"), (8, "09:00", "10:00", "w.dayOfWeek"),
                                         (1, "9:00", "10:00", "w.startTime"), (1, "24:00", "10:00", "w.startTime"),
                                         (1, "09:60", "10:00", "w.startTime"), (1, "09:00", "24:01", "w.endTime"), (1, "09:00", "ten", "w.endTime")] {
            #expect(throws: ValidationError.self, "\(day) \(start)-\(end)") { try Self.window(day, start, end) }
            do { _ = try Self.window(day, start, end) } catch { #expect(error.field == field) }
        }
    }

    @Test("a snoozed item is unavailable until its snooze ends, then available by itself")
    func snooze() {
        let end = Self.at("2026-03-13T22:00:00Z")
        #expect(MenuAvailability.isSnoozed(until: end, at: end - 1))
        #expect(!MenuAvailability.isSnoozed(until: end, at: end))
        #expect(!MenuAvailability.isSnoozed(until: nil, at: end))
    }
}
