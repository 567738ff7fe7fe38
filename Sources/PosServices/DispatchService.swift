import Crypto
import Foundation
import Logging
import PosConnectors
import PosDomain
import PosStorage

/// What a dispatch did (seed 000's answer without its envelope). Kept as the order's first
/// response, so a replay answers the same.
public struct DispatchResult: Codable, Sendable, Equatable {
    public var message: String
    public var orderId: String
    public var dispatched: Bool
    public var reason: String
}

/// The dispatch path, as one straight line: validate → persist order + outbox rows in one
/// transaction → first attempt inline → record it. Retries pick up from the outbox.
public struct DispatchService: Sendable {
    public static let noTargetReason = "no active webhook for outlet"

    private let orders: any OrderStore
    private let attempter: DeliveryAttempter
    private let connectors: ConnectorDeliverer
    private let clock: ServiceClock
    private let inFlight: InFlightDispatches
    /// Names this process on the leases of first attempts.
    private let instanceId: String
    /// How long a first attempt's lease lasts: past it, a worker takes the delivery over.
    private let leaseMs: Int64
    /// How long a duplicate may find its first still pending before we stop calling it in flight.
    private let inFlightWindowMs: Int64
    /// The outlet's status in the catalogue (tenant id, outlet id), nil when it has none: a cheap,
    /// cached look-up, made while the order is being accepted.
    private let outletStatus: @Sendable (String, String) async -> OutletStatus?
    private let metrics: ServiceMetrics

    /// Appended to `reason` while the outlet is CLOSED: the platform decided to send the order anyway.
    public static let closedOutletNote = "; outlet is CLOSED"

    public init(orders: any OrderStore, attempter: DeliveryAttempter, connectors: ConnectorDeliverer, clock: @escaping ServiceClock,
                instanceId: String, leaseMs: Int64, deliveryTimeoutMs: Int64 = 10_000,
                outletStatus: @escaping @Sendable (String, String) async -> OutletStatus? = { _, _ in nil }, metrics: ServiceMetrics = .disabled) {
        self.metrics = metrics
        self.outletStatus = outletStatus
        self.orders = orders
        self.attempter = attempter
        self.connectors = connectors
        self.clock = clock
        self.inFlight = InFlightDispatches()
        self.instanceId = instanceId
        self.leaseMs = leaseMs
        self.inFlightWindowMs = deliveryTimeoutMs + 5_000
    }

    /// Accepts the order even when its outlet is CLOSED (the platform decided), and says so in `reason`.
    public func dispatch(_ request: DispatchRequest, tenant: Tenant, logger: Logger) async throws -> DispatchResult {
        async let status = outletStatus(tenant.id, request.outletId)
        var result = try await accept(request, tenant: tenant, logger: logger)
        if await status == .closed { result.reason += Self.closedOutletNote }
        return result
    }

    private func accept(_ request: DispatchRequest, tenant: Tenant, logger: Logger) async throws -> DispatchResult {
        // Found once here and handed to the first attempt, which would otherwise read it again.
        var route: ConnectorDeliverer.Route?
        if let transformer = request.builtInTransformer {
            route = try await checkTransformer(transformer, outletId: request.outletId, tenant: tenant)
        }
        let fingerprint = DispatchFingerprint(request)
        let key = "\(tenant.id)\u{0}\(request.order.uuid)\u{0}\(request.event)"
        // Identical concurrent dispatches in this process wait for the first; across replicas
        // the unique (tenant, uuid, event) constraint decides.
        switch await inFlight.claim(key) {
        case .waiter(let first):
            if let result = await first.value { return try result.answer(to: fingerprint) }
            return try await run(request, route: route, tenant: tenant, fingerprint: fingerprint, logger: logger).response
        case .owner(let finish):
            do {
                let result = try await run(request, route: route, tenant: tenant, fingerprint: fingerprint, logger: logger)
                await finish(result)
                return result.response
            } catch {
                await finish(nil)
                throw error
            }
        }
    }

    /// A built-in transformer must be known, connected and mapped for the outlet before we accept
    /// the order for it: a 400 now beats a dead letter later.
    private func checkTransformer(_ slug: String, outletId: String, tenant: Tenant) async throws -> ConnectorDeliverer.Route {
        let route = try await withStoreSpan("connectorRoute") {
            try await translatingStoreErrors { try await connectors.route(slug: slug, tenantId: tenant.id, outletId: outletId) }
        }
        switch route {
        case .success(let found): return found
        case .failure(.unknownConnector):
            throw ServiceError.invalid(field: "builtInTransformer", message: "unknown builtInTransformer \"\(slug)\"",
                                       details: "known: \(connectors.registry.slugs.joined(separator: ", ")); omit the field to use the outlet's webhook")
        case .failure(let problem):
            throw ServiceError.invalid(field: problem.field, message: problem.message, details: "")
        }
    }

