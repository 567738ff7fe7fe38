import Hummingbird
import PosConnectors
import PosDomain
import PosServices

/// Provider connections and outlet mappings (scope `admin`): what built-in transformers need.
struct ProviderRoutes {
    let reader: RequestReader
    let providers: ProviderService

    struct Saved: Encodable {
        let code: Int
        let isSuccess: Bool
        let message: String
        let connection: ConnectionView
    }

    struct List: Encodable {
        let connections: [ConnectionView]
    }

    struct Deleted: Encodable {
        let code: Int
        let isSuccess: Bool
        let message: String
        let outletMappingsRemoved: Int
    }

    struct RemoteOutlets: Encodable {
        let outlets: [RemoteOutlet]
    }

    struct Mapped: Encodable {
        let code: Int
        let isSuccess: Bool
        let message: String
        let outletProvider: OutletProviderView
    }

    func register(on router: Router<PosRequestContext>, table: RouteTable) {
        let connectionPath = "/api/v1/provider-connections/{slug}"
        router.get(table.record(.get, "/api/v1/provider-connections")) { request, _ in
            let principal = try await reader.principal(request, anyOf: [.admin])
            return JSONResponse(List(connections: try await providers.connections(tenant: principal.tenant).map(view)))
        }
        router.put(table.record(.put, connectionPath)) { request, context in
            let principal = try await reader.principal(request, anyOf: [.admin])
            let slug = try context.parameters.require("slug")
            let connection = try await providers.putConnection(slug: slug, body: try await reader.jsonBody(request), tenant: principal.tenant)
            let created = connection.createdAt == connection.updatedAt
            return JSONResponse(Saved(code: 200, isSuccess: true, message: created ? "provider connection created" : "provider connection updated",
                                      connection: view(connection)))
        }
        router.get(table.record(.get, connectionPath)) { request, context in
            let principal = try await reader.principal(request, anyOf: [.admin])
            return JSONResponse(view(try await providers.connection(slug: try context.parameters.require("slug"), tenant: principal.tenant)))
        }
        router.delete(table.record(.delete, connectionPath)) { request, context in
            let principal = try await reader.principal(request, anyOf: [.admin])
            let removed = try await providers.deleteConnection(slug: try context.parameters.require("slug"), tenant: principal.tenant)
            return JSONResponse(Deleted(code: 200, isSuccess: true, message: "provider connection deleted", outletMappingsRemoved: removed))
        }
        router.post(table.record(.post, connectionPath + "/test")) { request, context in
            let principal = try await reader.principal(request, anyOf: [.admin])
            return JSONResponse(try await providers.testConnection(slug: try context.parameters.require("slug"), tenant: principal.tenant))
        }
        router.get(table.record(.get, connectionPath + "/remote-outlets")) { request, context in
            let principal = try await reader.principal(request, anyOf: [.admin])
            return JSONResponse(RemoteOutlets(outlets: try await providers.remoteOutlets(slug: try context.parameters.require("slug"),
                                                                                        tenant: principal.tenant)))
        }
        let outletPath = "/api/v1/outlet-providers/{outletId}"
        router.put(table.record(.put, outletPath)) { request, context in
            let principal = try await reader.principal(request, anyOf: [.admin])
            let mapping = try await providers.putOutletProvider(outletId: try context.parameters.require("outletId"),
                                                                body: try await reader.jsonBody(request), tenant: principal.tenant)
            return JSONResponse(Mapped(code: 200, isSuccess: true, message: "outlet mapped to \(mapping.providerSlug)",
                                       outletProvider: OutletProviderView(mapping)))
        }
        router.get(table.record(.get, outletPath)) { request, context in
            let principal = try await reader.principal(request, anyOf: [.admin])
            return JSONResponse(OutletProviderView(try await providers.outletProvider(outletId: try context.parameters.require("outletId"),
                                                                                       tenant: principal.tenant)))
        }
    }

    private func view(_ connection: ProviderConnection) -> ConnectionView {
        ConnectionView(slug: connection.slug, status: connection.status, apiKey: providers.maskedKey(connection),
                       apiSecret: providers.hasSecret(connection) ? "****" : "", webhookUrl: connection.webhookUrl, baseUrl: connection.baseUrl,
                       config: JSONValue(parsing: connection.config) ?? .object([]), capabilities: providers.capabilities(connection.slug),
                       createdAt: connection.createdAt.rfc3339, updatedAt: connection.updatedAt.rfc3339)
    }
}

/// A provider connection as the API shows it: secrets masked, never returned.
struct ConnectionView: Encodable {
    let slug: String
    let status: String
    let apiKey: String
    let apiSecret: String
    let webhookUrl: String
    let baseUrl: String
    let config: JSONValue
    let capabilities: [String]
    let createdAt: String
    let updatedAt: String
}

struct OutletProviderView: Encodable {
    let outletId: String
    let providerSlug: String
    let externalId: String
    let settings: JSONValue
    let createdAt: String
    let updatedAt: String

    init(_ mapping: OutletProvider) {
        outletId = mapping.outletId
        providerSlug = mapping.providerSlug
        externalId = mapping.externalId
        settings = JSONValue(parsing: mapping.settings) ?? .object([])
        createdAt = mapping.createdAt.rfc3339
        updatedAt = mapping.updatedAt.rfc3339
    }
}
