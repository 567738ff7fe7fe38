import Foundation
import Logging
import PosConnectors
import PosDomain
import PosStorage

/// The deployment's loyalty defaults and how long refCodes are remembered.
public struct LoyaltySettings: Sendable {
    /// `POS_LOYALTY_URL`: every tenant's loyalty service unless its configuration names another.
    public var defaultBaseUrl: String?
    /// `POS_LOYALTY_TIMEOUT`.
    public var defaultTimeoutMs: Int64
    /// `POS_IDEMPOTENCY_TTL`: a refCode's first answer is replayed at least this long.
    public var idempotencyTTLMs: Int64
    /// A call's lease on its refCode outlives the call's timeout by this much; after a crash, a
    /// retry with the refCode waits this long.
    public var leaseMarginMs: Int64

    public init(defaultBaseUrl: String? = nil, defaultTimeoutMs: Int64 = 5_000, idempotencyTTLMs: Int64 = 86_400_000,
                leaseMarginMs: Int64 = 5_000) {
        self.defaultBaseUrl = defaultBaseUrl
        self.defaultTimeoutMs = defaultTimeoutMs
        self.idempotencyTTLMs = idempotencyTTLMs
        self.leaseMarginMs = leaseMarginMs
    }

    /// The timeouts a configuration may set.
    public static let timeoutRangeMs: ClosedRange<Int64> = 100...60_000
}

/// `PUT /loyalty/config`, validated in shape. An omitted `apiKey` keeps the stored one; an omitted
/// `baseUrl` or `timeout` follows the deployment's default.
public struct PutLoyaltyConfig: Sendable, Equatable {
    public let baseUrl: String?
    public let apiKey: String?
    public let timeoutMs: Int64?

    public init(baseUrl: String?, apiKey: String?, timeoutMs: Int64?) {
        self.baseUrl = baseUrl
        self.apiKey = apiKey
        self.timeoutMs = timeoutMs
    }
}

/// A tenant's configuration with the deployment's defaults filled in, the key masked.
public struct LoyaltyConfigSummary: Sendable, Equatable {
    public let baseUrl: String
    public let maskedApiKey: String
    public let timeoutMs: Int64
    /// Which of `baseUrl` and `timeout` come from the deployment's defaults.
    public let inherited: [String]
    public let createdAt: Int64
    public let updatedAt: Int64
}

/// The loyalty proxy (balance, earn, use, customer lookup) in front of each tenant's loyalty
/// service, with the tenant's configuration and the call log. Earn and use are idempotent on
/// `refCode` here as well as upstream: the first definitive answer is stored and replayed; a call
/// that timed out or failed leaves the refCode open, and a retry calls upstream again with the
/// same refCode, which the loyalty service de-duplicates (docs/adr/0008).
public struct LoyaltyService: Sendable {
    private let store: any LoyaltyStore
    private let client: LoyaltyClient
    private let secretBox: SecretBox
    private let outboundGuard: OutboundGuard
    private let settings: LoyaltySettings
    private let clock: ServiceClock
    /// Names this process on refCode leases.
    private let instanceId: String
    private let logger: Logger
    /// What the partner's API answers each call with, for the call log.
    private let answered: AnsweredStatus
    private let metrics: ServiceMetrics

    public init(store: any LoyaltyStore, client: LoyaltyClient, secretBox: SecretBox, outboundGuard: OutboundGuard, settings: LoyaltySettings,
                clock: @escaping ServiceClock, instanceId: String, logger: Logger, answered: AnsweredStatus, metrics: ServiceMetrics = .disabled) {
        self.metrics = metrics
        self.store = store
        self.client = client
        self.secretBox = secretBox
        self.outboundGuard = outboundGuard
        self.settings = settings
        self.clock = clock
        self.instanceId = instanceId
        self.logger = logger
        self.answered = answered
    }

    // MARK: Configuration