    private func run(_ request: DispatchRequest, route: ConnectorDeliverer.Route?, tenant: Tenant, fingerprint: DispatchFingerprint,
                     logger: Logger) async throws -> InFlightDispatches.Result {
        let now = clock()
        let newOrder = NewOrder(
            id: UUID().uuidString.lowercased(), tenantId: tenant.id, outletId: request.outletId, event: request.event,
            orderUUID: request.order.uuid, orderRefNo: request.order.orderRefNo, builtInTransformer: request.builtInTransformer,
            currency: request.order.currency.code, totalPayMinor: request.order.totalPay.minorUnits,
            payload: request.orderBytes, payloadSHA256: fingerprint.payloadSHA256, receivedAt: now,
            fulfilment: Fulfilment(deliveryMethod: request.order.deliveryMethod),
            firstAttemptLease: DeliveryLease(owner: instanceId, expiresAt: now + leaseMs))
        // Written with the order when the outlet has nothing to deliver to: one commit, no second write.
        let noTarget = try completion(
            orderId: newOrder.id, status: .noTarget, reason: Self.noTargetReason, externalOrderId: nil,
            response: DispatchResult(message: "order persisted; not dispatched",
                                     orderId: newOrder.id, dispatched: false, reason: Self.noTargetReason))
        let accepted = try await withStoreSpan("acceptOrder") {
            try await translatingStoreErrors {
                try await orders.acceptOrder(newOrder, completionWithoutTargets: noTarget.completion,
                                             makeDeliveryId: { UUID().uuidString.lowercased() })
            }
        }
        var logger = logger
        if case .created = accepted { metrics.orderAccepted() }
        switch accepted {
        case .existing(let order):
            try DispatchFingerprint(order).requireSame(as: fingerprint, orderId: order.id)
            return InFlightDispatches.Result(response: try replay(order), fingerprint: fingerprint)
        case .created(let order, let deliveries) where deliveries.isEmpty:
            logger[metadataKey: "order_id"] = .string(order.id)
            logger.info("order persisted without a delivery target", metadata: ["outlet_id": .string(order.outletId)])
            return InFlightDispatches.Result(response: noTarget.response, fingerprint: fingerprint)
        case .created(let order, let deliveries):
            logger[metadataKey: "order_id"] = .string(order.id)
            let response = try await deliverFirstAttempts(order: order, deliveries: deliveries, request: request, route: route, logger: logger)
            return InFlightDispatches.Result(response: response, fingerprint: fingerprint)
        }
    }

    /// The first result of an earlier dispatch of the same order.
    private func replay(_ order: OrderRecord) throws -> DispatchResult {
        if let stored = order.firstResponse, let response = try? JSONDecoder().decode(DispatchResult.self, from: Data(stored.utf8)) {
            return response
        }
        if order.dispatchStatus == .pending, clock() - order.receivedAt < inFlightWindowMs {
            throw ServiceError.conflict("a dispatch of this order is still in progress", details: "orderId \(order.id); retry shortly to get its result")
        }
        // The first request died before answering; its order and outbox rows are intact.
        return DispatchResult(message: "order already accepted", orderId: order.id,
                              dispatched: order.dispatchStatus == .dispatched,
                              reason: order.dispatchReason ?? "delivery pending in outbox")
    }

