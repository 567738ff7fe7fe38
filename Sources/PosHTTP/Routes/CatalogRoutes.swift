import Hummingbird
import PosDomain
import PosServices

/// Outlets and products. Answers are the bare objects the original service returned (no envelope),
/// written from ``JSONValue`` so prices and coordinates keep their exact digits.
struct CatalogRoutes: Sendable {
    let body: JSONBodyDecoder
    let catalog: CatalogService
    let clock: ServiceClock

    // MARK: Outlets

    func createOutlet(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let command = try await body.decode(CreateOutlet.self, from: request)
        let outlet = try await catalog.createOutlet(command.input, provider: try ProviderHeader.read(request), tenant: context.principal.tenant)
        return ExactJSON(outlet.json(at: clock()), status: .created)
    }

    func syncOutlet(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let command = try await body.decode(SyncOutlet.self, from: request)
        let synced = try await catalog.syncOutlet(command.input, provider: try ProviderHeader.read(request), tenant: context.principal.tenant)
        return ExactJSON(.object([("action", .string(synced.action.rawValue)), ("outlet", synced.outlet.json(at: clock()))]))
    }

    func outlets(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let query = try PageQuery(query: request.uri.queryParameters)
        let page = try await catalog.outlets(query, provider: try ProviderHeader.read(request), tenant: context.principal.tenant)
        let now = clock()
        return ExactJSON(.object([("outlets", .array(page.outlets.map { $0.json(at: now) })),
                                  ("nextCursor", page.nextCursor.map(JSONValue.string) ?? .null)]))
    }

    func outlet(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let outlet = try await catalog.outlet(id: try ProviderRoutes.outletId(context), provider: try ProviderHeader.read(request),
                                              tenant: context.principal.tenant)
        return ExactJSON(outlet.json(at: clock()))
    }

    func status(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let outletId = try ProviderRoutes.outletId(context)
        let command = try await body.decode(ChangeOutletStatus.self, from: request)
        return try await change(outletId, command.command, request, context)
    }

    func busy(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let outletId = try ProviderRoutes.outletId(context)
        let command = try await body.decode(ChangeOutletBusy.self, from: request)
        return try await change(outletId, command.command, request, context)
    }

    private func change(_ outletId: String, _ command: OutletStateCommand, _ request: Request, _ context: AuthenticatedContext) async throws -> ExactJSON {
        let result = try await catalog.changeState(outletId: outletId, command, provider: try ProviderHeader.read(request), tenant: context.principal.tenant)
        return ExactJSON(result.outlet.json(at: clock()))
    }

    // MARK: Products

    func syncProducts(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let command = try await body.decode(SyncProducts.self, from: request)
        let result = try await catalog.syncProducts(command.products, provider: try ProviderHeader.read(request), tenant: context.principal.tenant)
        let summary = result.summary
        return ExactJSON(.object([
            ("summary", .object([("created", .integer(summary.created)), ("updated", .integer(summary.updated)),
                                 ("deleted", .integer(summary.deleted)), ("unchanged", .integer(summary.unchanged))])),
            ("products", .array(result.actions.map { .object([("itemCode", .string($0.itemCode)), ("action", .string($0.action.rawValue))]) })),
        ]))
    }

    func products(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let query = try ProductQuery(query: request.uri.queryParameters)
        let page = try await catalog.products(query, provider: try ProviderHeader.read(request), tenant: context.principal.tenant)
        return ExactJSON(.object([("provider", .string(page.provider)), ("products", .array(page.products.map(Self.view))),
                                  ("nextCursor", page.nextCursor.map(JSONValue.string) ?? .null)]))
    }

    func product(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let itemCode = try context.parameters.require("itemCode")
        guard itemCode.utf8.count <= DispatchValidator.maxIdentifierLength else {
            throw ServiceError.invalid(field: "itemCode", message: "itemCode must be at most \(DispatchValidator.maxIdentifierLength) bytes")
        }
        let product = try await catalog.product(itemCode: itemCode, provider: try ProviderHeader.read(request), tenant: context.principal.tenant)
        return ExactJSON(Self.view(product))
    }

    /// The product's document with its provider and times.
    static func view(_ product: StoredProduct) -> JSONValue {
        guard case .object(let members) = product.document else { return product.document }
        return .object(members + [
            ("provider", .string(product.provider)),
            ("createdAt", .string(product.createdAt.rfc3339)),
            ("updatedAt", .string(product.updatedAt.rfc3339)),
            ("deletedAt", product.deletedAt.map { .string($0.rfc3339) } ?? .null),
        ])
    }
}

/// A JSON answer written as ``JSONValue`` serialises it: numbers exactly as their text, never a `Double`.
struct ExactJSON: ResponseGenerator {
    let value: JSONValue
    let status: HTTPResponse.Status
    let headers: HTTPFields

    init(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) {
        self.value = value
        self.status = status
        self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.bytes)))
    }
}
