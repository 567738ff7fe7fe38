import Foundation
import Logging
import PosConnectors
import PosDomain
import PosStorage
import Tracing

/// What became of a POS's status webhook the service took (refusals are thrown as ``ServiceError``s);
/// the presentation renders it in the POS's terms.
public enum InboundOutcome: Sendable, Equatable {
    /// The POS's handshake (a check of our URLs): the connector's reply, to be sent as is.
    case handshake(reply: JSONValue)
    /// The connector read nothing to apply; the POS need not send it again.
    case ignored(reason: String)
    /// What became of each status update the webhook carried, in its order.
    case updates([InboundUpdateResult])
}

/// What became of one status update of an inbound POS webhook.
public enum InboundUpdateResult: Sendable, Equatable {
    /// The state machine decided on it: ``StatusReportResult`` says how.
    case decided(orderId: String, status: OrderStatus, version: Int64, changed: Bool, stale: Bool)
    /// A repeat of an event already decided on: nothing changed.
    case duplicate(orderId: String?)
    /// Not applied (an order we do not know, a status we do not map, a transition the machine refuses), so the POS stops retrying.
    case skipped(reason: String)

    /// The word the inbound log keeps for it.
    var logOutcome: String {
        switch self {
        case .decided(_, _, _, let changed, let stale): stale ? "stale" : changed ? "applied" : "unchanged"
        case .duplicate: "duplicate"
        case .skipped: "skipped"
        }
    }
}

/// `POST /inbound/{provider}/order-status/{connectionToken}`: the URL's token names the tenant and
/// connection; the connector verifies the POS's own signature and reads its native body; each
/// status goes through the same state machine as a partner's. Every request is logged for the
/// tenant's admin, headers that carry secrets masked.
public struct InboundStatusService: Sendable {
    private let store: any OrderStatusStore & OrderStore
    private let registry: ConnectorRegistry
    private let secretBox: SecretBox
    private let status: OrderStatusService
    private let clock: ServiceClock
    /// What the POS is answered, for the request log.
    private let answered: AnsweredStatus
    private let metrics: ServiceMetrics

    public init(store: any OrderStatusStore & OrderStore, registry: ConnectorRegistry, secretBox: SecretBox, status: OrderStatusService,
                clock: @escaping ServiceClock, answered: AnsweredStatus, metrics: ServiceMetrics = .disabled) {
        self.metrics = metrics
        self.store = store
        self.registry = registry
        self.secretBox = secretBox
        self.status = status
        self.clock = clock
        self.answered = answered
    }

    /// Throws ``ServiceError/notFound(_:)`` when the URL names no connection of this provider that
    /// takes status webhooks (nothing is logged: there is no tenant to log it for); `.unverified`
    /// for a bad signature, `.invalid` for a body the connector cannot read, `.unavailable`
    /// when our database fails — each after logging it.
    /// `url` is the URL the request came in on, for a POS whose handshake asks for our URLs.
    public func receive(provider: String, token: String, headers: [(String, String)], body: [UInt8], url: String? = nil,
                        logger: Logger) async throws -> InboundOutcome {
        try await withSpan("inbound.orderStatus") { span in
            try await receive(provider: provider, token: token, headers: headers, body: body, url: url, logger: logger, span: span)
        }
    }

    private func receive(provider: String, token: String, headers: [(String, String)], body: [UInt8], url: String?,
                         logger: Logger, span: any Span) async throws -> InboundOutcome {
        // The request's one verdict, counted and put on its span.
        func verdict(_ verdict: String) {
            metrics.inboundWebhook(provider: provider, verdict: verdict)
            span.attributes["inbound.verdict"] = verdict
        }
        let connection = try await translatingStoreErrors { try await store.connection(token: token) }
        // Found through the token's unique index: a guess costs a lookup, and 192 bits are not guessed.
        guard let connection, connection.slug == provider,
              let connector = registry.connector(provider, as: (any InboundStatusReceiving).self)
        else {
            verdict("unknown_endpoint")
            throw ServiceError.notFound("no inbound status endpoint here")
        }
        span.updateAttributes { attributes in
            attributes["inbound.provider"] = provider
            attributes["tenant.id"] = connection.tenantId
        }
        let receivedAt = clock()
        var log = InboundRequestRecord(tenantId: connection.tenantId, provider: provider, headers: Self.loggable(headers).serialized,
                                       body: String(decoding: body.prefix(64 * 1024), as: UTF8.self), outcome: "", detail: nil, statusCode: 0,
                                       orderId: nil, receivedAt: receivedAt)
        let outcome: InboundOutcome
        do {
            outcome = try await handle(InboundWebhook(headers: headers, body: body, receivedAt: receivedAt,
                                                      config: JSONValue(parsing: connection.config) ?? .object([]), url: url),
                                       connection: connection, connector: connector, log: &log)
        } catch let error as ServiceError {
            if log.outcome.isEmpty {
                // Our database is not answering: the POS keeps the update and sends it again.
                log.outcome = "failed"
                log.detail = String(describing: error)
            }
            log.statusCode = answered.failure(error)
            verdict(log.outcome.isEmpty ? "refused" : log.outcome)
            try? await store.recordInbound(log)
            throw error
        }
        log.statusCode = answered.success
        // One verdict per request (a body of several updates is `accepted` as a whole).
        verdict(["handshake", "skipped"].contains(log.outcome) ? log.outcome : "accepted")
        do {
            try await store.recordInbound(log)
        } catch {
            logger.warning("could not log an inbound POS request", metadata: ["provider": .string(provider), "error": .string("\(error)")])
        }
        logger.info("inbound POS status", metadata: [
            "provider": .string(provider), "tenant_id": .string(connection.tenantId), "outcome": .string(log.outcome),
            "order_id": .string(log.orderId ?? "-"),
        ])
        return outcome
    }

