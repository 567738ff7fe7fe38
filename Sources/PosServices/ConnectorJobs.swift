import Foundation
import PosConnectors
import PosDomain
import PosStorage

/// The outbox jobs a POS connector runs besides taking an order: pushing a cancellation, polling
/// an order's status and importing a menu. They ride the same deliveries, leases, retries and dead letter as an
/// order; this is only what one attempt of each does.
public struct ConnectorJobs: Sendable {
    private let orders: any OrderStatusStore
    private let deliverer: ConnectorDeliverer
    private let status: OrderStatusService
    /// When a status poll looks again: `POS_STATUS_POLL_SCHEDULE`, repeated up to `POS_STATUS_POLL_FOR`.
    public let pollSchedule: RetrySchedule
    private let clock: ServiceClock
    /// Menu imports; without it an import job is a configuration failure.
    private let imports: MenuImportService?

    public init(orders: any OrderStatusStore, deliverer: ConnectorDeliverer, status: OrderStatusService, pollSchedule: RetrySchedule,
                imports: MenuImportService? = nil, clock: @escaping ServiceClock) {
        self.imports = imports
        self.orders = orders
        self.deliverer = deliverer
        self.status = status
        self.pollSchedule = pollSchedule
        self.clock = clock
    }

    /// One attempt's outcome; `pollAgain` when a status poll found the order not final yet.
    public struct Outcome: Sendable {
        public var outcome: ConnectorOutcome
        public var pollAgain: Bool
    }

    /// The status poll an order just delivered through `connector` needs, when its POS is polled
    /// (it can report status but cannot call us back).
    func followUps(orderId: String, tenantId: String, outletId: String, connector slug: String, at now: Int64) -> [EventPublication] {
        guard let connector = deliverer.registry.connector(slug), connector is any OrderStatusPolling,
              !(connector is any InboundStatusReceiving)
        else { return [] }
        let event = OutboxEvent(id: UUID().uuidString.lowercased(), tenantId: tenantId, type: OrderStatusService.pollJob,
                                subject: EventSubject(.order, id: orderId), outletId: outletId, payload: Array("{}".utf8), createdAt: now)
        return [EventPublication(event: event, connector: slug, dueAt: now + (pollSchedule.delaysMs.first ?? 0))]
    }

    /// One attempt of a menu import; a configuration failure when this process runs no imports.
    func importMenu(_ delivery: Delivery) async -> ConnectorOutcome {
        guard let imports else { return .unhandled(delivery) }
        return await imports.run(delivery)
    }

    /// One attempt at pushing a cancellation to the POS that has the order.
    func cancel(_ delivery: Delivery, payload: [UInt8], attemptNumber: Int) async -> ConnectorOutcome {
        let connector: any OrderCancelling, order: OrderRecord, reference: POSOrderReference, mapping: OutletProvider
        do throws(JobFailure) {
            (connector, order, reference, mapping) = try await opened(delivery, as: (any OrderCancelling).self, what: "cancel orders")
        } catch {
            return error.outcome
        }
        guard order.externalOrderId != nil else {
            // The dispatch is still on its way; the POS cannot cancel what it has not confirmed.
            return .failed(.rejected, "the POS has not confirmed the order yet", retryable: true)
        }
        let reason = JSONValue(parsing: String(decoding: payload, as: UTF8.self))?["reason"]?.stringValue
        return await connector.cancel(POSCancellation(deliveryId: delivery.id, attemptNumber: attemptNumber, order: reference, reason: reason,
                                                      settings: JSONValue(parsing: mapping.settings) ?? .object([])))
    }

