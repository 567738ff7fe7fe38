import HTTPTypes
import Hummingbird
import PosDomain
import PosServices

/// POS status webhooks (no API key: the URL's connection token and the POS's own signature
/// authenticate them) and their log for the tenant's admin.
struct InboundRoutes: Sendable {
    let inbound: InboundStatusService
    let maxBodyBytes: Int
    /// `POS_PUBLIC_URL`, when set: our origin as POSes see it.
    var publicURL: String? = nil

    /// `POS_PUBLIC_URL`, or the scheme and host this request came in on (as ``ProviderRoutes`` builds the inbound URL).
    private func origin(_ request: Request) -> String {
        if let publicURL { return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL }
        let forwardedProto = HTTPField.Name("X-Forwarded-Proto").flatMap { request.headers[$0] }
        return "\(forwardedProto ?? request.head.scheme ?? "http")://\(request.head.authority ?? "localhost")"
    }

    func orderStatus(_ request: Request, context: PosRequestContext) async throws -> JSONResponse<JSONValue> {
        let provider = try context.parameters.require("provider")
        let token = try context.parameters.require("connectionToken")
        // The POS's native body, read raw: its signature covers these exact bytes.
        let body = Array(try await request.body.collect(upTo: maxBodyBytes).readableBytesView)
        let headers = request.headers.map { ($0.name.rawName, $0.value) }
        let url = "\(origin(request))/api/v1/inbound/\(provider)/order-status/\(token)"
        let outcome = try await inbound.receive(provider: provider, token: token, headers: headers, body: body, url: url, logger: context.logger)
        return JSONResponse(Self.body(outcome), status: .ok)
    }

    /// The POS's answer: the connector's own reply to a handshake, else `{code, isSuccess, message,
    /// skipped, reason, results}` with one result per status update.
    static func body(_ outcome: InboundOutcome) -> JSONValue {
        let results: [InboundUpdateResult]
        switch outcome {
        case .handshake(let reply):
            return reply
        case .ignored(let reason):
            return .object([
                ("code", .integer(HTTPResponse.Status.ok.code)), ("isSuccess", .bool(true)), ("message", .string("skipped")), ("skipped", .bool(true)),
                ("reason", .string(reason)), ("results", .array([])),
            ])
        case .updates(let updates):
            results = updates
        }
        let skipped = !results.isEmpty && results.allSatisfy { if case .skipped = $0 { true } else { false } }
        let duplicate = !results.isEmpty && results.allSatisfy { if case .duplicate = $0 { true } else { false } }
        var reason = JSONValue.null
        if skipped, case .skipped(let first)? = results.first { reason = .string(first) }
        return .object([
            ("code", .integer(HTTPResponse.Status.ok.code)), ("isSuccess", .bool(true)),
            ("message", .string(skipped ? "skipped" : duplicate ? "duplicate event; already received" : "status received")),
            ("skipped", .bool(skipped)),
            ("reason", reason),
            ("results", .array(results.map(body))),
        ])
    }

    private static func body(_ result: InboundUpdateResult) -> JSONValue {
        switch result {
        case .decided(let orderId, let status, let version, let changed, let stale):
            .object([
                ("orderId", .string(orderId)), ("status", .string(status.rawValue)), ("version", .integer(version)),
                ("changed", .bool(changed)), ("stale", .bool(stale)),
            ])
        case .duplicate(let orderId):
            .object([("orderId", orderId.map(JSONValue.string) ?? .null), ("duplicate", .bool(true)), ("changed", .bool(false))])
        case .skipped(let reason):
            .object([("skipped", .bool(true)), ("reason", .string(reason))])
        }
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
