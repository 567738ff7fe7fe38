import Foundation
import Hummingbird
import PosDomain
@testable import PosHTTP
import Testing

/// Authentication and scopes are route-group middleware: these tests walk the route table (and
/// the OpenAPI document) and call every route, so a route added outside its group fails here.
@Suite("Authentication at the edge")
struct EdgeAuthTests {
    /// The only routes anyone may call. Adding one is a decision, made here.
    static let publicRoutes = Set(["GET /health", "GET /ready", "GET /openapi.json", "GET /api/v1/webhooks/events"]).union(posSignedRoutes)
        .union(oauthCallbackRoutes).union(metricsRoutes)
    /// Public to API keys, scraped by Prometheus: open, or behind `POS_METRICS_TOKEN` as a bearer token (401 without it).
    static let metricsRoutes: Set<String> = ["GET /metrics"]
    /// Public to API keys, called by a POS: its connection token and its own signature authenticate it (401 when they do not).
    static let posSignedRoutes: Set<String> = ["POST /api/v1/inbound/{provider}/order-status/{connectionToken}"]
    /// Public to API keys, reached by the merchant's browser from the POS's OAuth consent: the single-use
    /// `state` proves the tenant (400 without a valid one).
    static let oauthCallbackRoutes: Set<String> = ["GET /api/v1/oauth/lightspeed/callback"]

    @Test("every route but the public ones answers the one 401 without a key or with a bad one")
    func everyRouteNeedsAKey() async throws {
        try await withTestService { service in
            let declaredPublic = Set(service.routes.routes.filter { $0.access == .public }.map(Self.name))
            #expect(declaredPublic == Self.publicRoutes)
            let routes = Set(service.routes.routes.map(Self.name)).union(try await Self.documentedRoutes(service))
            let offenders = try await Self.routesOpenWithoutKey(routes.subtracting(Self.publicRoutes), service: service)
            #expect(offenders.isEmpty, "answered without a valid key: \(offenders)")
            for route in Self.publicRoutes.subtracting(Self.oauthCallbackRoutes).sorted() where route.hasPrefix("GET ") {
                let (method, path) = Self.request(route)
                #expect(try await service.call(method, path).status == 200, "\(route)")
            }
            for route in Self.oauthCallbackRoutes.sorted() {
                let (method, path) = Self.request(route)
                #expect(try await service.call(method, path).status == 400, "\(route) without a state")
            }
        }
    }

