import Foundation
import PosDomain
import PosServices
import PosStorage
import Testing

@Suite("Delivery kinds")
struct DeliveryKindTests {
    @Test("every event to a webhook or to a POS connector has its kind; a connector delivery of an event nothing handles has none")
    func kindRule() {
        let catalogued = EventCatalogue.events.map(\.name)
        for event in catalogued {
            let expected: DeliveryKind = event == EventCatalogue.orderPaid ? .webhookOrder : .webhookEvent
            #expect(DeliveryKind(event: event, toWebhook: true) == expected, "\(event)")
        }
        // Jobs never go to webhooks; if one did, it would be an event like any other.
        for job in [DeliveryKind.cancelJob, DeliveryKind.pollJob, DeliveryKind.importJob] {
            #expect(DeliveryKind(event: job, toWebhook: true) == .webhookEvent, "\(job)")
        }
        #expect(DeliveryKind(event: EventCatalogue.orderPaid, toWebhook: false) == .posOrder)
        #expect(DeliveryKind(event: DeliveryKind.cancelJob, toWebhook: false) == .posCancel)
        #expect(DeliveryKind(event: DeliveryKind.pollJob, toWebhook: false) == .statusPoll)
        #expect(DeliveryKind(event: DeliveryKind.importJob, toWebhook: false) == .menuImport)
        for event in catalogued where event != EventCatalogue.orderPaid {
            #expect(DeliveryKind(event: event, toWebhook: false) == nil, "\(event)")
        }
        #expect(DeliveryKind(event: "pos.unknown_job", toWebhook: false) == nil)
        #expect(OrderStatusService.cancelJob == DeliveryKind.cancelJob && OrderStatusService.pollJob == DeliveryKind.pollJob)
        #expect(MenuImportService.job == DeliveryKind.importJob)
    }

    @Test("what each kind decides: the order's dispatch, its turn, its schedule, and whether it counts for enqueue latency")
    func kindDecisions() {
        let table: [(DeliveryKind, dispatchesOrder: Bool, ordered: Bool, pollSchedule: Bool, enqueueLatency: Bool)] = [
            (.webhookEvent, false, true, false, true),
            (.webhookOrder, true, true, false, true),
            (.posOrder, true, true, false, true),
            (.posCancel, false, true, false, true),
            (.statusPoll, false, false, true, false),
            (.menuImport, false, false, false, true),
        ]
        #expect(Set(table.map(\.0)) == Set(DeliveryKind.allCases))
        for row in table {
            #expect(row.0.dispatchesOrder == row.dispatchesOrder, "\(row.0)")
            #expect(row.0.isOrdered == row.ordered, "\(row.0)")
            #expect(row.0.usesPollSchedule == row.pollSchedule, "\(row.0)")
            #expect(row.0.measuresEnqueueLatency == row.enqueueLatency, "\(row.0)")
        }
    }

    @Test("a planned delivery's kind follows its event and target: a webhook's row or a connector's")
    func plannedKinds() {
        let target = Self.webhookTarget(id: 7)
        func planned(_ type: String, connector: String?) -> [PlannedDelivery] {
            let event = OutboxEvent(id: "e", tenantId: "t", type: type, subject: EventSubject(.order, id: "o"), outletId: "store",
                                    payload: [], createdAt: 0)
            return OutboxPolicy.plan(event, connector: connector, webhooks: [target], firstAttempt: .outbox, makeId: { "d" })
        }
        #expect(planned(EventCatalogue.orderPaid, connector: nil).map(\.delivery.kind) == [.webhookOrder])
        #expect(planned(EventCatalogue.orderPaid, connector: nil).map(\.delivery.targetLabel) == ["webhook 7"])
        #expect(planned(EventCatalogue.orderPaid, connector: "oktopos").map(\.delivery.kind) == [.posOrder])
        #expect(planned(EventCatalogue.orderPaid, connector: "oktopos").map(\.delivery.targetLabel) == ["oktopos"])
        #expect(planned(DeliveryKind.pollJob, connector: "oktopos").map(\.delivery.kind) == [.statusPoll])
    }

