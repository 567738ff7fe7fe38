/// What an operator asks of the order book: find orders, see how the last day went, and which
/// deliveries were given up on. Read models only; the console and any future API present them.

/// Which orders to list, newest first. Every filter narrows; `text` matches an order's uuid, its
/// `orderRefNo` or our order id exactly (each has an index), never a substring scan.
public struct OrderSearch: Sendable, Equatable {
    public var text: String?
    public var outletId: String?
    public var status: OrderStatus?
    /// Received at or after / before, epoch milliseconds.
    public var from: Int64?
    public var until: Int64?
    /// 1 to 200.
    public var limit: Int
    /// Where the previous page stopped: (receivedAt, id) of its last order.
    public var after: (receivedAt: Int64, id: String)?

    public init(text: String? = nil, outletId: String? = nil, status: OrderStatus? = nil, from: Int64? = nil, until: Int64? = nil,
                limit: Int = 50, after: (receivedAt: Int64, id: String)? = nil) {
        self.text = text
        self.outletId = outletId
        self.status = status
        self.from = from
        self.until = until
        self.limit = limit
        self.after = after
    }

    public static func == (lhs: OrderSearch, rhs: OrderSearch) -> Bool {
        lhs.text == rhs.text && lhs.outletId == rhs.outletId && lhs.status == rhs.status && lhs.from == rhs.from && lhs.until == rhs.until
            && lhs.limit == rhs.limit && lhs.after?.receivedAt == rhs.after?.receivedAt && lhs.after?.id == rhs.after?.id
    }
}

/// One bucket of the activity chart.
public struct ActivityBucket: Sendable, Equatable {
    /// Start of the bucket, epoch milliseconds.
    public var start: Int64
    public var orders: Int
    /// Orders whose dispatch reached their target (`dispatched`).
    public var delivered: Int
    /// Mean time from acceptance to the first delivered attempt, over the delivered orders; nil when none.
    public var meanTimeToTargetMs: Int64?

    public init(start: Int64, orders: Int, delivered: Int, meanTimeToTargetMs: Int64?) {
        self.start = start
        self.orders = orders
        self.delivered = delivered
        self.meanTimeToTargetMs = meanTimeToTargetMs
    }
}

/// The outbox right now.
public struct OutboxSnapshot: Sendable, Equatable {
    /// Pending or retrying deliveries.
    public var pending: Int
    /// When the longest-waiting pending delivery became due; nil when none is waiting.
    public var oldestDueAt: Int64?
    /// Dead-lettered deliveries not replayed.
    public var dead: Int

    public init(pending: Int, oldestDueAt: Int64?, dead: Int) {
        self.pending = pending
        self.oldestDueAt = oldestDueAt
        self.dead = dead
    }
}

/// Dead deliveries of one target that failed for one reason.
public struct DeadLetterGroup: Sendable, Equatable {
    /// The webhook's id, or nil for a POS connector delivery.
    public var webhookId: Int64?
    /// `webhook` or the POS connector's slug.
    public var connector: String
    public var reason: String
    public var count: Int
    public var firstAt: Int64
    public var lastAt: Int64
    /// A few of the group's deliveries, newest first.
    public var sample: [Delivery]

    public init(webhookId: Int64?, connector: String, reason: String, count: Int, firstAt: Int64, lastAt: Int64, sample: [Delivery]) {
        self.webhookId = webhookId
        self.connector = connector
        self.reason = reason
        self.count = count
        self.firstAt = firstAt
        self.lastAt = lastAt
        self.sample = sample
    }
}
