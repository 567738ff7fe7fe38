import Foundation
import PosDomain
import PosServices
import PosStorage
import Testing

@Suite("Event outbox")
struct EventOutboxTests {
    static let tenant = StoreContractTests.tenant

    static func webhook(_ outletId: String, events: [String], provider: String = "p") -> NewWebhook {
        NewWebhook(tenantId: tenant.id, outletId: outletId, provider: provider, callbackUrl: "https://x.test/\(outletId)/\(provider)",
                   events: events, sealedSecret: "v1:sealed", createdAt: 3)
    }

    @Test("an event goes to the outlet's webhooks subscribed to its type, due now, with its own bytes", arguments: StoreEngines.all)
    func publishFansOut(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            let subscribed = try await stores.createWebhook(Self.webhook("outlet-1", events: ["order.paid", "outlet.updated"]))
            _ = try await stores.createWebhook(Self.webhook("outlet-1", events: ["order.paid"], provider: "q"))
            _ = try await stores.createWebhook(Self.webhook("outlet-2", events: ["outlet.updated"]))
            let payload = Array(#"{"outletId":"outlet-1","status":"CLOSED"}"#.utf8)
            let event = OutboxEvent(id: UUID().uuidString, tenantId: Self.tenant.id, type: EventCatalogue.outletUpdated,
                                    subject: EventSubject(.outlet, id: "outlet-1"), outletId: "outlet-1", payload: payload, createdAt: 2_000)
            let planned = try await stores.publish(event, connector: nil, makeDeliveryId: { UUID().uuidString })
            #expect(planned.map(\.delivery.webhookId) == [subscribed.id])
            #expect(planned.allSatisfy { $0.delivery.status == .pending && $0.delivery.attemptsStarted == 0 })

            let claimed = try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "w", expiresAt: 9_000), now: 2_000, limit: 10)
            #expect(claimed.count == 1)
            #expect(claimed.first?.event == event)
            #expect(claimed.first?.delivery.attemptsStarted == 1, "counted as started when leased")
            #expect(claimed.first?.delivery.orderId == nil)

            let listed = try await stores.deliveries(tenantId: Self.tenant.id, filter: DeliveryFilter(outletId: "outlet-1"))
            #expect(listed.map(\.event) == [EventCatalogue.outletUpdated])
        }
    }

    @Test("a connector job is one delivery to the connector, on the same queue", arguments: StoreEngines.all)
    func connectorJob(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            _ = try await stores.createWebhook(Self.webhook("outlet-1", events: ["menu.updated"]))
            let job = OutboxEvent(id: UUID().uuidString, tenantId: Self.tenant.id, type: "menu.import", subject: EventSubject(.menu, id: "m-1"),
                                  outletId: "outlet-1", payload: Array("{}".utf8), createdAt: 2_000)
            let planned = try await stores.publish(job, connector: "revel", makeDeliveryId: { UUID().uuidString })
            #expect(planned.count == 1)
            #expect(planned.first?.delivery.connector == "revel")
            #expect(planned.first?.delivery.webhookId == nil)
            let claimed = try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "w", expiresAt: 9_000), now: 2_000, limit: 10)
            #expect(claimed.map(\.event.subject) == [EventSubject(.menu, id: "m-1")])
        }
    }

    @Test("the catalogue lists what the next capabilities emit; only order.paid can be dispatched")
    func catalogue() {
        #expect(EventCatalogue.names == ["order.paid", "order.status_updated", "order.cancelled", "menu.updated", "outlet.updated",
                                         "delivery.dead_lettered", "webhook.disabled", "webhook.circuit_opened",
                                         "provider_connection.reauthorization_required"])
        #expect(EventCatalogue.alertNames.allSatisfy { !EventCatalogue.dispatchableNames.contains($0) })
        #expect(EventCatalogue.dispatchableNames == ["order.paid"])
    }
}