    @Test("the kind decides the turn: a status poll goes past the order's pending cancellation, a second cancellation waits for it",
          arguments: StoreEngines.all)
    func kindDecidesTheTurn(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            let tenant = StoreContractTests.tenant
            try await stores.createTenant(tenant, createdAt: 1)
            func publish(_ job: String, at createdAt: Int64) async throws -> String? {
                let event = OutboxEvent(id: UUID().uuidString, tenantId: tenant.id, type: job, subject: EventSubject(.order, id: "order-1"),
                                        outletId: "outlet-1", payload: Array("{}".utf8), createdAt: createdAt)
                return try await stores.publish(event, connector: "oktopos", makeDeliveryId: { UUID().uuidString }).first?.delivery.id
            }
            let cancel = try await publish(DeliveryKind.cancelJob, at: 1_000)
            let poll = try await publish(DeliveryKind.pollJob, at: 1_001)
            _ = try await publish(DeliveryKind.cancelJob, at: 1_002)
            let claimed = try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "w", expiresAt: 9_000), now: 2_000, limit: 10)
            #expect(Set(claimed.map(\.delivery.id)) == Set([cancel, poll].compactMap { $0 }))
            #expect(Set(claimed.compactMap(\.delivery.kind)) == [.posCancel, .statusPoll])
        }
    }

    private static func webhookTarget(id: Int64) -> WebhookTarget {
        let webhook = Webhook(id: id, tenantId: "t", outletId: "store", provider: "p", callbackUrl: "https://example.test/hook",
                              events: [EventCatalogue.orderPaid], isActive: true, createdAt: 0, updatedAt: 0)
        return WebhookTarget(webhook: webhook, sealedSecret: "")
    }

    @Test("an order delivery retried by the worker records the same dispatch outcome as one delivered inline")
    func workerAndInlineFinishAlike() async throws {
        let receiver = try await WebhookReceiver.start(statuses: [503])
        defer { Task { await receiver.stop() } }
        try await withTestService(schedule: OutboxWorkerTests.fast) { service in
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let retried = try await service.dispatch(Fixtures.dispatchBody(order: Fixtures.order(uuid: "ord-retried")), key: acme.internalKey)
            #expect(retried.json["dispatched"] as? Bool == false, "\(retried.text)")
            let delivered = await service.events.first { $0.transition.status == .delivered }
            #expect(delivered?.attempt.attemptNumber == 2)

            let inline = try await service.dispatch(Fixtures.dispatchBody(order: Fixtures.order(uuid: "ord-inline")), key: acme.internalKey)
            #expect(inline.json["dispatched"] as? Bool == true, "\(inline.text)")

            let byWorker = try #require(try await service.stores.order(id: retried.json["orderId"] as? String ?? "", tenantId: acme.tenant.id))
            let byDispatch = try #require(try await service.stores.order(id: inline.json["orderId"] as? String ?? "", tenantId: acme.tenant.id))
            #expect(byWorker.order.dispatchStatus == .dispatched)
            #expect(byWorker.order.dispatchStatus == byDispatch.order.dispatchStatus)
            #expect(byWorker.order.dispatchReason == byDispatch.order.dispatchReason)
            #expect(byDispatch.order.dispatchReason == inline.json["reason"] as? String, "the inline response tells what was recorded")
            #expect(byWorker.order.externalOrderId == byDispatch.order.externalOrderId)
        }
    }

    @Test("a POS order delivered on its retry records what an inline one does, and its status poll follows the same way")
    func posOrderRetriedAndInline() async throws {
        try await ConnectorDispatchTests.withRig { rig in
            try await rig.connect("desibits")
            rig.sandboxes.desibits.failNext("/api/v1/pos/orders/{id}/payment", status: 503)
            let retried = try await rig.dispatch("desibits")
            #expect(retried.json["dispatched"] as? Bool == false, "\(retried.text)")
            let delivered = await rig.service.events.first { $0.transition.status == .delivered }
            #expect(delivered?.attempt.attemptNumber == 2)
            let inline = try await rig.dispatch("desibits", order: Fixtures.richOrder.replacingOccurrences(
                of: "ord-7f3d2c1e-0000-4000-8000-000000000042", with: "ord-7f3d2c1e-0000-4000-8000-000000000043"))
            #expect(inline.json["dispatched"] as? Bool == true, "\(inline.text)")

            let byWorker = try await rig.order(try #require(retried.json["orderId"] as? String))
            let byDispatch = try await rig.order(try #require(inline.json["orderId"] as? String))
            let workerExternal = try #require(byWorker["externalOrderId"] as? String)
            let inlineExternal = try #require(byDispatch["externalOrderId"] as? String)
            #expect(byWorker["dispatchStatus"] as? String == "dispatched" && byDispatch["dispatchStatus"] as? String == "dispatched")
            let inlineReason = try #require(inline.json["reason"] as? String)
            #expect(byDispatch["dispatchReason"] as? String == inlineReason)
            #expect(byWorker["dispatchReason"] as? String == inlineReason.replacingOccurrences(of: inlineExternal, with: workerExternal))
            for order in [byWorker, byDispatch] {
                #expect(StatusFlowTests.delivery(order, event: DeliveryKind.pollJob)?["connector"] as? String == "desibits",
                        "a poll job follows the dispatch")
            }
        }
    }
}
