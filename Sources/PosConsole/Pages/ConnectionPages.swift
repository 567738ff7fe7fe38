import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import PosHTTP
import PosServices

/// `/console/connections`: the tenant's POS credentials (secrets write-only, shown masked), their
/// health, a live test, Lightspeed's authorization, the POS's own outlets and mapping one of ours
/// to one of them.
struct ConnectionPages: Sendable {
    let kit: ConsoleKit

    func register(on router: Router<PosRequestContext>) {
        router.get("\(Console.root)/connections", use: kit.page(list))
        router.post("\(Console.root)/connections", use: kit.action(save))
        router.get("\(Console.root)/connections/:slug", use: kit.page(detail))
        router.post("\(Console.root)/connections/:slug", use: kit.action(save))
        router.post("\(Console.root)/connections/:slug/test", use: kit.action(test))
        router.post("\(Console.root)/connections/:slug/connect", use: kit.action(connect))
        router.post("\(Console.root)/connections/:slug/delete", use: kit.action(delete))
        router.get("\(Console.root)/connections/:slug/remote-outlets", use: kit.page(remoteOutlets))
        router.post("\(Console.root)/connections/:slug/map", use: kit.action(map))
    }

    // MARK: Views

    struct ConnectionRow {
        let slug: String
        let status: String
        let needsReauthorization: Bool
        let capabilities: String
        let maskedKey: String
        let hasSecret: Bool
        let hasWebhookSecret: Bool
        let inboundUrl: String?
        let baseUrl: String
        let webhookUrl: String
        let config: String
        let usesOAuth: Bool
        let active: Bool
        let updatedAt: String
    }

    private func row(_ connection: ProviderConnection, visit: Visit) -> ConnectionRow {
        let providers = kit.services.providers
        let inboundUrl = providers.receivesStatusWebhooks(connection.slug)
            ? "\(origin(visit.request))/api/v1/inbound/\(connection.slug)/order-status/\(connection.connectionToken)"
            : nil
        return ConnectionRow(
            slug: connection.slug, status: connection.status,
            needsReauthorization: connection.status == CredentialProvider.reauthorizationRequired,
            capabilities: providers.capabilities(connection.slug).joined(separator: ", "), maskedKey: providers.maskedKey(connection),
            hasSecret: providers.hasSecret(connection), hasWebhookSecret: connection.sealedWebhookSecret != nil, inboundUrl: inboundUrl,
            baseUrl: connection.baseUrl, webhookUrl: connection.webhookUrl, config: (JSONValue(parsing: connection.config) ?? .object([])).pretty,
            usesOAuth: connection.slug == Self.oauthProvider, active: connection.status == "active", updatedAt: Format.time(connection.updatedAt))
    }

    /// The one POS that is connected by the merchant's approval (OAuth authorization code).
    static let oauthProvider = "lightspeed"

    /// `POS_PUBLIC_URL`, or the scheme and host this request came in on, as the API's `inboundUrl`.
    private func origin(_ request: Request) -> String {
        if let publicURL = kit.settings.publicURL { return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL }
        let forwardedProto = HTTPField.Name("X-Forwarded-Proto").flatMap { request.headers[$0] }
        return "\(forwardedProto ?? request.head.scheme ?? "http")://\(request.head.authority ?? "localhost")"
    }

    struct FormValues {
        let slug: String
        let status: String
        let baseUrl: String
        let webhookUrl: String
        let config: String
        /// Whether the connection is stored already: then a blank secret keeps the stored one.
        let exists: Bool
    }

    struct ProviderOption {
        let slug: String
        let selected: Bool
    }

    struct StatusOption {
        let value: String
        let selected: Bool
    }

    struct ListView {
        let connections: [ConnectionRow]
        let providers: [ProviderOption]
        let statuses: [StatusOption]
        let values: FormValues
        let error: String?
        let notice: String?
    }

    @Sendable func list(_ visit: Visit) async throws -> Response {
        try await renderList(visit, values: FormValues(slug: "", status: "active", baseUrl: "", webhookUrl: "", config: "{}", exists: false), error: nil, status: .ok)
    }

    private func renderList(_ visit: Visit, values: FormValues, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let connections = try await kit.services.providers.connections(tenant: try visit.tenant())
        let view = ListView(
            connections: connections.map { row($0, visit: visit) },
            providers: kit.services.providers.providerSlugs.map { ProviderOption(slug: $0, selected: $0 == values.slug) },
            statuses: Self.statusOptions(values.status), values: values, error: error, notice: Notice.text(visit.query("done")))
        return try kit.render("connections", title: "POS connections", view: view, visit: visit, section: .connections, status: status)
    }