    /// Attempts every delivery once, together, then records the attempts and the order's outcome
    /// in one transaction. Failed deliveries stay in the outbox for the retry schedule.
    private func deliverFirstAttempts(order: OrderRecord, deliveries: [PlannedDelivery], request: DispatchRequest,
                                      route: ConnectorDeliverer.Route?, logger: Logger) async throws -> DispatchResult {
        let results = await withTaskGroup(of: DeliveryAttempter.Result.self) { group in
            for planned in deliveries where !planned.isDeferred {
                group.addTask {
                    await attempter.attempt(planned.delivery, target: planned.target, outletId: request.outletId,
                                            orderBytes: request.orderBytes, order: request.order, route: route)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for result in results {
            let outcome = result.outcome
            logger.info("delivery attempt", metadata: [
                "delivery_id": .string(result.delivery.id), "target": .string(result.delivery.targetLabel),
                "status_code": .string(outcome.statusCode.map(String.init) ?? "-"), "outcome": .string(outcome.errorClass ?? "delivered"),
                "duration_ms": .stringConvertible(outcome.durationMs), "next": .string(result.last.transition.status.rawValue),
            ])
        }
        let finished = attempter.finish(results, deferred: deliveries.filter(\.isDeferred).map(\.delivery))
        // Dispatch takes only `order.paid`, and each of its deliveries is the order's dispatch.
        guard var completion = finished.completion else {
            throw ServiceError.unavailable("\(request.event) has no delivery that dispatches the order")
        }
        let dispatched = completion.status == .dispatched
        let response = DispatchResult(message: dispatched ? "order dispatched" : "order persisted; delivery failed",
                                      orderId: order.id, dispatched: dispatched, reason: completion.reason ?? "")
        completion.response = try Self.json(response)
        try await withStoreSpan("recordAttempts") {
            try await translatingStoreErrors {
                try await orders.recordAttempts(finished.recorded, completion: completion, health: finished.health)
            }
        }
        return response
    }

    private func completion(orderId: String, status: DispatchStatus, reason: String, externalOrderId: String?,
                            response: DispatchResult) throws -> (completion: DispatchCompletion, response: DispatchResult) {
        (DispatchCompletion(orderId: orderId, status: status, reason: reason, externalOrderId: externalOrderId,
                            response: try Self.json(response), at: clock()), response)
    }

    /// The response as stored for replays.
    private static func json(_ response: DispatchResult) throws -> String {
        String(decoding: try JSONEncoder().encode(response), as: UTF8.self)
    }

    public func order(id: String, tenant: Tenant) async throws -> OrderDetail {
        guard let detail = try await translatingStoreErrors({ try await orders.order(id: id, tenantId: tenant.id) }) else {
            throw ServiceError.notFound("no order with id \"\(id)\"")
        }
        return detail
    }
}

/// What a repeated dispatch of one (tenant, order.uuid, event) must match to be answered with the
/// first one's result: the outlet, the built-in transformer and the order's bytes. Anything else
/// is a different request under a reused uuid — replaying the first answer would tell the caller
/// an order reached a POS it was never sent to.
struct DispatchFingerprint: Sendable, Equatable {
    let outletId: String
    let builtInTransformer: String?
    let payloadSHA256: String

    init(_ request: DispatchRequest) {
        outletId = request.outletId
        builtInTransformer = request.builtInTransformer
        payloadSHA256 = Hex.encode(SHA256.hash(data: request.orderBytes))
    }

    init(_ order: OrderRecord) {
        outletId = order.outletId
        builtInTransformer = order.builtInTransformer
        payloadSHA256 = order.payloadSHA256
    }

    /// Throws a conflict naming each field in which `duplicate` differs from this, the first dispatch.
    func requireSame(as duplicate: DispatchFingerprint, orderId: String) throws {
        func shown(_ value: String?) -> String { value.map(JSONText.quoted) ?? "none" }
        var differences: [(field: String, detail: String)] = []
        if duplicate.outletId != outletId {
            differences.append(("outletId", "outletId was \(shown(outletId)), now \(shown(duplicate.outletId))"))
        }
        if duplicate.builtInTransformer != builtInTransformer {
            differences.append(("builtInTransformer",
                                "builtInTransformer was \(shown(builtInTransformer)), now \(shown(duplicate.builtInTransformer))"))
        }
        if duplicate.payloadSHA256 != payloadSHA256 { differences.append(("order", "the order's bytes differ")) }
        guard !differences.isEmpty else { return }
        throw ServiceError.conflict(
            "order.uuid was already dispatched for this event with a different \(differences.map(\.field).joined(separator: " and "))",
            details: "orderId \(orderId); \(differences.map(\.detail).joined(separator: "; ")); send the identical request to replay, or a new order.uuid")
    }
}

/// Lets identical dispatches arriving together in one process share the first one's result.
actor InFlightDispatches {
    struct Result: Sendable {
        let response: DispatchResult
        let fingerprint: DispatchFingerprint

        /// The first dispatch's answer, for a duplicate of exactly the same request.
        func answer(to duplicate: DispatchFingerprint) throws -> DispatchResult {
            try fingerprint.requireSame(as: duplicate, orderId: response.orderId)
            return response
        }
    }

    enum Claim {
        case owner(finish: @Sendable (Result?) async -> Void)
        case waiter(Task<Result?, Never>)
    }

    private var waiting: [String: [CheckedContinuation<Result?, Never>]] = [:]

    func claim(_ key: String) -> Claim {
        if waiting[key] != nil {
            return .waiter(Task { await self.wait(for: key) })
        }
        waiting[key] = []
        return .owner(finish: { result in await self.finish(key, result) })
    }

    private func wait(for key: String) async -> Result? {
        guard waiting[key] != nil else { return nil }
        return await withCheckedContinuation { waiting[key, default: []].append($0) }
    }

    private func finish(_ key: String, _ result: Result?) {
        let continuations = waiting.removeValue(forKey: key) ?? []
        for continuation in continuations { continuation.resume(returning: result) }
    }
}

extension OrderDetail {
    /// The order's status history as people read it, oldest first. Dispatch sets PAID without
    /// writing history (intake stays two statements), so PAID at receipt is the first entry.
    public var timeline: [OrderStatusChange] {
        let paid = OrderStatusChange(status: .paid, previous: nil, source: StatusSource.platform.description, reason: nil, posOrderId: nil,
                                     occurredAt: order.receivedAt, recordedAt: order.receivedAt, stale: false)
        return [paid] + history
    }
}
