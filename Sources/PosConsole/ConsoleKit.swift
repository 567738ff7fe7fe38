import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import PosDomain
import PosHTTP
import PosServices

/// What every console page shares: the templates, the session check, the CSRF check on forms, the
/// security headers, and the one way a service failure becomes an error page.
struct ConsoleKit: Sendable {
    static let cookieName = "pos_console"

    let services: ConsoleServices
    let settings: ConsoleSettings
    let logger: Logger
    let views: MustacheLibrary

    init(services: ConsoleServices, settings: ConsoleSettings, logger: Logger) throws {
        self.services = services
        self.settings = settings
        self.logger = logger
        self.views = try Self.loadTemplates()
    }

    /// The templates bundled with the target, read once at start (no file is read per request).
    private static func loadTemplates() throws -> MustacheLibrary {
        guard let folder = Bundle.module.resourceURL?.appendingPathComponent("Templates") else {
            throw ConsoleSetupError("the console's templates are missing from the bundle")
        }
        var library = MustacheLibrary()
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".mustache") {
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            try library.register(text, named: String(name.dropLast(".mustache".count)))
        }
        return library
    }

    // MARK: Handlers

    typealias Handler = @Sendable (Request, PosRequestContext) async throws -> Response

    /// A page for a signed-in viewer; without a session, `303` to the sign-in page.
    func page(_ body: @escaping @Sendable (Visit) async throws -> Response) -> Handler {
        { request, context in
            try await presenting(request, context) {
                guard let visit = try await visit(request, context, formBody: nil) else { return signInRedirect(request) }
                return try await body(visit)
            }
        }
    }

    /// A form post that changes state: refused with `403` before anything runs unless it carries the
    /// session's CSRF token.
    func action(_ body: @escaping @Sendable (Visit) async throws -> Response) -> Handler {
        { request, context in
            try await presenting(request, context) {
                var request = request
                if let refused = try crossSiteRefusal(request) { return refused }
                let buffer = try await request.collectBody(upTo: settings.maxBodyBytes)
                let form = String(buffer: buffer)
                guard let visit = try await visit(request, context, formBody: form) else { return signInRedirect(request) }
                let token = (try? URLEncodedFormDecoder().decode(CSRFField.self, from: form))?.csrf
                guard visit.session.acceptsCSRFToken(token) else {
                    logger.notice("console form refused: missing or wrong CSRF token",
                                  metadata: ["path": .string(request.uri.path), "request_id": .string(context.requestId)])
                    return try errorPage(status: .forbidden, title: "Form refused",
                                         message: "This form did not carry this session's token, so nothing was changed. Reload the page and try again.",
                                         visit: visit)
                }
                if case .platformOperator(let principal, let tenant?) = visit.viewer {
                    // Operators acting inside a tenant leave a trail of what they changed there.
                    logger.notice("operator action in tenant", metadata: [
                        "operator_key_id": .stringConvertible(principal.key.operatorKeyId), "tenant_id": .string(tenant.id),
                        "method": .string(request.method.rawValue), "path": .string(request.uri.path),
                    ])
                }
                return try await body(visit)
            }
        }
    }

    /// Runs a handler and turns what it throws into a page: a service failure keeps the status the
    /// JSON API gives it (one mapping, in `APIError`).
    func presenting(_ request: Request, _ context: PosRequestContext, _ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let redirect as ConsoleRedirect {
            return Self.redirect(to: redirect.location)
        } catch let error as ServiceError {
            if case .unavailable(let reason) = error {
                logger.warning("dependency unavailable", metadata: ["reason": .string(reason)])
            }
            let api = APIError(error)
            return try errorPage(status: api.status, title: api.status.reasonPhrase, message: api.message,
                                 details: api.field.isEmpty ? api.details : "\(api.field): \(api.details)", visit: nil)
        } catch let error as ConsoleInputError {
            return try errorPage(status: .badRequest, title: "Bad Request", message: error.message, visit: nil)
        } catch {
            logger.error("console page failed", metadata: ["error": .string(String(describing: error)), "request_id": .string(context.requestId)])
            return try errorPage(status: .internalServerError, title: "Something went wrong",
                                 message: "The page could not be shown.", details: "request id \(context.requestId)", visit: nil)
        }
    }

    private func visit(_ request: Request, _ context: PosRequestContext, formBody: String?) async throws -> Visit? {
        guard let raw = request.cookies[Self.cookieName]?.value, let id = ConsoleSessionId(rawValue: raw) else { return nil }
        guard let viewer = try await services.sessions.resume(id, claim: claim(request)) else { return nil }
        return Visit(request: request, context: context, viewer: viewer, session: id, formBody: formBody, now: services.clock())
    }

    /// A form posted from another site: refused before anything is read. Browsers send `Origin`
    /// with every POST; it must name the host the console is served on. This also covers the
    /// sign-in form, which has no session (and so no CSRF token) yet.
    func crossSiteRefusal(_ request: Request) throws -> Response? {
        guard let origin = request.headers[.origin] else { return nil }
        // The host it was served on, or the public URL's (a proxy may rewrite Host).
        let accepted = [request.head.authority, settings.publicURL.flatMap(Self.authority)].compactMap { $0?.lowercased() }
        guard let host = Self.authority(origin)?.lowercased(), accepted.contains(host) else {
            logger.notice("console form refused: posted from another origin", metadata: ["origin": .string(String(origin.prefix(200)))])
            return try errorPage(status: .forbidden, title: "Form refused",
                                 message: "This form was posted from another site, so nothing was changed.", visit: nil)
        }
        return nil
    }

    /// `host[:port]` of a URL such as an `Origin`.
    static func authority(_ url: String) -> String? {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else { return nil }
        return components.port.map { "\(host):\($0)" } ?? host
    }

    func claim(_ request: Request) -> TenantClaim {
        TenantClaim(host: request.head.authority, tenantHeader: nil, baseDomain: settings.baseDomain)
    }

    private func signInRedirect(_ request: Request) -> Response {
        Self.redirect(to: "\(Console.root)/sign-in")
    }

    // MARK: Responses

    static func redirect(to location: String) -> Response {
        var response = Response(status: .seeOther, headers: [.location: location])
        response.headers.append(contentsOf: securityHeaders)
        return response
    }

    /// Every console answer carries these: no script but our own file, no framing, no caching of
    /// pages that show tenant data.
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        .xFrameOptions: "DENY",
        .xContentTypeOptions: "nosniff",
        .referrerPolicy: "same-origin",
        .cacheControl: "no-store",
    ]

    /// Renders `template` inside the layout. `view` is read by the template through reflection;
    /// every value in it is HTML-escaped by the `{{name}}` tags (the templates use no raw tags but
    /// the server-drawn chart's).
    func render(_ template: String, title: String, view: Any, visit: Visit?, section: ConsoleSection? = nil,
                status: HTTPResponse.Status = .ok) throws -> Response {
        let chrome = Chrome(title: title, visit: visit, section: section)
        guard let html = views.render(Frame(chrome: chrome, page: view), withTemplate: template) else {
            throw ConsoleSetupError("no template named \(template)")
        }
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    func errorPage(status: HTTPResponse.Status, title: String, message: String, details: String = "", visit: Visit?) throws -> Response {
        try render("error", title: title, view: ErrorView(status: Int(status.code), title: title, message: message,
                                                          details: details.isEmpty ? nil : details),
                   visit: visit, status: status)
    }

    struct ErrorView {
        let status: Int
        let title: String
        let message: String
        let details: String?
    }
}