    @Test("each route lets exactly the scopes its group names pass; the rest get 403")
    func scopesPerRoute() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let keys: [(APIScope, String)] = [(.internal, acme.internalKey), (.partner, acme.partnerKey), (.admin, acme.adminKey)]
            for route in service.routes.routes {
                guard case .apiKey(let scopes) = route.access else { continue }
                let (method, path) = Self.request(Self.name(route))
                for (scope, key) in keys {
                    let reply = try await service.call(method, path, key: key, json: Self.body(method))
                    if scopes?.contains(scope) ?? true {
                        // A 403 of the route's own rules (an admin key rotating a key with scopes it lacks) is not the group's.
                        let groupRefusal = reply.status == 403 && reply.error["message"] as? String == "this API key lacks the required scope"
                        #expect(reply.status != 401 && !groupRefusal, "\(Self.name(route)) refused scope \(scope): \(reply.text)")
                    } else {
                        #expect(reply.status == 403, "\(Self.name(route)) let scope \(scope) pass: \(reply.status)")
                        #expect(reply.error["message"] as? String == "this API key lacks the required scope")
                    }
                }
            }
        }
    }

    @Test("the walk catches a route registered outside the authenticated groups")
    func unprotectedRouteIsCaught() async throws {
        try await withTestService { service in
            let (router, table) = PosRouter.build(services: service.services.api, settings: EdgeSettings())
            // Registered on the open group while the table claims a scope: the mistake the walk must find.
            RouteRegistrar(group: router.group(), table: table, access: .apiKey(scopes: [.admin]))
                .get("/api/v1/leak") { _, _ in JSONResponse(["leaked": true]) }
            let server = try await LiveServer.start(router: router)
            let routes = Set(table.routes.map(Self.name)).subtracting(Self.publicRoutes)
            let offenders = try await Self.routesOpenWithoutKey(routes, service: service, port: server.port)
            await server.stop()
            #expect(offenders == ["GET /api/v1/leak"])
        }
    }

    @Test("a route in the authenticated context without the authenticator refuses everyone")
    func childContextNeedsTheAuthenticator() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let router = Router(context: PosRequestContext.self)
            router.add(middleware: ErrorEnvelopeMiddleware(routes: RouteTable(maxBodyBytes: 1024)))
            router.group(context: AuthenticatedContext.self).get("/api/v1/forgotten") { _, context in context.principal.tenant.id }
            let server = try await LiveServer.start(router: router)
            let reply = try await service.call("GET", "/api/v1/forgotten", key: acme.adminKey, port: server.port)
            await server.stop()
            #expect(reply.status == 401)
            #expect(reply.error["message"] as? String == APIError.unauthorized.message)
        }
    }

    @Test("the OpenAPI document states each route's access as its group enforces it")
    func documentedAccess() async throws {
        try await withTestService { service in
            let paths = try #require(try await service.call("GET", "/openapi.json").json["paths"] as? [String: [String: Any]])
            for route in service.routes.routes {
                let operation = try #require(paths[route.path]?[route.method.rawValue.lowercased()] as? [String: Any], "\(Self.name(route))")
                let security = operation["security"] as? [Any] ?? []
                let responses = operation["responses"] as? [String: Any] ?? [:]
                let description = operation["description"] as? String ?? ""
                switch route.access {
                case .public:
                    #expect(security.isEmpty && (responses["401"] == nil || Self.posSignedRoutes.union(Self.metricsRoutes).contains(Self.name(route))),
                            "\(Self.name(route)) is public")
                case .apiKey(let scopes):
                    #expect(!security.isEmpty && responses["401"] != nil, "\(Self.name(route)) needs a key")
                    #expect(Self.documentedScopes(description) == scopes, "\(Self.name(route)): \(description)")
                    #expect((responses["403"] != nil) == (scopes != nil), "\(Self.name(route)) documents its 403")
                }
            }
        }
    }

    /// The scopes named in a description's "**Requires scope `a` or `b`**"; nil when it names none.
    static func documentedScopes(_ description: String) -> Set<APIScope>? {
        guard let start = description.range(of: "**Requires scope "),
              let end = description.range(of: "**", range: start.upperBound..<description.endIndex)
        else { return nil }
        let names = description[start.upperBound..<end.lowerBound].split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }
        return Set(names.compactMap { APIScope(rawValue: String($0.element)) })
    }

    // MARK: Walking the routes

    static func name(_ route: RouteTable.Route) -> String { "\(route.method.rawValue) \(route.path)" }

    /// A concrete request for `METHOD /path/{param}`: every parameter is `1`.
    static func request(_ route: String) -> (method: String, path: String) {
        let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
        let path = parts[1].split(separator: "/").map { $0.hasPrefix("{") ? "1" : String($0) }.joined(separator: "/")
        return (parts[0], "/" + path)
    }

    /// An empty JSON object where a body may be expected, so a route answers on its own terms.
    static func body(_ method: String) -> [UInt8]? {
        ["POST", "PUT", "PATCH"].contains(method) ? Array("{}".utf8) : nil
    }

    static func documentedRoutes(_ service: TestService) async throws -> Set<String> {
        let paths = try #require(try await service.call("GET", "/openapi.json").json["paths"] as? [String: [String: Any]])
        let methods: Set<String> = ["get", "put", "post", "delete", "patch"]
        return Set(paths.flatMap { path, operations in
            operations.keys.filter(methods.contains).map { "\($0.uppercased()) \(path)" }
        })
    }

    /// The routes that answer anything but the one 401 body without a key, or with a key that
    /// does not exist.
    static func routesOpenWithoutKey(_ routes: Set<String>, service: TestService, port: Int? = nil) async throws -> [String] {
        let unauthorized = try await service.call("GET", "/api/v1/auth/whoami").text
        let unknownKey = APIKeyToken(apiKeyId: 999_999, secret: APIKeyToken.generateSecret()).rawValue
        var open: [String] = []
        for route in routes.sorted() {
            let (method, path) = request(route)
            for key in [nil, unknownKey] {
                let reply = try await service.call(method, path, key: key, json: body(method), port: port)
                if reply.status != 401 || reply.text != unauthorized {
                    open.append(route)
                    break
                }
            }
        }
        return open
    }
}