    public func putConfig(_ command: PutLoyaltyConfig, tenant: Tenant) async throws -> LoyaltyConfigSummary {
        try checked { () throws(ValidationError) in try command.validate() }
        let existing = try await translatingStoreErrors { try await store.loyaltyConfig(tenantId: tenant.id) }
        guard let baseUrl = command.baseUrl ?? settings.defaultBaseUrl else {
            throw ServiceError.invalid(field: "baseUrl", message: "baseUrl is required", details: "POS_LOYALTY_URL sets no default in this deployment")
        }
        do {
            try await outboundGuard.check(baseUrl)
        } catch {
            throw ServiceError.invalid(field: "baseUrl", message: "baseUrl is not allowed: \(error.description)")
        }
        let sealedApiKey: String
        if let apiKey = command.apiKey {
            sealedApiKey = try secretBox.seal(apiKey)
        } else if let existing {
            sealedApiKey = existing.sealedApiKey
        } else {
            throw ServiceError.invalid(field: "apiKey", message: "apiKey is required")
        }
        let now = clock()
        let saved = try await translatingStoreErrors {
            try await store.upsertLoyaltyConfig(LoyaltyConfig(
                tenantId: tenant.id, baseUrl: command.baseUrl, sealedApiKey: sealedApiKey, timeoutMs: command.timeoutMs,
                createdAt: existing?.createdAt ?? now, updatedAt: now))
        }
        return summary(saved)
    }

    public func config(tenant: Tenant) async throws -> LoyaltyConfigSummary {
        guard let config = try await translatingStoreErrors({ try await store.loyaltyConfig(tenantId: tenant.id) }) else {
            throw ServiceError.notFound("loyalty is not configured for this tenant")
        }
        return summary(config)
    }

    public func deleteConfig(tenant: Tenant) async throws {
        guard try await translatingStoreErrors({ try await store.deleteLoyaltyConfig(tenantId: tenant.id) }) else {
            throw ServiceError.notFound("loyalty is not configured for this tenant")
        }
    }

    private func summary(_ config: LoyaltyConfig) -> LoyaltyConfigSummary {
        var inherited: [String] = []
        if config.baseUrl == nil { inherited.append("baseUrl") }
        if config.timeoutMs == nil { inherited.append("timeout") }
        return LoyaltyConfigSummary(
            baseUrl: config.baseUrl ?? settings.defaultBaseUrl ?? "", maskedApiKey: secretBox.masked(config.sealedApiKey),
            timeoutMs: config.timeoutMs ?? settings.defaultTimeoutMs, inherited: inherited, createdAt: config.createdAt, updatedAt: config.updatedAt)
    }

    /// Where the tenant's calls go: its configuration over the deployment's defaults.
    private func endpoint(_ tenant: Tenant) async throws -> LoyaltyEndpoint? {
        guard let config = try await translatingStoreErrors({ try await store.loyaltyConfig(tenantId: tenant.id) }),
              let baseUrl = config.baseUrl ?? settings.defaultBaseUrl
        else { return nil }
        do throws(SecretBox.Failure) {
            return LoyaltyEndpoint(baseUrl: baseUrl, apiKey: try secretBox.open(config.sealedApiKey),
                                   timeoutMs: config.timeoutMs ?? settings.defaultTimeoutMs)
        } catch {
            throw ServiceError.unavailable("the tenant's loyalty API key cannot be opened with this master key")
        }
    }

    // MARK: Proxy

    public func balance(customerUuid: String, tenant: Tenant) async throws -> JSONValue {
        try await read(.balance, tenant: tenant, customerUuid: customerUuid, query: [("customerUuid", customerUuid)])
    }

    public func customer(_ identifier: LoyaltyIdentifier, tenant: Tenant) async throws -> JSONValue {
        try await read(.customer, tenant: tenant, customerUuid: nil, query: [("identifier", identifier.text)])
    }

    /// Balance and lookup: forwarded every time, nothing to de-duplicate.
    private func read(_ operation: LoyaltyOperation, tenant: Tenant, customerUuid: String?, query: [(String, String)]) async throws -> JSONValue {
        var call = LoyaltyCall(tenantId: tenant.id, operation: operation, customerUuid: customerUuid, points: nil, refCode: nil,
                               upstreamStatus: nil, latencyMs: 0, status: answered.failure(Self.notConfigured),
                               outcome: "not_configured", at: clock())
        guard let endpoint = try await endpoint(tenant) else {
            try await record(call)
            throw Self.notConfigured
        }
        let forwarded = await forward(operation, endpoint, query: query, body: nil)
        call.fill(forwarded, latencyMs: clock() - call.at, answered: answered)
        if operation == .customer, case .answered(let body, _) = forwarded { call.customerUuid = body["customerUuid"]?.stringValue }
        try await record(call)
        return try forwarded.result()
    }