    static func statusOptions(_ current: String) -> [StatusOption] {
        PutProviderConnection.statuses.map { StatusOption(value: $0, selected: $0 == current) }
    }

    struct TestView {
        let success: Bool
        let message: String
    }

    struct DetailView {
        let connection: ConnectionRow
        let statuses: [StatusOption]
        let values: FormValues
        let test: TestView?
        let error: String?
        let notice: String?
    }

    @Sendable func detail(_ visit: Visit) async throws -> Response {
        try await renderDetail(visit, test: nil, values: nil, error: nil, status: .ok)
    }

    private func renderDetail(_ visit: Visit, test: TestView?, values: FormValues?, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let connection = try await kit.services.providers.connection(slug: try visit.parameter("slug"), tenant: try visit.tenant())
        let shown = row(connection, visit: visit)
        let values = values ?? FormValues(slug: shown.slug, status: connection.status, baseUrl: connection.baseUrl, webhookUrl: connection.webhookUrl,
                                          config: shown.config, exists: true)
        let view = DetailView(connection: shown, statuses: Self.statusOptions(values.status), values: values, test: test, error: error,
                              notice: Notice.text(visit.query("done")))
        return try kit.render("connection", title: "POS connection \(connection.slug)", view: view, visit: visit, section: .connections,
                              status: status)
    }

    // MARK: Save

    /// Secrets are never shown, so a blank secret field keeps the stored one.
    struct SaveForm: Decodable {
        let slug: String?
        let status: String?
        let apiKey: String?
        let apiSecret: String?
        let webhookSecret: String?
        let removeWebhookSecret: String?
        let baseUrl: String?
        let webhookUrl: String?
        let config: String?
    }

    @Sendable func save(_ visit: Visit) async throws -> Response {
        let tenant = try visit.tenant()
        let form = try visit.form(SaveForm.self)
        let editing = visit.context.parameters.get("slug")
        let slug = editing ?? WebhookPages.trimmed(form.slug)
        let values = FormValues(slug: slug, status: WebhookPages.trimmed(form.status), baseUrl: WebhookPages.trimmed(form.baseUrl),
                                webhookUrl: WebhookPages.trimmed(form.webhookUrl), config: form.config ?? "", exists: editing != nil)
        do {
            let command = try Self.command(values, form: form)
            guard !slug.isEmpty else { throw ServiceError.invalid(field: "slug", message: "choose the POS") }
            let saved = try await kit.services.providers.putConnection(slug: slug, command, tenant: tenant)
            kit.logger.info("console saved provider connection", metadata: ["tenant_id": .string(tenant.id), "slug": .string(saved.slug)])
            return ConsoleKit.redirect(to: "\(Console.root)/connections/\(QueryString.escapePath(saved.slug))?done=saved")
        } catch let error as ServiceError {
            guard let message = WebhookPages.formMessage(error) else { throw error }
            if editing != nil { return try await renderDetail(visit, test: nil, values: values, error: message, status: .badRequest) }
            return try await renderList(visit, values: values, error: message, status: .badRequest)
        }
    }

    /// The form as `PUT /provider-connections/{slug}` takes it; whether the key may be left out (an
    /// update) and what config the POS takes are the service's to say.
    static func command(_ values: FormValues, form: SaveForm) throws -> PutProviderConnection {
        let configText = values.config.trimmingCharacters(in: .whitespacesAndNewlines)
        let config: JSONValue
        if configText.isEmpty {
            config = .object([])
        } else {
            guard let parsed = JSONValue(parsing: configText), case .object = parsed else {
                throw ServiceError.invalid(field: "config", message: "config must be a JSON object")
            }
            config = parsed
        }
        let webhookSecret: SecretChange
        if form.removeWebhookSecret == "on" {
            webhookSecret = .remove
        } else if let secret = secret(form.webhookSecret) {
            webhookSecret = .set(secret)
        } else {
            webhookSecret = .keep
        }
        return PutProviderConnection(status: values.status, apiKey: secret(form.apiKey),
                                     apiSecret: secret(form.apiSecret), webhookUrl: values.webhookUrl,
                                     baseUrl: values.baseUrl, config: config, webhookSecret: webhookSecret)
    }

    /// A write-only field: blank keeps the stored value (nil).
    static func secret(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }

    // MARK: Calls to the POS

