import Foundation
import Hummingbird
import PosDomain
import PosHTTP
import PosServices

/// `/console/orders`: find an order, see where it went, replay or cancel it.
struct OrderPages: Sendable {
    let kit: ConsoleKit

    func register(on router: Router<PosRequestContext>) {
        router.get("\(Console.root)/orders", use: kit.page(list))
        router.get("\(Console.root)/orders/:orderId", use: kit.page(order))
        router.post("\(Console.root)/orders/:orderId/deliveries/:deliveryId/replay", use: kit.action(replay))
        router.post("\(Console.root)/orders/:orderId/cancel", use: kit.action(cancel))
    }

    struct OrderRow {
        let id: String
        let orderRefNo: String
        let orderUUID: String
        let outletId: String
        let total: String
        let status: String
        let dispatchStatus: String
        let receivedAt: String
        let problem: Bool

        init(_ order: OrderRecord) {
            id = order.id
            orderRefNo = order.orderRefNo
            orderUUID = order.orderUUID
            outletId = order.outletId
            total = Format.money(minor: order.totalPayMinor, currency: order.currency)
            status = order.status.rawValue
            dispatchStatus = order.dispatchStatus.rawValue
            receivedAt = Format.time(order.receivedAt)
            problem = order.dispatchStatus == .failed
        }
    }

    struct StatusOption {
        let value: String
        let selected: Bool
    }

    struct ListView {
        let q: String
        let outlet: String
        let from: String
        let until: String
        let statuses: [StatusOption]
        let orders: [OrderRow]
        let nextPage: String?
        let filtered: Bool
    }

    @Sendable func list(_ visit: Visit) async throws -> Response {
        let tenant = try visit.tenant()
        let query = OrderSearchQuery(text: visit.query("q"), outletId: visit.query("outlet"), status: visit.query("status"),
                                     from: visit.query("from"), until: visit.query("until"), cursor: visit.query("cursor"))
        let page = try await kit.services.operations.searchOrders(query, tenant: tenant)
        let nextPage = page.nextCursor.map { cursor in
            var items = [("q", query.text), ("outlet", query.outletId), ("status", query.status), ("from", query.from), ("until", query.until)]
                .compactMap { name, value in value.map { (name, $0) } }
            items.append(("cursor", cursor))
            return "\(Console.root)/orders?" + QueryString.encode(items)
        }
        let view = ListView(
            q: query.text ?? "", outlet: query.outletId ?? "", from: query.from ?? "", until: query.until ?? "",
            statuses: OrderStatus.allCases.map { StatusOption(value: $0.rawValue, selected: $0.rawValue == query.status?.uppercased()) },
            orders: page.orders.map(OrderRow.init), nextPage: nextPage,
            filtered: [query.text, query.outletId, query.status, query.from, query.until].contains { $0 != nil })
        return try kit.render("orders", title: "Orders", view: view, visit: visit, section: .orders)
    }

    struct TimelineEntry {
        let status: String
        let previous: String?
        let source: String
        let reason: String?
        let at: String
        let stale: Bool
    }

    struct AttemptRow {
        let number: Int
        let startedAt: String
        let statusCode: String
        let duration: String
        let errorClass: String?
        let excerpt: String?
        let succeeded: Bool
    }

    struct DeliveryBlock {
        let id: String
        let target: String
        let event: String
        let status: String
        let attemptsLabel: String
        let nextAttemptAt: String?
        let lastError: String?
        let replayable: Bool
        let attempts: [AttemptRow]
        let dead: Bool
    }

    struct OrderView {
        let order: OrderRow
        let fulfilment: String
        let externalOrderId: String?
        let dispatchReason: String?
        let timeline: [TimelineEntry]
        let deliveries: [DeliveryBlock]
        let cancellable: Bool
        let notice: String?
    }

