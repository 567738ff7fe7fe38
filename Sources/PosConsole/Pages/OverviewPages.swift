import Hummingbird
import PosDomain
import PosHTTP
import PosServices

/// `/console`: how the last hour went, what is waiting, what needs attention, and a picture of
/// the last day.
struct OverviewPages: Sendable {
    let kit: ConsoleKit

    func register(on router: Router<PosRequestContext>) {
        router.get(RouterPath(Console.root), use: kit.page(overview))
    }

    struct AttentionRow {
        let kind: String
        let subject: String
        let detail: String
        let link: String
    }

    struct OverviewView {
        let tenantName: String
        let lastHourOrders: Int
        let lastHourDelivered: String
        let pending: Int
        let oldestDue: String
        let dead: Int
        let hasDead: Bool
        let attention: [AttentionRow]
        let dayOrders: Int
        let dayDelivered: String
        /// Drawn by ``ActivityChart`` from numbers only; the one raw value a template writes.
        let chart: String

        init(_ overview: TenantOverview) {
            tenantName = overview.tenant.name
            lastHourOrders = overview.lastHourOrders
            lastHourDelivered = Format.share(overview.lastHourDelivered, of: overview.lastHourOrders)
            pending = overview.outbox.pending
            oldestDue = overview.outbox.oldestDueAt.map { due in due < overview.now ? "\(Format.duration(ms: overview.now - due)) ago" : "not yet due" } ?? "—"
            dead = overview.outbox.dead
            hasDead = overview.outbox.dead > 0
            attention = overview.attention.map { item in
                AttentionRow(kind: item.kind.rawValue, subject: item.subject, detail: item.detail,
                             link: item.webhookId.map { "\(Console.root)/webhooks/\($0)" } ?? "\(Console.root)/connections")
            }
            let orders = overview.activity.reduce(0) { $0 + $1.orders }
            dayOrders = orders
            dayDelivered = Format.share(overview.activity.reduce(0) { $0 + $1.delivered }, of: orders)
            chart = ActivityChart.svg(overview.activity)
        }
    }

    @Sendable func overview(_ visit: Visit) async throws -> Response {
        let tenant = try visit.tenant()
        let overview = try await kit.services.operations.overview(tenant: tenant)
        return try kit.render("overview", title: "Overview", view: OverviewView(overview), visit: visit, section: .overview)
    }
}