    /// The tenant's inbound POS requests, newest first.
    public func requests(tenant: Tenant, limit: Int) async throws -> [InboundRequestRecord] {
        try await translatingStoreErrors { try await store.inboundRequests(tenantId: tenant.id, limit: limit) }
    }

    private func handle(_ webhook: InboundWebhook, connection: ProviderConnection, connector: any InboundStatusReceiving,
                        log: inout InboundRequestRecord) async throws -> InboundOutcome {
        let secret: String?
        do {
            secret = try connection.sealedWebhookSecret.map { try secretBox.open($0) }
        } catch {
            log.outcome = "unverified"
            log.detail = "the connection's webhookSecret cannot be decrypted with this master key"
            throw ServiceError.unverified("signature not verified")
        }
        let reading: InboundWebhookReading
        do throws(InboundWebhookRejection) {
            reading = try connector.readInbound(webhook, webhookSecret: secret)
        } catch {
            switch error {
            case .unverified(let why):
                log.outcome = "unverified"
                log.detail = why
                throw ServiceError.unverified("signature not verified")
            case .unreadable(let problem):
                log.outcome = "unreadable"
                log.detail = "\(problem.field) \(problem.message)"
                throw ServiceError.invalid(problem)
            }
        }
        switch reading {
        case .handshake(let reply):
            log.outcome = "handshake"
            return .handshake(reply: reply)
        case .ignored(let reason):
            log.outcome = "skipped"
            log.detail = reason
            return .ignored(reason: reason)
        case .statusUpdates(let updates):
            var results: [InboundUpdateResult] = []
            for update in updates {
                results.append(try await apply(update, connection: connection, log: &log))
            }
            log.outcome = results.map(\.logOutcome).joined(separator: ",")
            return .updates(results)
        }
    }

    /// One update: found by the POS's order id, then by our reference; unknown orders and statuses
    /// we do not map are skipped, so the POS stops retrying. An update carrying an event identity
    /// (a POS that delivers at least once) is applied once: a repeat of an event already decided on
    /// answers `duplicate` and changes nothing — not even a stale history entry.
    private func apply(_ update: OrderStatusUpdate, connection: ProviderConnection,
                       log: inout InboundRequestRecord) async throws -> InboundUpdateResult {
        func skipped(_ reason: String) -> InboundUpdateResult {
            log.detail = [log.detail, reason].compactMap { $0 }.joined(separator: "; ")
            return .skipped(reason: reason)
        }
        if let eventKey = update.eventId,
           let seen = try await translatingStoreErrors({ try await store.inboundEvent(tenantId: connection.tenantId, provider: connection.slug,
                                                                                      eventKey: eventKey) }) {
            log.orderId = seen.orderId
            log.detail = [log.detail, "duplicate of event \(eventKey) (first \(seen.outcome))"].compactMap { $0 }.joined(separator: "; ")
            return .duplicate(orderId: seen.orderId)
        }
        var order: OrderRecord?
        if let external = update.externalOrderId {
            order = try await translatingStoreErrors { try await store.order(tenantId: connection.tenantId, externalOrderId: external) }
        }
        if order == nil, let uuid = update.orderUUID {
            order = try await translatingStoreErrors { try await store.order(tenantId: connection.tenantId, orderUUID: uuid) }
        }
        guard let order else {
            return skipped("unknown order \(update.externalOrderId ?? update.orderUUID ?? "(no id)")")
        }
        log.orderId = order.id
        guard let reported = update.status else { return skipped("POS status \"\(update.posStatus)\" has no equivalent here") }
        let result: StatusReportResult
        do {
            result = try await status.apply(StatusReport(status: reported, posOrderId: update.externalOrderId, occurredAt: update.occurredAt,
                                                         reason: update.reason),
                                            to: order, source: .pos(connection.slug))
        } catch ServiceError.conflict(let message, let details) {
            return skipped("\(message) (\(details))")
        }
        let decided = InboundUpdateResult.decided(orderId: order.id, status: result.order.status, version: result.order.version,
                                                  changed: result.changed, stale: result.stale)
        if let eventKey = update.eventId {
            // Recorded after the decision: a crash in between lets the POS's retry through to the state
            // machine, which answers a repeat of the same status with no change.
            _ = try await translatingStoreErrors {
                try await store.recordInboundEvent(InboundEventRecord(tenantId: connection.tenantId, provider: connection.slug, eventKey: eventKey,
                                                                      outcome: decided.logOutcome, orderId: order.id, receivedAt: log.receivedAt))
            }
        }
        return decided
    }

    /// Header names whose values are credentials or signatures: logged as `****`.
    static func isSecret(header name: String) -> Bool {
        let lower = name.lowercased()
        return ["authorization", "signature", "hmac", "token", "secret", "api-key", "apikey", "cookie"].contains { lower.contains($0) }
    }

    static func loggable(_ headers: [(String, String)]) -> JSONValue {
        .object(headers.map { name, value in (name, .string(isSecret(header: name) ? "****" : value)) })
    }
}