    /// Earn or use: claimed under its refCode first, so it reaches the loyalty service once per answer.
    public func move(_ operation: LoyaltyOperation, _ move: LoyaltyPointsMove, tenant: Tenant) async throws -> JSONValue {
        precondition(operation.movesPoints, "\(operation) does not move points")
        var call = LoyaltyCall(tenantId: tenant.id, operation: operation, customerUuid: move.customerUuid, points: move.points,
                               refCode: move.refCode, upstreamStatus: nil, latencyMs: 0, status: answered.failure(Self.notConfigured),
                               outcome: "not_configured", at: clock())
        guard let endpoint = try await endpoint(tenant) else {
            try await record(call)
            throw Self.notConfigured
        }
        let owner = "\(instanceId)/\(UUID().uuidString.lowercased())"
        let now = call.at
        let claim = LoyaltyMoveClaim(tenantId: tenant.id, operation: operation, move: move, owner: owner,
                                     leaseUntil: now + endpoint.timeoutMs + settings.leaseMarginMs,
                                     expiresAt: now + settings.idempotencyTTLMs, now: now)
        switch try await translatingStoreErrors({ try await store.claimLoyaltyMove(claim) }) {
        case .completed(let stored):
            call.status = stored.status
            call.outcome = "replayed"
            try await record(call)
            return try Forwarded(stored: stored).result()
        case .mismatch(let customerUuid, let points):
            let error = ServiceError.unprocessable("refCode \(move.refCode) was already used for a different request",
                                                   details: "it moved \(points) points for customer \(customerUuid)")
            call.status = answered.failure(error)
            call.outcome = "mismatch"
            try await record(call)
            throw error
        case .inFlight:
            let error = ServiceError.conflict("a request with refCode \(move.refCode) is being answered now",
                                              details: "retry it with the same refCode to get its answer")
            call.status = answered.failure(error)
            call.outcome = "in_flight"
            try await record(call)
            throw error
        case .claimed:
            var body: [(String, JSONValue)] = [("customerUuid", .string(move.customerUuid)), ("points", .integer(move.points)),
                                               ("refCode", .string(move.refCode))]
            if let notes = move.displayNotes { body.append(("displayNotes", .string(notes))) }
            let forwarded = await forward(operation, endpoint, query: [], body: .object(body))
            call.fill(forwarded, latencyMs: clock() - now, answered: answered)
            log(call)
            try await translatingStoreErrors {
                try await store.settleLoyaltyMove(tenantId: tenant.id, operation: operation, refCode: move.refCode, owner: owner,
                                                  outcome: forwarded.stored, call: call)
            }
            return try forwarded.result()
        }
    }

    public func transactions(tenant: Tenant, filter: LoyaltyCallFilter) async throws -> [LoyaltyCall] {
        try await translatingStoreErrors { try await store.loyaltyCalls(tenantId: tenant.id, filter: filter) }
    }

    static let notConfigured = ServiceError.notConfigured(
        "loyalty_not_configured", details: "this tenant has no loyalty service: an admin sets up its loyalty configuration first")

    private func record(_ call: LoyaltyCall) async throws {
        log(call)
        try await translatingStoreErrors { try await store.recordLoyaltyCall(call) }
    }

    /// The call on the log and in `pos_loyalty_calls_total`, never the API key.
    private func log(_ call: LoyaltyCall) {
        metrics.loyaltyCall(operation: call.operation.rawValue, outcome: call.outcome)
        logger.info("loyalty call", metadata: [
            "tenant_id": .string(call.tenantId), "operation": .string(call.operation.rawValue),
            "customer": .string(call.customerUuid ?? "-"), "points": .string(call.points.map(String.init) ?? "-"),
            "ref_code": .string(call.refCode ?? "-"), "upstream_status": .string(call.upstreamStatus.map(String.init) ?? "-"),
            "latency_ms": .stringConvertible(call.latencyMs), "status": .stringConvertible(call.status), "outcome": .string(call.outcome),
        ])
    }

