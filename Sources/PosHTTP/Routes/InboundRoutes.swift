import Hummingbird
import PosDomain
import PosServices
import PosStorage

/// POS status webhooks (no API key: the URL's connection token and the POS's own signature
/// authenticate them) and their log for the tenant's admin.
struct InboundRoutes: Sendable {
    let inbound: InboundStatusService
    let maxBodyBytes: Int

    func orderStatus(_ request: Request, context: PosRequestContext) async throws -> JSONResponse<JSONValue> {
        let provider = try context.parameters.require("provider")
        let token = try context.parameters.require("connectionToken")
        // The POS's native body, read raw: its signature covers these exact bytes.
        let body = Array(try await request.body.collect(upTo: maxBodyBytes).readableBytesView)
        let headers = request.headers.map { ($0.name.rawName, $0.value) }
        let answer = try await inbound.receive(provider: provider, token: token, headers: headers, body: body, logger: context.logger)
        return JSONResponse(answer.body, status: HTTPResponse.Status(code: answer.statusCode))
    }

    struct Page: Encodable {
        let requests: [InboundRequestView]
    }

    func requests(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<Page> {
        var limit = 50
        if let text = request.uri.queryParameters["limit"] {
            guard let value = Int(String(text)), (1...200).contains(value) else {
                throw ServiceError.invalid(field: "limit", message: "limit must be an integer from 1 to 200")
            }
            limit = value
        }
        let records = try await inbound.requests(tenant: context.principal.tenant, limit: limit)
        return JSONResponse(Page(requests: records.map(InboundRequestView.init)))
    }
}

/// One inbound POS request as the admin reads it.
struct InboundRequestView: Encodable {
    let id: Int64
    let provider: String
    let receivedAt: String
    let headers: JSONValue
    let body: String
    let outcome: String
    let detail: String?
    let statusCode: Int
    let orderId: String?

    init(_ record: InboundRequestRecord) {
        id = record.id
        provider = record.provider
        receivedAt = record.receivedAt.rfc3339
        headers = JSONValue(parsing: record.headers) ?? .object([])
        body = record.body
        outcome = record.outcome
        detail = record.detail
        statusCode = record.statusCode
        orderId = record.orderId
    }
}
