import Foundation
import Hummingbird
import PosDomain
import PosHTTP
import PosServices

/// The platform view for operators: every tenant's figures, tenant creation, and stepping into a
/// tenant to act there (each change made inside is logged with the operator's key).
struct PlatformPages: Sendable {
    let kit: ConsoleKit

    func register(on router: Router<PosRequestContext>) {
        router.get("\(Console.root)/tenants", use: kit.page(tenants))
        router.post("\(Console.root)/tenants", use: kit.action(createTenant))
        router.post("\(Console.root)/act", use: kit.action(act))
    }

    struct TenantRow {
        let id: String
        let subdomain: String
        let name: String
        let status: String
        let lastHourOrders: Int
        let lastHourDelivered: String
        let pending: Int
        let dead: Int
        let attention: Int
        let current: Bool
    }

    struct TenantsView {
        let tenants: [TenantRow]
        let acting: String?
        let notice: String?
    }

    private func requireOperator(_ visit: Visit) throws {
        guard visit.viewer.isOperator else { throw ServiceError.notFound("no such page") }
    }

    @Sendable func tenants(_ visit: Visit) async throws -> Response {
        try requireOperator(visit)
        var rows: [TenantRow] = []
        for tenant in try await kit.services.tenants.tenants() {
            let overview = try await kit.services.operations.overview(tenant: tenant, windowMs: 3_600_000)
            rows.append(TenantRow(id: tenant.id, subdomain: tenant.subdomain, name: tenant.name, status: tenant.status,
                                  lastHourOrders: overview.lastHourOrders,
                                  lastHourDelivered: Format.share(overview.lastHourDelivered, of: overview.lastHourOrders),
                                  pending: overview.outbox.pending, dead: overview.outbox.dead, attention: overview.attention.count,
                                  current: tenant.id == visit.viewer.tenant?.id))
        }
        let view = TenantsView(tenants: rows, acting: visit.viewer.tenant?.subdomain, notice: Notice.text(visit.query("done")))
        return try kit.render("tenants", title: "Tenants", view: view, visit: visit, section: .tenants)
    }

    struct CreateTenantForm: Decodable {
        let subdomain: String
        let name: String
    }

    @Sendable func createTenant(_ visit: Visit) async throws -> Response {
        try requireOperator(visit)
        let form = try visit.form(CreateTenantForm.self)
        let tenant = try await kit.services.tenants.createTenant(subdomain: form.subdomain, name: form.name)
        kit.logger.notice("operator created tenant", metadata: ["tenant_id": .string(tenant.id), "subdomain": .string(tenant.subdomain)])
        return ConsoleKit.redirect(to: "\(Console.root)/tenants?done=created")
    }

    struct ActForm: Decodable {
        /// A tenant id or subdomain; empty to go back to the platform view.
        let tenant: String?
    }

    @Sendable func act(_ visit: Visit) async throws -> Response {
        try requireOperator(visit)
        let reference = try visit.form(ActForm.self).tenant?.trimmingCharacters(in: .whitespaces)
        let tenant = try await kit.services.sessions.act(in: reference?.isEmpty == false ? reference : nil, session: visit.session,
                                                         viewer: visit.viewer)
        if case .platformOperator(let principal, _) = visit.viewer {
            kit.logger.notice("operator switched tenant", metadata: [
                "operator_key_id": .stringConvertible(principal.key.operatorKeyId), "tenant_id": .string(tenant?.id ?? "(platform view)"),
            ])
        }
        return ConsoleKit.redirect(to: tenant == nil ? "\(Console.root)/tenants" : Console.root)
    }
}