    @Sendable func order(_ visit: Visit) async throws -> Response {
        let tenant = try visit.tenant()
        let detail = try await kit.services.orders.order(id: try visit.parameter("orderId"), tenant: tenant)
        let deliveries = detail.deliveries.map { delivery in
            DeliveryBlock(
                id: delivery.id, target: Self.target(delivery), event: delivery.event, status: delivery.status.rawValue,
                attemptsLabel: delivery.attemptCount == 1 ? "1 attempt" : "\(delivery.attemptCount) attempts",
                nextAttemptAt: delivery.status == .delivered || delivery.status == .dead ? nil : delivery.nextAttemptAt.map(Format.time),
                lastError: delivery.lastError.map { SecretMask.excerpt($0) },
                replayable: delivery.status != .delivering,
                attempts: detail.attempts.filter { $0.deliveryId == delivery.id }.map { attempt in
                    AttemptRow(number: attempt.attemptNumber, startedAt: Format.time(attempt.startedAt),
                               statusCode: attempt.statusCode.map(String.init) ?? "—", duration: Format.duration(ms: attempt.durationMs),
                               errorClass: attempt.errorClass, excerpt: attempt.responseExcerpt.map { SecretMask.excerpt($0) },
                               succeeded: attempt.succeeded)
                },
                dead: delivery.status == .dead)
        }
        let view = OrderView(
            order: OrderRow(detail.order), fulfilment: detail.order.fulfilment.rawValue, externalOrderId: detail.order.externalOrderId,
            dispatchReason: detail.order.dispatchReason,
            timeline: detail.timeline.map { change in
                TimelineEntry(status: change.status.rawValue, previous: change.previous?.rawValue, source: change.source, reason: change.reason,
                              at: Format.time(change.occurredAt ?? change.recordedAt), stale: change.stale)
            },
            deliveries: deliveries, cancellable: !detail.order.status.isFinal, notice: Notice.text(visit.query("done")))
        return try kit.render("order", title: "Order \(detail.order.orderRefNo)", view: view, visit: visit, section: .orders)
    }

    @Sendable func replay(_ visit: Visit) async throws -> Response {
        let orderId = try visit.parameter("orderId")
        _ = try await kit.services.deliveries.retry(id: try visit.parameter("deliveryId"), tenant: try visit.tenant())
        return ConsoleKit.redirect(to: "\(Console.root)/orders/\(QueryString.escapePath(orderId))?done=replayed")
    }

    struct CancelForm: Decodable {
        let reason: String?
    }

    @Sendable func cancel(_ visit: Visit) async throws -> Response {
        let orderId = try visit.parameter("orderId")
        let form = try visit.form(CancelForm.self)
        let reason = form.reason?.trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try await kit.services.statuses.cancel(orderId: orderId, tenant: try visit.tenant(),
                                                   reason: reason?.isEmpty == false ? reason ?? "" : "cancelled in the console")
        return ConsoleKit.redirect(to: "\(Console.root)/orders/\(QueryString.escapePath(orderId))?done=cancelled")
    }

    static func target(_ delivery: Delivery) -> String {
        delivery.webhookId.map { "webhook \($0)" } ?? "POS \(delivery.connector)"
    }
}

/// One-line confirmations after a form, by code: the text is ours, never the query's.
enum Notice {
    static func text(_ code: String?) -> String? {
        switch code {
        case "replayed": "Replay queued: the delivery is due now."
        case "cancelled": "Order cancelled."
        case "recovered": "Dead deliveries queued for replay."
        case "created": "Created."
        case "saved": "Saved."
        case "revoked": "Revoked."
        case "deleted": "Deleted."
        case "pinged": "Ping delivered: the receiver answered with a 2xx (see Last ping)."
        case "ping-failed": "Ping sent, but the receiver did not answer with a 2xx (see Last ping)."
        case "mapped": "Outlet mapped."
        case "state-changed": "Outlet state changed."
        default: nil
        }
    }
}

/// Links the console builds from values: each value percent-encoded.
enum QueryString {
    static func encode(_ items: [(String, String)]) -> String {
        items.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    static func escape(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }

    static func escapePath(_ segment: String) -> String { escape(segment) }
}