/// One request of a signed-in viewer.
struct Visit: Sendable {
    let request: Request
    let context: PosRequestContext
    let viewer: ConsoleViewer
    let session: ConsoleSessionId
    let formBody: String?
    let now: Int64

    /// The tenant the page is about; an operator on the platform view is sent to pick one.
    func tenant() throws -> Tenant {
        guard let tenant = viewer.tenant else { throw ConsoleRedirect(location: "\(Console.root)/tenants") }
        return tenant
    }

    func query(_ name: String) -> String? {
        guard let value = request.uri.queryParameters[Substring(name)].map(String.init), !value.isEmpty else { return nil }
        return value
    }

    func parameter(_ name: String) throws -> String {
        try context.parameters.require(name)
    }

    /// The posted form, decoded; a malformed form is a `400` page.
    func form<Form: Decodable>(_ type: Form.Type) throws -> Form {
        do {
            return try URLEncodedFormDecoder().decode(Form.self, from: formBody ?? "")
        } catch {
            throw ConsoleInputError(message: "The form could not be read: \(Self.describe(error))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.keyNotFound(let key, _) = error { return "\(key.stringValue) is missing" }
        if case DecodingError.typeMismatch(_, let context) = error { return "\(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type" }
        if case DecodingError.dataCorrupted(let context) = error { return "\(context.codingPath.map(\.stringValue).joined(separator: ".")) is not valid" }
        return "it is malformed"
    }
}

/// The hidden field every state-changing form carries.
struct CSRFField: Decodable {
    let csrf: String?

    enum CodingKeys: String, CodingKey {
        case csrf = "_csrf"
    }
}

/// Thrown by a handler to answer `303 See Other`.
struct ConsoleRedirect: Error {
    let location: String
}

struct ConsoleInputError: Error {
    let message: String
}

struct ConsoleSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The navigation's sections.
enum ConsoleSection: String, CaseIterable {
    case overview, orders, deadLetters, webhooks, connections, outlets, keys, loyalty, tenants

    var label: String {
        switch self {
        case .overview: "Overview"
        case .orders: "Orders"
        case .deadLetters: "Dead letters"
        case .webhooks: "Webhooks"
        case .connections: "POS connections"
        case .outlets: "Outlets"
        case .keys: "API keys"
        case .loyalty: "Loyalty"
        case .tenants: "Tenants"
        }
    }

    var path: String {
        switch self {
        case .overview: Console.root
        case .orders: "\(Console.root)/orders"
        case .deadLetters: "\(Console.root)/dead-letters"
        case .webhooks: "\(Console.root)/webhooks"
        case .connections: "\(Console.root)/connections"
        case .outlets: "\(Console.root)/outlets"
        case .keys: "\(Console.root)/keys"
        case .loyalty: "\(Console.root)/loyalty"
        case .tenants: "\(Console.root)/tenants"
        }
    }
}

/// The layout's data: title, navigation, who is signed in, and the CSRF token its forms carry.
struct Chrome {
    struct NavItem {
        let label: String
        let path: String
        let current: Bool
    }

    let title: String
    let signedIn: Bool
    let nav: [NavItem]
    let viewerLabel: String
    let tenantName: String?
    let isOperator: Bool
    let csrf: String

    init(title: String, visit: Visit?, section: ConsoleSection?) {
        self.title = title
        guard let visit else {
            signedIn = false
            nav = []
            viewerLabel = ""
            tenantName = nil
            isOperator = false
            csrf = ""
            return
        }
        signedIn = true
        csrf = visit.session.csrfToken
        isOperator = visit.viewer.isOperator
        tenantName = visit.viewer.tenant.map { "\($0.name) (\($0.subdomain))" }
        let tenantSections: [ConsoleSection] = [.overview, .orders, .deadLetters, .webhooks, .connections, .outlets, .keys, .loyalty]
        var sections: [ConsoleSection] = visit.viewer.tenant == nil ? [] : tenantSections
        if isOperator { sections.append(.tenants) }
        nav = sections.map { NavItem(label: $0.label, path: $0.path, current: $0 == section) }
        switch visit.viewer {
        case .tenantAdmin(let principal): viewerLabel = "admin key \(principal.key.apiKeyId)"
        case .platformOperator(let principal, _): viewerLabel = "operator key \(principal.key.operatorKeyId)"
        }
    }
}

/// What a page template is rendered with: the layout's data and the page's own.
struct Frame {
    let chrome: Chrome
    let page: Any
}

extension HTTPField.Name {
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
