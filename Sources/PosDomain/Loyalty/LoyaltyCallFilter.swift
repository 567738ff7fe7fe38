/// Which calls of the loyalty call log to list, newest first.
public struct LoyaltyCallFilter: Sendable, Equatable {
    public var customerUuid: String?
    /// At or after this time.
    public var since: Int64?
    public var limit: Int

    public init(customerUuid: String? = nil, since: Int64? = nil, limit: Int = 50) {
        self.customerUuid = customerUuid
        self.since = since
        self.limit = limit
    }
}
