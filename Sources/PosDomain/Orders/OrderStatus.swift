/// Where an order stands in the kitchen, as partners and POS report it. Dispatch sets `PAID`.
public enum OrderStatus: String, Sendable, CaseIterable, Codable {
    case paid = "PAID"
    case accepted = "ACCEPTED"
    case inProgress = "IN_PROGRESS"
    case ready = "READY"
    case driverPickedUp = "DRIVER_PICKED_UP"
    case completed = "COMPLETED"
    case rejected = "REJECTED"
    case cancelled = "CANCELLED"

    /// No change leaves a final status.
    public var isFinal: Bool { self == .completed || self == .rejected || self == .cancelled }
}

/// How the order reaches the guest: a delivery order has a driver step the others lack.
public enum Fulfilment: String, Sendable {
    case delivery
    /// Pickup, takeaway, dine-in: no driver.
    case collection
    /// Orders stored before the method was kept: any path is allowed.
    case unknown

    /// From the Cata order's `deliveryMethod` (compared without case or separators).
    public init(deliveryMethod: String) {
        let key = deliveryMethod.lowercased().filter { $0.isLetter }
        self = key == "delivery" ? .delivery : .collection
    }
}

/// Who reported a change, as history shows it: `partner`, `pos:<slug>`, `poll`, `platform`.
public struct StatusSource: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let description: String

    public init(_ text: String) { description = text }

    public static let partner = StatusSource("partner")
    public static let poll = StatusSource("poll")
    public static let platform = StatusSource("platform")
    public static func pos(_ slug: String) -> StatusSource { StatusSource("pos:\(slug)") }
}

/// The order status state machine: the one place that says which change is allowed.
///
/// Forward along the path only (a POS may skip steps: Revel only ever reports COMPLETED), never
/// back; COMPLETED, REJECTED and CANCELLED are final; REJECTED only before IN_PROGRESS; CANCELLED
/// from any status that is not final.
public enum OrderStatusMachine {
    /// The statuses an order moves through, in order.
    public static func path(for fulfilment: Fulfilment) -> [OrderStatus] {
        switch fulfilment {
        case .collection: [.paid, .accepted, .inProgress, .ready, .completed]
        case .delivery, .unknown: [.paid, .accepted, .inProgress, .ready, .driverPickedUp, .completed]
        }
    }

    /// Every status `current` may move to, in path order, then REJECTED and CANCELLED.
    public static func allowedNext(from current: OrderStatus, fulfilment: Fulfilment) -> [OrderStatus] {
        guard !current.isFinal else { return [] }
        let path = path(for: fulfilment)
        // A status off this order's path (a driver step on a pickup order, from an older rule) moves on like READY.
        let position = path.firstIndex(of: current) ?? path.firstIndex(of: .ready)!
        var next = Array(path[(position + 1)...])
        if current == .paid || current == .accepted { next.append(.rejected) }
        next.append(.cancelled)
        return next
    }

    public static func isAllowed(from current: OrderStatus, to next: OrderStatus, fulfilment: Fulfilment) -> Bool {
        allowedNext(from: current, fulfilment: fulfilment).contains(next)
    }

    /// What to do with a reported status, given where the order stands.
    public enum Decision: Sendable, Equatable {
        /// Move to the new status (and record it).
        case apply
        /// Already there: nothing recorded.
        case unchanged
        /// Older than the last applied change: recorded as stale, the status stays.
        case stale
        /// The table forbids it; these are the statuses it may move to.
        case forbidden(allowed: [OrderStatus])
    }

    /// - Parameters:
    ///   - lastChangeAt: when the change that set the current status happened (ms since the epoch).
    ///   - occurredAt: when the reported change happened, if the reporter said.
    public static func decide(current: OrderStatus, lastChangeAt: Int64?, fulfilment: Fulfilment,
                              requested: OrderStatus, occurredAt: Int64?) -> Decision {
        if requested == current { return .unchanged }
        if let occurredAt, let lastChangeAt, occurredAt < lastChangeAt { return .stale }
        let allowed = allowedNext(from: current, fulfilment: fulfilment)
        return allowed.contains(requested) ? .apply : .forbidden(allowed: allowed)
    }
}
