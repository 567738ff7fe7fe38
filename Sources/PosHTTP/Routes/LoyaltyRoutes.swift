import Hummingbird
import PosDomain
import PosServices

/// The loyalty proxy (scope `partner`) and its configuration and call log (scope `admin`).
struct LoyaltyRoutes: Sendable {
    let body: JSONBodyDecoder
    let loyalty: LoyaltyService

    struct Saved: Encodable {
        let config: LoyaltyConfigView
    }

    struct Deleted: Encodable {
        let deleted: Bool
    }

    struct Transactions: Encodable {
        let transactions: [LoyaltyCallView]
    }

    func putConfig(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Saved> {
        let command = try await body.decode(PutLoyaltyConfig.self, from: request)
        let saved = try await loyalty.putConfig(command, tenant: context.principal.tenant)
        return Envelope(message: saved.createdAt == saved.updatedAt ? "loyalty configuration created" : "loyalty configuration updated",
                        Saved(config: LoyaltyConfigView(saved)))
    }

    func config(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<LoyaltyConfigView> {
        JSONResponse(LoyaltyConfigView(try await loyalty.config(tenant: context.principal.tenant)))
    }

    func deleteConfig(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Deleted> {
        try await loyalty.deleteConfig(tenant: context.principal.tenant)
        return Envelope(message: "loyalty configuration deleted", Deleted(deleted: true))
    }

    func balance(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let customerUuid = try LoyaltyQuery.required(request.uri.queryParameters, "customerUuid") { text throws(ValidationError) in
            try LoyaltyRules.customerUuid(text)
        }
        return ExactJSON(try await loyalty.balance(customerUuid: customerUuid, tenant: context.principal.tenant))
    }

    func customer(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let identifier = try LoyaltyQuery.required(request.uri.queryParameters, "identifier") { text throws(ValidationError) in
            try LoyaltyRules.identifier(text)
        }
        return ExactJSON(try await loyalty.customer(identifier, tenant: context.principal.tenant))
    }

    func earnPoints(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let command = try await body.decode(EarnPoints.self, from: request)
        return ExactJSON(try await loyalty.move(.earnPoints, command.move, tenant: context.principal.tenant))
    }

    func usePoints(_ request: Request, context: AuthenticatedContext) async throws -> ExactJSON {
        let command = try await body.decode(UsePoints.self, from: request)
        return ExactJSON(try await loyalty.move(.usePoints, command.move, tenant: context.principal.tenant))
    }

    func transactions(_ request: Request, context: AuthenticatedContext) async throws -> JSONResponse<Transactions> {
        let filter = try LoyaltyQuery.filter(request.uri.queryParameters)
        let calls = try await loyalty.transactions(tenant: context.principal.tenant, filter: filter)
        return JSONResponse(Transactions(transactions: calls.map(LoyaltyCallView.init)))
    }
}

/// A tenant's loyalty configuration as the API shows it: the key masked, defaults filled in.
struct LoyaltyConfigView: Encodable {
    let baseUrl: String
    let apiKey: String
    let timeout: String
    /// Which fields come from the deployment's defaults (`POS_LOYALTY_URL`, `POS_LOYALTY_TIMEOUT`).
    let inherited: [String]
    let createdAt: String
    let updatedAt: String

    init(_ summary: LoyaltyConfigSummary) {
        baseUrl = summary.baseUrl
        apiKey = summary.maskedApiKey
        timeout = summary.timeoutMs % 1000 == 0 ? "\(summary.timeoutMs / 1000)s" : "\(summary.timeoutMs)ms"
        inherited = summary.inherited
        createdAt = summary.createdAt.rfc3339
        updatedAt = summary.updatedAt.rfc3339
    }
}

struct LoyaltyCallView: Encodable {
    let id: Int64
    let operation: String
    let customerUuid: String?
    let points: Int64?
    let refCode: String?
    let upstreamStatus: Int?
    let latencyMs: Int64
    let status: Int
    let outcome: String
    let at: String

    init(_ call: LoyaltyCall) {
        id = call.id
        operation = call.operation.rawValue
        customerUuid = call.customerUuid
        points = call.points
        refCode = call.refCode
        upstreamStatus = call.upstreamStatus
        latencyMs = call.latencyMs
        status = call.status
        outcome = call.outcome
        at = call.at.rfc3339
    }

    private enum Keys: String, CodingKey {
        case id, operation, customerUuid, points, refCode, upstreamStatus, latencyMs, status, outcome, at
    }

    /// Absent values are `null`, not left out: every call has the same keys.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(id, forKey: .id)
        try container.encode(operation, forKey: .operation)
        try container.encode(customerUuid, forKey: .customerUuid)
        try container.encode(points, forKey: .points)
        try container.encode(refCode, forKey: .refCode)
        try container.encode(upstreamStatus, forKey: .upstreamStatus)
        try container.encode(latencyMs, forKey: .latencyMs)
        try container.encode(status, forKey: .status)
        try container.encode(outcome, forKey: .outcome)
        try container.encode(at, forKey: .at)
    }
}
