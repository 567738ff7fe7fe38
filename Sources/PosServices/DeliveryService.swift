import PosDomain
import PosStorage

/// Inspection and replay of deliveries, tenant-scoped.
public struct DeliveryService: Sendable {
    private let outbox: any OutboxStore
    private let worker: OutboxWorker
    private let clock: ServiceClock

    public init(outbox: any OutboxStore, worker: OutboxWorker, clock: @escaping ServiceClock) {
        self.outbox = outbox
        self.worker = worker
        self.clock = clock
    }

    public func delivery(id: String, tenant: Tenant) async throws -> DeliveryDetail {
        guard let detail = try await translatingStoreErrors({ try await outbox.delivery(id: id, tenantId: tenant.id) }) else {
            throw ServiceError.notFound("no delivery with id \"\(id)\"")
        }
        return detail
    }

    /// Makes the delivery due now (also from `dead`) and wakes the worker. The retry keeps the
    /// delivery's id (`X-Cata-Delivery-ID`, `webhook-id`) with a new timestamp and signature.
    public func retry(id: String, tenant: Tenant) async throws -> DeliveryDetail {
        guard try await translatingStoreErrors({ try await outbox.requeueDelivery(id: id, tenantId: tenant.id, now: clock()) }) != nil else {
            throw ServiceError.notFound("no delivery with id \"\(id)\"")
        }
        worker.wake()
        return try await delivery(id: id, tenant: tenant)
    }
}
