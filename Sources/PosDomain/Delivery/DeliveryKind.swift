/// What a delivery is, decided from its event type and its target (a webhook or a POS connector)
/// and from nothing else: which handler attempts it, which schedule retries it, whether it waits
/// its turn behind the subject's earlier deliveries, and what its success leaves behind all follow
/// from the kind, so no other code looks at the event's name to decide behaviour (docs/adr/0014).
public enum DeliveryKind: String, Sendable, CaseIterable {
    /// Any event but an order's dispatch, to a webhook subscribed to it.
    case webhookEvent
    /// An order's dispatch (`order.paid`) to a webhook.
    case webhookOrder
    /// An order's dispatch to a POS connector (a built-in transformer).
    case posOrder
    /// A cancellation pushed to the POS that has the order.
    case posCancel
    /// A look at an order's status in a POS that cannot call us back.
    case statusPoll
    /// A menu read from a POS into a draft.
    case menuImport

    /// The event types of connector jobs: they go to a POS connector, never to a webhook.
    public static let cancelJob = "pos.cancel_order"
    public static let pollJob = "pos.poll_status"
    public static let importJob = "pos.import_menu"

    /// The kind of a delivery of `event` to a webhook (`toWebhook`) or to a POS connector; nil for a
    /// connector delivery of an event no connector handles.
    public init?(event: String, toWebhook: Bool) {
        if toWebhook {
            self = event == EventCatalogue.orderPaid ? .webhookOrder : .webhookEvent
            return
        }
        switch event {
        case EventCatalogue.orderPaid: self = .posOrder
        case Self.cancelJob: self = .posCancel
        case Self.pollJob: self = .statusPoll
        case Self.importJob: self = .menuImport
        default: return nil
        }
    }

    /// Its outcome is the order's dispatch outcome (status, reason, the POS's order id).
    public var dispatchesOrder: Bool { self == .webhookOrder || self == .posOrder }

    /// Waits until the earlier deliveries of its subject to its target are delivered or dead; jobs
    /// that only read from a POS go out of turn.
    public var isOrdered: Bool { self != .statusPoll && self != .menuImport }

    /// Retried on the status-poll schedule rather than the delivery schedule.
    public var usesPollSchedule: Bool { self == .statusPoll }

    /// Its first attempt counts for `pos_enqueue_to_first_attempt_seconds`: a status poll is due
    /// later on purpose, so its wait says nothing about the queue.
    public var measuresEnqueueLatency: Bool { self != .statusPoll }
}

extension Delivery {
    /// What this delivery is (nil for a connector delivery of an event no connector handles).
    public var kind: DeliveryKind? { DeliveryKind(event: event, toWebhook: webhookId != nil) }

    /// How a dispatch reason names where it went: `webhook 7`, or the connector's slug.
    public var targetLabel: String { webhookId.map { "webhook \($0)" } ?? connector }
}
