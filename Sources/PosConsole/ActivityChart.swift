import PosDomain

/// The overview's picture of the last 24 hours, drawn on the server as SVG: orders per bucket as
/// bars, the delivered share and the mean time to the target as lines. Only numbers and fixed
/// labels go into it, and it uses presentation attributes, not `style`, so the page's
/// Content-Security-Policy needs no inline styles.
enum ActivityChart {
    static let width = 720
    static let height = 220
    static let plotTop = 20
    static let plotBottom = 190

    static func svg(_ buckets: [ActivityBucket]) -> String {
        let plotHeight = Double(plotBottom - plotTop)
        let slot = Double(width) / Double(max(buckets.count, 1))
        let maxOrders = max(buckets.map(\.orders).max() ?? 0, 1)
        let maxWait = max(buckets.compactMap(\.meanTimeToTargetMs).max() ?? 0, 1)
        func y(_ fraction: Double) -> String { format(Double(plotBottom) - fraction * plotHeight) }

        var bars = ""
        var share: [String] = []
        var wait: [String] = []
        for (index, bucket) in buckets.enumerated() {
            let x = Double(index) * slot
            if bucket.orders > 0 {
                let barHeight = Double(bucket.orders) / Double(maxOrders) * plotHeight
                bars += "<rect x=\"\(format(x + 0.5))\" y=\"\(format(Double(plotBottom) - barHeight))\" width=\"\(format(max(slot - 1, 1)))\" "
                    + "height=\"\(format(barHeight))\" fill=\"#9db4d3\"><title>\(bucket.orders) orders</title></rect>"
                share.append("\(format(x + slot / 2)),\(y(Double(bucket.delivered) / Double(bucket.orders)))")
            }
            if let ms = bucket.meanTimeToTargetMs {
                wait.append("\(format(x + slot / 2)),\(y(Double(ms) / Double(maxWait)))")
            }
        }
        let hoursAgo = stride(from: 24, through: 0, by: -6).map { hours -> String in
            let x = Double(width) * Double(24 - hours) / 24
            let anchor = hours == 24 ? "start" : hours == 0 ? "end" : "middle"
            return "<text x=\"\(format(x))\" y=\"\(height - 8)\" font-size=\"11\" text-anchor=\"\(anchor)\" fill=\"#555\">"
                + (hours == 0 ? "now" : "-\(hours) h") + "</text>"
        }.joined()
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(width) \(height)" width="100%" role="img" \
            aria-label="Orders per 10 minutes over the last 24 hours, share delivered and time to the target">\
            <line x1="0" y1="\(plotBottom)" x2="\(width)" y2="\(plotBottom)" stroke="#999" stroke-width="1"/>\
            \(bars)\
            <polyline points="\(share.joined(separator: " "))" fill="none" stroke="#2a7d2a" stroke-width="1.5"/>\
            <polyline points="\(wait.joined(separator: " "))" fill="none" stroke="#c25400" stroke-width="1.5" stroke-dasharray="4 2"/>\
            <text x="4" y="13" font-size="11" fill="#555">bars: orders (max \(maxOrders) per 10 min) · green: share delivered (top = 100 %) · \
            orange: mean time to target (top = \(Format.duration(ms: maxWait)))</text>\
            \(hoursAgo)</svg>
            """
    }

    private static func format(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(abs(tenths % 10))"
    }
}

/// How the console writes times, durations, shares and amounts.
enum Format {
    static func time(_ ms: Int64?) -> String {
        guard let ms else { return "—" }
        return RFC3339.format(milliseconds: ms)
    }

    static func duration(ms: Int64) -> String {
        if ms < 1_000 { return "\(ms) ms" }
        if ms < 60_000 { return "\(ms / 1_000).\(ms % 1_000 / 100) s" }
        if ms < 3_600_000 { return "\(ms / 60_000) min" }
        if ms < 86_400_000 { return "\(ms / 3_600_000) h \(ms % 3_600_000 / 60_000) min" }
        return "\(ms / 86_400_000) d \(ms % 86_400_000 / 3_600_000) h"
    }

    static func share(_ part: Int, of whole: Int) -> String {
        guard whole > 0 else { return "—" }
        let tenths = part * 1000 / whole
        return "\(tenths / 10).\(tenths % 10) %"
    }

    static func money(minor: Int64, currency code: String) -> String {
        guard let currency = Currency(code: code) else { return "\(minor) (minor units) \(code)" }
        return Money(minorUnits: minor, currency: currency).description
    }
}