@Suite("Forward migration")
struct ForwardMigrationTests {
    /// Writes rows the way the version-4 schema held them: an order with its payload, a webhook
    /// delivery mid-attempt and a delivered one with an attempt.
    static func writeVersion4Rows(_ stores: SQLStores) async throws {
        _ = try await stores.engine.write { db in
            try db.execute("INSERT INTO tenants (id, subdomain, name, status, created_at) VALUES ('t-1', 'acme', 'Acme', 'active', 1)", [])
            try db.execute("""
                INSERT INTO api_keys (tenant_id, secret_hash, scopes, created_at) VALUES ('t-1', 'hash', 'internal,admin', 1)
                """, [])
            try db.execute("""
                INSERT INTO webhooks (tenant_id, outlet_id, provider, callback_url, events, secret_sealed, is_active, created_at, updated_at)
                VALUES ('t-1', 'outlet-1', 'p', 'https://x.test/h', 'order.paid', 'v1:sealed', 1, 2, 2)
                """, [])
            try db.execute("""
                INSERT INTO orders (id, tenant_id, outlet_id, event, order_uuid, order_ref_no, currency, total_pay_minor, payload,
                                    payload_sha256, dispatch_status, received_at, updated_at)
                VALUES ('order-1', 't-1', 'outlet-1', 'order.paid', 'uuid-1', 'R-1', 'SGD', 1250, ?, 'sha', 'pending', 10, 10)
                """, [SQLValue.bytes(Array(#"{"uuid": "uuid-1"}"#.utf8))])
            try db.execute("""
                INSERT INTO deliveries (id, tenant_id, order_id, webhook_id, connector, event, status, attempt_count, next_attempt_at,
                                        lease_owner, lease_expires_at, created_at, updated_at)
                VALUES ('d-1', 't-1', 'order-1', 1, 'webhook', 'order.paid', 'delivering', 1, 10, 'old-replica', 20, 10, 10)
                """, [])
            try db.execute("""
                INSERT INTO deliveries (id, tenant_id, order_id, webhook_id, connector, event, status, attempt_count, created_at, updated_at,
                                        delivered_at)
                VALUES ('d-2', 't-1', 'order-1', 1, 'webhook', 'order.paid', 'delivered', 1, 11, 11, 12)
                """, [])
            try db.execute("""
                INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms, status_code)
                VALUES ('d-2', 1, 11, 1, 200)
                """, [])
        }
    }

    static func expectMigratedForward(_ stores: SQLStores) async throws {
        // Every step after version 4, in order, none left pending: steps added later join the list by
        // themselves (a number may be skipped while another branch holds it).
        let applied = try await stores.migrate()
        #expect(applied.first == 5 && applied == applied.sorted(), "\(applied)")
        #expect(try await stores.pendingMigrations().isEmpty)
        let detail = try #require(try await stores.order(id: "order-1", tenantId: "t-1"))
        // Orders from before the status columns start at PAID, version 1, any path allowed.
        #expect(detail.order.status == .paid && detail.order.version == 1 && detail.order.fulfilment == .unknown)
        #expect(detail.deliveries.map(\.id) == ["d-1", "d-2"])
        #expect(detail.deliveries.allSatisfy { $0.eventId == "order-1" && $0.subject == EventSubject(.order, id: "order-1") })
        #expect(detail.attempts.map(\.deliveryId) == ["d-2"])
        let webhook = try #require(try await stores.webhooks(tenantId: "t-1").first)
        #expect(webhook.events == ["order.paid"])
        #expect(webhook.isActive)
        #expect(try await stores.keys(tenantId: "t-1").first?.scopes == [.internal, .admin])
        // Keys from before names and prefixes: an empty name, the id part of the prefix.
        #expect(try await stores.keys(tenantId: "t-1").first.map { [$0.name, $0.prefix] } == ["", "posk_1_"])
        // The delivery left mid-attempt by the old version is taken over with the order's bytes; the
        // attempt that was running then is counted as started.
        let claimed = try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "new", expiresAt: 1_000), now: 100, limit: 10)
        #expect(claimed.map(\.delivery.id) == ["d-1"])
        #expect(claimed.first?.event.payload == Array(#"{"uuid": "uuid-1"}"#.utf8))
        #expect(claimed.first?.delivery.attemptsStarted == 3)
    }

    @Test("a database written by the schema before the event outbox opens with nothing lost", arguments: StoreEngines.all)
    func fromVersion4(_ engine: StoreEngines.Factory) async throws {
        let (stores, cleanup) = try await engine.make()
        do {
            let sqlStores = try #require(stores as? SQLStores)
            #expect(try await sqlStores.migrate(through: 4) == [1, 2, 3, 4])
            try await Self.writeVersion4Rows(sqlStores)
            try await Self.expectMigratedForward(sqlStores)
        } catch {
            Issue.record(error)
        }
        await cleanup()
    }

    @Test("an SQLite file whose steps GRDB's migrator recorded is taken over, not migrated twice")
    func fromGRDBMigrator() async throws {
        let (stores, cleanup) = try await StoreEngines.sqlite.make()
        do {
            let sqlStores = try #require(stores as? SQLStores)
            try await sqlStores.migrate(through: 4)
            try await Self.writeVersion4Rows(sqlStores)
            // How the previous version recorded its steps.
            _ = try await sqlStores.engine.write { db in
                try db.execute("DROP TABLE schema_migrations", [])
                try db.execute("CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)", [])
                for identifier in ["v1 tenants, api keys, webhooks, orders, outbox", "v2 webhook secret rotation, ping and health",
                                   "v3 webhook circuit breaker", "v4 provider connections, outlet providers, connector progress"] {
                    try db.execute("INSERT INTO grdb_migrations (identifier) VALUES (?)", [identifier])
                }
            }
            try await Self.expectMigratedForward(sqlStores)
        } catch {
            Issue.record(error)
        }
        await cleanup()
    }
}

@Suite("Attempts that kill the process")
struct InterruptedAttemptTests {
    /// An order whose first attempt was leased to a dispatcher that died at once.
    static func orphanedOrder(_ service: TestService, tenantId: String, now: Int64) async throws -> String {
        let payload = Fixtures.dispatchBody()
        let order = NewOrder(id: UUID().uuidString.lowercased(), tenantId: tenantId, outletId: "store-uuid-123", event: "order.paid",
                             orderUUID: UUID().uuidString, orderRefNo: "R-1", builtInTransformer: nil, currency: "AED", totalPayMinor: 100,
                             payload: payload, payloadSHA256: "sha", receivedAt: now - 10_000,
                             firstAttemptLease: DeliveryLease(owner: "dead-dispatcher", expiresAt: now - 5_000))
        let accepted = try await service.stores.acceptOrder(
            order, completionWithoutTargets: DispatchCompletion(orderId: order.id, status: .noTarget, reason: "", response: nil, at: now),
            makeDeliveryId: { UUID().uuidString.lowercased() })
        guard case .created(_, let deliveries) = accepted, let delivery = deliveries.first else { throw TestFailure("no delivery") }
        return delivery.delivery.id
    }

    @Test("a delivery whose every attempt kills its process is dead-lettered after the schedule's attempts, with the reason")
    func killedEveryTime() async throws {
        let receiver = try await WebhookReceiver.start()
        let schedule = try #require(RetrySchedule(delaysMs: [0, 1_000, 1_000]))
        // Polls rarely: the worker runs only when the test says.
        let service = try await TestService.start(schedule: schedule, pollIntervalMs: 600_000)
        do {
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let now = SystemClock.now()
            let deliveryId = try await Self.orphanedOrder(service, tenantId: acme.tenant.id, now: now)
            // Attempts 2 and 3 are taken by workers that die during them (their leases are already over).
            for _ in 2...3 {
                let taken = try await service.stores.claimDueDeliveries(lease: DeliveryLease(owner: "doomed", expiresAt: now - 1), now: now, limit: 10)
                #expect(taken.map(\.delivery.id) == [deliveryId])
            }
            service.services.worker.wake()
            let dead = await service.events.first(timeoutSeconds: 10) { $0.transition.status == .dead }
            #expect(dead?.attempt.attemptNumber == 3)
            let detail = try #require(try await service.stores.delivery(id: deliveryId, tenantId: acme.tenant.id))
            #expect(detail.delivery.status == .dead)
            #expect(detail.attempts.map(\.attemptNumber) == [1, 2, 3])
            #expect(detail.attempts.allSatisfy { $0.errorClass == "interrupted" })
            #expect(detail.delivery.lastError?.contains("never finished") == true, "\(detail.delivery.lastError ?? "")")
            #expect(receiver.received.isEmpty, "a fourth attempt was never made")
        } catch {
            Issue.record(error)
        }
        await service.stop()
        await receiver.stop()
    }

    @Test("an attempt interrupted once is recorded as such, and the next one delivers")
    func interruptedOnce() async throws {
        let receiver = try await WebhookReceiver.start()
        let service = try await TestService.start(pollIntervalMs: 600_000)
        do {
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let deliveryId = try await Self.orphanedOrder(service, tenantId: acme.tenant.id, now: SystemClock.now())
            service.services.worker.wake()
            let delivered = await service.events.first(timeoutSeconds: 10) { $0.transition.status == .delivered }
            #expect(delivered?.attempt.attemptNumber == 2)
            let detail = try #require(try await service.stores.delivery(id: deliveryId, tenantId: acme.tenant.id))
            #expect(detail.attempts.map(\.errorClass) == ["interrupted", nil])
            #expect(receiver.received.count == 1)
        } catch {
            Issue.record(error)
        }
        await service.stop()
        await receiver.stop()
    }
}
