import Foundation

/// Durations as operators write them in settings: `250ms`, `10s`, `5m`, `2h`, `1d`; a bare number is seconds.
public enum DurationText {
    public static func milliseconds(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            guard let value = Int64(trimmed.dropLast(suffix.count)), value >= 0 else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: factor)
            return overflow ? nil : product
        }
        guard let seconds = Int64(trimmed), seconds >= 0 else { return nil }
        return seconds * 1000
    }
}