    @Sendable func test(_ visit: Visit) async throws -> Response {
        let result = try await kit.services.providers.testConnection(slug: try visit.parameter("slug"), tenant: try visit.tenant())
        // The POS's words: masked and cut short like every third-party text.
        return try await renderDetail(visit, test: TestView(success: result.success, message: SecretMask.excerpt(result.message)),
                                      values: nil, error: nil, status: .ok)
    }

    /// Lightspeed: the merchant approves the connection on Lightspeed's site, which calls back the
    /// API's `/oauth/lightspeed/callback`.
    struct ContinueView {
        let message: String
        let url: String
        let label: String
        let hint: String
    }

    /// Starts the OAuth authorization and shows a link to the POS's consent page rather than
    /// redirecting to it: browsers hold the redirect of a form post to the page's `form-action`
    /// policy, which allows only the console itself.
    @Sendable func connect(_ visit: Visit) async throws -> Response {
        let slug = try visit.parameter("slug")
        let url = try await kit.services.providers.startAuthorization(slug: slug, tenant: try visit.tenant())
        let view = ContinueView(message: "Approve this service in \(slug)'s own page; it sends you back here when done.", url: url,
                                label: "Continue to \(slug)", hint: "The link works once, for 10 minutes.")
        return try kit.render("continue", title: "Connect \(slug)", view: view, visit: visit, section: .connections)
    }

    @Sendable func delete(_ visit: Visit) async throws -> Response {
        _ = try await kit.services.providers.deleteConnection(slug: try visit.parameter("slug"), tenant: try visit.tenant())
        return ConsoleKit.redirect(to: "\(Console.root)/connections?done=deleted")
    }

    struct RemoteOutletRow {
        let id: String
        let name: String
        let address: String?
        /// This page again with the mapping form filled in with the POS's id.
        let mapLink: String
    }

    struct RemoteOutletsView {
        let slug: String
        let outlets: [RemoteOutletRow]
        let outletId: String
        let externalId: String
        let settings: String
        let error: String?
    }

    static let remoteOutletsShown = 200

    @Sendable func remoteOutlets(_ visit: Visit) async throws -> Response {
        let slug = try visit.parameter("slug")
        let outlets = try await kit.services.providers.remoteOutlets(slug: slug, tenant: try visit.tenant())
        return try renderRemote(visit, slug: slug, outlets: outlets.prefix(Self.remoteOutletsShown).map {
            RemoteOutletRow(id: $0.id, name: $0.name, address: $0.address,
                            mapLink: "\(Console.root)/connections/\(QueryString.escapePath(slug))/remote-outlets?"
                                + QueryString.encode([("externalId", $0.id)]) + "#map-outlet")
        }, values: (visit.query("outletId") ?? "", visit.query("externalId") ?? "", "{}"), error: nil, status: .ok)
    }

    private func renderRemote(_ visit: Visit, slug: String, outlets: [RemoteOutletRow], values: (String, String, String), error: String?,
                              status: HTTPResponse.Status) throws -> Response {
        let view = RemoteOutletsView(slug: slug, outlets: outlets, outletId: values.0, externalId: values.1, settings: values.2, error: error)
        return try kit.render("remote-outlets", title: "\(slug) outlets", view: view, visit: visit, section: .connections, status: status)
    }

    struct MapForm: Decodable {
        let outletId: String?
        let externalId: String?
        let settings: String?
    }

    @Sendable func map(_ visit: Visit) async throws -> Response {
        let slug = try visit.parameter("slug")
        let form = try visit.form(MapForm.self)
        let outletId = WebhookPages.trimmed(form.outletId)
        let externalId = WebhookPages.trimmed(form.externalId)
        let settingsText = (form.settings ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            let settings: JSONValue
            if settingsText.isEmpty {
                settings = .object([])
            } else {
                guard let parsed = JSONValue(parsing: settingsText), case .object = parsed else {
                    throw ServiceError.invalid(field: "settings", message: "settings must be a JSON object")
                }
                settings = parsed
            }
            _ = try await kit.services.providers.putOutletProvider(
                outletId: outletId, PutOutletProvider(providerSlug: slug, externalId: externalId, settings: settings), tenant: try visit.tenant())
        } catch let error as ServiceError {
            guard let message = WebhookPages.formMessage(error) else { throw error }
            return try renderRemote(visit, slug: slug, outlets: [], values: (outletId, externalId, settingsText), error: message, status: .badRequest)
        }
        return ConsoleKit.redirect(to: "\(Console.root)/connections/\(QueryString.escapePath(slug))?done=mapped")
    }
}
