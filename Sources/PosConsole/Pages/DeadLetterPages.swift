import Foundation
import Hummingbird
import PosDomain
import PosHTTP
import PosServices

/// `/console/dead-letters`: what was given up on, grouped by target and reason; replay one, or
/// every dead delivery of a target since a time.
struct DeadLetterPages: Sendable {
    let kit: ConsoleKit

    func register(on router: Router<PosRequestContext>) {
        router.get("\(Console.root)/dead-letters", use: kit.page(list))
        router.post("\(Console.root)/dead-letters/:deliveryId/replay", use: kit.action(replayOne))
        router.post("\(Console.root)/dead-letters/replay", use: kit.action(replayTarget))
    }

    struct SampleRow {
        let id: String
        let orderId: String?
        let event: String
        let attempts: Int
        let at: String
    }

    struct GroupView {
        let target: String
        /// `webhook:3` or `connector:revel`, posted back by the replay-all form.
        let targetKey: String
        let reason: String
        let count: Int
        let firstAt: String
        let lastAt: String
        /// The first failure's day: the replay-all form's default.
        let sinceDefault: String
        let sample: [SampleRow]
    }

    struct ListView {
        let groups: [GroupView]
        let notice: String?
    }

    @Sendable func list(_ visit: Visit) async throws -> Response {
        let groups = try await kit.services.operations.deadLetters(tenant: try visit.tenant())
        let view = ListView(groups: groups.map { group in
            GroupView(
                target: group.webhookId.map { "webhook \($0)" } ?? "POS \(group.connector)",
                targetKey: group.webhookId.map { "webhook:\($0)" } ?? "connector:\(group.connector)",
                reason: group.reason.isEmpty ? "(no reason recorded)" : SecretMask.excerpt(group.reason),
                count: group.count, firstAt: Format.time(group.firstAt), lastAt: Format.time(group.lastAt),
                sinceDefault: String(Format.time(group.firstAt).prefix(10)),
                sample: group.sample.map {
                    SampleRow(id: $0.id, orderId: $0.orderId, event: $0.event, attempts: $0.attemptCount, at: Format.time($0.updatedAt))
                })
        }, notice: Notice.text(visit.query("done")))
        return try kit.render("dead-letters", title: "Dead letters", view: view, visit: visit, section: .deadLetters)
    }

    @Sendable func replayOne(_ visit: Visit) async throws -> Response {
        _ = try await kit.services.deliveries.retry(id: try visit.parameter("deliveryId"), tenant: try visit.tenant())
        return ConsoleKit.redirect(to: "\(Console.root)/dead-letters?done=replayed")
    }

    struct ReplayTargetForm: Decodable {
        let target: String
        /// `YYYY-MM-DD` (UTC midnight) or an RFC 3339 time.
        let since: String
    }

    @Sendable func replayTarget(_ visit: Visit) async throws -> Response {
        let form = try visit.form(ReplayTargetForm.self)
        let since = form.since.trimmingCharacters(in: .whitespaces)
        guard let sinceMs = OperationsService.dayStart(since) ?? RFC3339.parseMilliseconds(since) else {
            throw ServiceError.invalid(field: "since", message: "since must be a date (YYYY-MM-DD) or an RFC 3339 time")
        }
        let command: RecoverDeliveries
        if form.target.hasPrefix("webhook:"), let id = Int64(form.target.dropFirst("webhook:".count)) {
            command = RecoverDeliveries(since: sinceMs, webhookId: id, outletId: nil)
        } else if form.target.hasPrefix("connector:"), !form.target.dropFirst("connector:".count).isEmpty {
            command = RecoverDeliveries(since: sinceMs, webhookId: nil, connector: String(form.target.dropFirst("connector:".count)), outletId: nil)
        } else {
            throw ServiceError.invalid(field: "target", message: "target must be webhook:<id> or connector:<slug>")
        }
        _ = try await kit.services.deliveries.recover(command, tenant: try visit.tenant())
        return ConsoleKit.redirect(to: "\(Console.root)/dead-letters?done=recovered")
    }
}
