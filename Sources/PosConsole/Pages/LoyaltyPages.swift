import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import PosHTTP
import PosServices

/// `/console/loyalty`: the tenant's loyalty configuration (key write-only, shown masked), the
/// recent loyalty calls, and the POS status webhooks received (bodies masked and cut short).
struct LoyaltyPages: Sendable {
    let kit: ConsoleKit

    static let callsShown = 50
    static let inboundShown = 50

    func register(on router: Router<PosRequestContext>) {
        router.get("\(Console.root)/loyalty", use: kit.page(page))
        router.post("\(Console.root)/loyalty/config", use: kit.action(save))
        router.post("\(Console.root)/loyalty/delete", use: kit.action(delete))
    }

    struct ConfigView {
        let baseUrl: String
        let maskedKey: String
        let timeout: String
        let inherited: String?
        let updatedAt: String
    }

    struct CallRow {
        let at: String
        let operation: String
        let customerUuid: String
        let points: String
        let refCode: String
        let upstreamStatus: String
        let latency: String
        let status: Int
        let outcome: String
        let bad: Bool
    }

    struct InboundRow {
        let receivedAt: String
        let provider: String
        let outcome: String
        let statusCode: Int
        let orderId: String?
        let detail: String?
        let body: String
        let bad: Bool
    }

    struct FormValues {
        let baseUrl: String
        let timeout: String
    }

    struct PageView {
        let config: ConfigView?
        let values: FormValues
        let calls: [CallRow]
        let inbound: [InboundRow]
        let error: String?
        let notice: String?
    }

    @Sendable func page(_ visit: Visit) async throws -> Response {
        try await render(visit, values: nil, error: nil, status: .ok)
    }

    private func render(_ visit: Visit, values: FormValues?, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let tenant = try visit.tenant()
        let loyalty = kit.services.loyalty
        var summary: LoyaltyConfigSummary?
        do {
            summary = try await loyalty.config(tenant: tenant)
        } catch ServiceError.notFound {
            summary = nil
        }
        let config = summary.map { summary in
            ConfigView(baseUrl: summary.baseUrl.isEmpty ? "(none: POS_LOYALTY_URL is not set)" : summary.baseUrl, maskedKey: summary.maskedApiKey,
                       timeout: Format.duration(ms: summary.timeoutMs),
                       inherited: summary.inherited.isEmpty ? nil : summary.inherited.joined(separator: ", "),
                       updatedAt: Format.time(summary.updatedAt))
        }
        let ownBaseUrl = summary.flatMap { $0.inherited.contains("baseUrl") ? nil : $0.baseUrl } ?? ""
        let ownTimeout = summary.flatMap { $0.inherited.contains("timeout") ? nil : "\($0.timeoutMs)ms" } ?? ""
        let calls = try await loyalty.transactions(tenant: tenant, filter: .init(limit: Self.callsShown))
        let inbound = try await kit.services.inbound.requests(tenant: tenant, limit: Self.inboundShown)
        let view = PageView(
            config: config, values: values ?? FormValues(baseUrl: ownBaseUrl, timeout: ownTimeout),
            calls: calls.map { call in
                CallRow(at: Format.time(call.at), operation: call.operation.rawValue, customerUuid: call.customerUuid ?? "—",
                        points: call.points.map(String.init) ?? "—", refCode: call.refCode ?? "—",
                        upstreamStatus: call.upstreamStatus.map(String.init) ?? "—", latency: Format.duration(ms: call.latencyMs),
                        status: call.status, outcome: call.outcome, bad: call.status >= 500)
            },
            inbound: inbound.map { request in
                InboundRow(receivedAt: Format.time(request.receivedAt), provider: request.provider, outcome: request.outcome,
                           statusCode: request.statusCode, orderId: request.orderId, detail: request.detail.map { SecretMask.excerpt($0, limit: 200) },
                           body: SecretMask.excerpt(request.body, limit: 200), bad: request.statusCode >= 400)
            },
            error: error, notice: Notice.text(visit.query("done")))
        return try kit.render("loyalty", title: "Loyalty", view: view, visit: visit, section: .loyalty, status: status)
    }

    struct SaveForm: Decodable {
        let baseUrl: String?
        let apiKey: String?
        let timeout: String?
    }

    @Sendable func save(_ visit: Visit) async throws -> Response {
        let tenant = try visit.tenant()
        let form = try visit.form(SaveForm.self)
        let values = FormValues(baseUrl: WebhookPages.trimmed(form.baseUrl), timeout: WebhookPages.trimmed(form.timeout))
        do {
            _ = try await kit.services.loyalty.putConfig(try Self.command(values, apiKey: form.apiKey), tenant: tenant)
        } catch let error as ServiceError {
            guard let message = WebhookPages.formMessage(error) else { throw error }
            return try await render(visit, values: values, error: message, status: .badRequest)
        }
        kit.logger.info("console saved loyalty configuration", metadata: ["tenant_id": .string(tenant.id)])
        return ConsoleKit.redirect(to: "\(Console.root)/loyalty?done=saved")
    }

    /// The form as `PUT /loyalty/config` takes it: blank base URL and timeout inherit the
    /// deployment's; a blank key keeps the stored one (whether there is one is the service's to say).
    static func command(_ values: FormValues, apiKey: String?) throws -> PutLoyaltyConfig {
        var timeoutMs: Int64?
        if !values.timeout.isEmpty {
            guard let value = DurationText.milliseconds(values.timeout) else {
                throw ServiceError.invalid(field: "timeout", message: "timeout must be a duration from 100ms to 60s, such as 500ms or 5s")
            }
            timeoutMs = value
        }
        return PutLoyaltyConfig(baseUrl: values.baseUrl.isEmpty ? nil : values.baseUrl,
                                apiKey: ConnectionPages.secret(apiKey), timeoutMs: timeoutMs)
    }

    @Sendable func delete(_ visit: Visit) async throws -> Response {
        try await kit.services.loyalty.deleteConfig(tenant: try visit.tenant())
        return ConsoleKit.redirect(to: "\(Console.root)/loyalty?done=deleted")
    }
}