    /// One look at an order's status in its POS.
    func poll(_ delivery: Delivery) async -> Outcome {
        let connector: any OrderStatusPolling, order: OrderRecord, reference: POSOrderReference
        do throws(JobFailure) {
            (connector, order, reference, _) = try await opened(delivery, as: (any OrderStatusPolling).self, what: "report order status")
        } catch {
            return Outcome(outcome: error.outcome, pollAgain: false)
        }
        if order.status.isFinal { return Self.finished(order) }
        guard order.externalOrderId != nil else {
            return Outcome(outcome: .failed(.rejected, "the POS has not confirmed the order yet", retryable: true), pollAgain: true)
        }
        let started = clock()
        let update: OrderStatusUpdate
        do throws(ConnectorFailure) {
            update = try await connector.status(of: reference)
        } catch {
            return Outcome(outcome: .failed(error.isAuthFailure ? .auth : .httpStatus, error.message, retryable: true,
                                            durationMs: clock() - started), pollAgain: true)
        }
        let durationMs = clock() - started
        var current = order
        if let reported = update.status {
            do {
                current = try await status.apply(StatusReport(status: reported, posOrderId: update.externalOrderId, occurredAt: update.occurredAt,
                                                              reason: update.reason), to: order, source: .poll).order
            } catch ServiceError.conflict(let message, let details) {
                // The POS says something our table forbids (it went back): keep what we have, look again later.
                return Outcome(outcome: .failed(.rejected, "\(update.posStatus): \(message) (\(details))", retryable: true, durationMs: durationMs),
                               pollAgain: true)
            } catch {
                return Outcome(outcome: .failed(.storage, "could not record the status: \(error)", retryable: true, durationMs: durationMs),
                               pollAgain: true)
            }
        }
        if current.status.isFinal { return Self.finished(current, durationMs: durationMs) }
        return Outcome(outcome: ConnectorOutcome(statusCode: 200, failureClass: nil, error: nil,
                                                 responseExcerpt: "POS status \(update.posStatus); order \(current.status.rawValue)", signedWith: nil,
                                                 retryable: false, retryAfterMs: nil, externalOrderId: nil, durationMs: durationMs),
                       pollAgain: true)
    }

    private static func finished(_ order: OrderRecord, durationMs: Int64 = 0) -> Outcome {
        Outcome(outcome: ConnectorOutcome(statusCode: 200, failureClass: nil, error: nil,
                                          responseExcerpt: "order is \(order.status.rawValue); polling ends", signedWith: nil, retryable: false,
                                          retryAfterMs: nil, externalOrderId: nil, durationMs: durationMs),
                pollAgain: false)
    }

    private struct JobFailure: Error {
        let outcome: ConnectorOutcome
    }

    /// The order, the connector that can do `capability` for its outlet, and the order as the POS knows it.
    private func opened<Capability>(_ delivery: Delivery, as capability: Capability.Type, what: String) async throws(JobFailure)
        -> (Capability, OrderRecord, POSOrderReference, OutletProvider) {
        guard let orderId = delivery.orderId else { throw JobFailure(outcome: .configuration("\(delivery.event) needs an order")) }
        let order: OrderRecord
        let route: Result<(Capability, ProviderConnection, OutletProvider), ConnectorDeliverer.RouteProblem>
        do {
            guard let record = try await orders.orderRecord(id: orderId, tenantId: delivery.tenantId) else {
                throw JobFailure(outcome: .configuration("order \(orderId) no longer exists"))
            }
            order = record
            route = try await deliverer.route(slug: delivery.connector, tenantId: delivery.tenantId, outletId: order.outletId, as: capability,
                                              what: what)
        } catch let failure as JobFailure {
            throw failure
        } catch {
            throw JobFailure(outcome: .failed(.storage, "could not read the order or its provider configuration", retryable: true))
        }
        switch route {
        case .failure(let problem):
            throw JobFailure(outcome: .configuration(problem.message))
        case .success(let (connector, connection, mapping)):
            guard let base = deliverer.registry.connector(delivery.connector) else {
                throw JobFailure(outcome: .configuration("unknown connector \(delivery.connector)"))
            }
            do throws(CredentialFailure) {
                let access = try deliverer.access(for: connection, connector: base)
                let reference = POSOrderReference(externalOrderId: order.externalOrderId ?? "", orderUUID: order.orderUUID,
                                                  externalOutletId: mapping.externalId, access: access)
                return (connector, order, reference, mapping)
            } catch {
                throw JobFailure(outcome: .credentialFailed(error))
            }
        }
    }
}