    /// One call upstream, and what the partner gets for it.
    private func forward(_ operation: LoyaltyOperation, _ endpoint: LoyaltyEndpoint, query: [(String, String)], body: JSONValue?) async -> Forwarded {
        let answer: LoyaltyAnswer
        do {
            answer = try await client.call(operation, endpoint: endpoint, query: query, body: body)
        } catch {
            switch error {
            case .timeout(let reason):
                return .failed(.gatewayTimeout("the loyalty service did not answer in time", details: reason), upstreamStatus: nil, outcome: "timeout")
            case .unreachable(let reason):
                return .failed(.badGateway("the loyalty service is unreachable", details: reason), upstreamStatus: nil, outcome: "bad_gateway")
            case .unreadable(let status, _) where status >= 500:
                return .failed(.badGateway("the loyalty service failed", details: "loyalty service status \(status)"), upstreamStatus: status,
                               outcome: "bad_gateway")
            case .unreadable(let status, let reason):
                return .failed(.badGateway("the loyalty service's answer could not be read", details: "loyalty service status \(status): \(reason)"),
                               upstreamStatus: status, outcome: "bad_gateway")
            }
        }
        let status = answer.httpStatus
        switch status {
        case 200...299:
            return .answered(answer.body, upstreamStatus: status)
        case 401, 403, 407:
            // Our credential, not the partner's: the tenant's configuration is wrong.
            return .failed(.badGateway("the loyalty service refused this tenant's API key", details: "loyalty service status \(status)"),
                           upstreamStatus: status, outcome: "bad_gateway")
        case 408:
            return .failed(.gatewayTimeout("the loyalty service timed out", details: "loyalty service status 408"), upstreamStatus: status,
                           outcome: "timeout")
        case 429:
            return .failed(.badGateway("the loyalty service is limiting requests", details: "loyalty service status 429"),
                           upstreamStatus: status, outcome: "bad_gateway")
        case 400...499:
            return .refused(status: status, message: answer.message, details: "loyalty service code \(answer.code)", upstreamStatus: status)
        default:
            return .failed(.badGateway("the loyalty service failed", details: "loyalty service status \(status)"), upstreamStatus: status,
                           outcome: "bad_gateway")
        }
    }
}

/// What one call came to. Answers and refusals are definitive (stored for a refCode and replayed);
/// failures are not: the loyalty service may not have acted, or may have, so a retry asks again.
enum Forwarded: Sendable {
    case answered(JSONValue, upstreamStatus: Int)
    /// The loyalty service's own 4xx: insufficient points, unknown customer, its refCode rules.
    case refused(status: Int, message: String, details: String, upstreamStatus: Int)
    case failed(ServiceError, upstreamStatus: Int?, outcome: String)

    /// A stored outcome, replayed.
    init(stored: LoyaltyStoredOutcome) throws {
        guard let body = JSONValue(parsing: stored.body) else { throw ServiceError.unavailable("a stored loyalty answer is unreadable") }
        if stored.status == 200 {
            self = .answered(body, upstreamStatus: 200)
        } else {
            self = .refused(status: stored.status, message: body["message"]?.stringValue ?? "", details: body["details"]?.stringValue ?? "",
                            upstreamStatus: stored.status)
        }
    }

    var stored: LoyaltyStoredOutcome? {
        switch self {
        case .answered(let body, _): LoyaltyStoredOutcome(status: 200, body: body.serialized)
        case .refused(let status, let message, let details, _):
            LoyaltyStoredOutcome(status: status, body: JSONValue.object([("message", .string(message)), ("details", .string(details))]).serialized)
        case .failed: nil
        }
    }

    func result() throws -> JSONValue {
        switch self {
        case .answered(let body, _): return body
        case .refused(let status, let message, let details, _): throw ServiceError.upstreamRefused(status: status, message: message, details: details)
        case .failed(let error, _, _): throw error
        }
    }
}

extension LoyaltyCall {
    mutating func fill(_ forwarded: Forwarded, latencyMs: Int64, answered: AnsweredStatus) {
        self.latencyMs = latencyMs
        switch forwarded {
        case .answered(_, let upstreamStatus):
            self.upstreamStatus = upstreamStatus
            status = answered.success
            outcome = "answered"
        case .refused(let status, _, _, let upstreamStatus):
            self.upstreamStatus = upstreamStatus
            self.status = status
            outcome = "refused"
        case .failed(let error, let upstreamStatus, let outcome):
            self.upstreamStatus = upstreamStatus
            status = answered.failure(error)
            self.outcome = outcome
        }
    }
}
