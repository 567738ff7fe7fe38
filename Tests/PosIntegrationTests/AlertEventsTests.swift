import Crypto
import Foundation
import Logging
import PosDomain
import PosServices
import PosStorage
import Testing

/// Alerts are ordinary events of the tenant: raised with their cause, fanned out to the tenant's
/// subscribed webhooks (tenant-wide ones included), signed and retried — and never fed back to
/// the webhook they are about.
@Suite("Alert events")
struct AlertEventsTests {
    static let tenant = StoreContractTests.tenant
    static let alertNames = [EventCatalogue.deliveryDeadLettered, EventCatalogue.webhookDisabled, EventCatalogue.webhookCircuitOpened,
                             EventCatalogue.reauthorizationRequired]
    /// Two attempts, then dead.
    static let twoAttempts = RetrySchedule(delaysMs: [0, 10])!
    /// Waits for the outbox: generous, as a loaded machine can hold an attempt up for seconds.
    static let patience: Double = 30
    /// A receiver that answers 500 to everything it gets in a test.
    static let alwaysFailing = Array(repeating: 500, count: 50)

    // MARK: Through the service

    /// Registers a tenant-wide webhook (no `outletId`) through the API.
    static func registerTenantWide(_ service: TestService, url: String, events: [String], key: String,
                                   provider: String = "ops-relay") async throws -> (id: Int, secret: String) {
        let events = events.map { "\"\($0)\"" }.joined(separator: ",")
        let body = Array(#"{"provider":"\#(provider)","callbackUrl":"\#(url)","events":[\#(events)]}"#.utf8)
        let reply = try await service.call("POST", "/api/v1/webhooks/register", key: key, json: body)
        guard reply.status == 201, let webhook = reply.json["webhook"] as? [String: Any],
              let id = webhook["id"] as? Int, let secret = webhook["secret"] as? String
        else { throw TestFailure("register failed: \(reply.status) \(reply.text)") }
        #expect(webhook.keys.contains("outletId") == false, "a tenant-wide webhook has no outletId")
        return (id, secret)
    }

    static func json(_ received: WebhookReceiver.Received) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(received.body))) as? [String: Any] ?? [:]
    }

    /// Whether the request carries the `X-Cata-Signature` of `secret` over its exact bytes.
    static func signedWith(_ secret: String, _ received: WebhookReceiver.Received) -> Bool {
        guard let decoded = WebhookSecret(encoded: secret) else { return false }
        let mac = HMAC<SHA256>.authenticationCode(for: received.body, using: SymmetricKey(data: decoded.bytes))
        return received.header("X-Cata-Signature") == "sha256=" + Hex.encode(mac)
    }

    @Test("a subscribed webhook receives delivery.dead_lettered once per dead delivery, and once more when a replay dies again")
    func deadLetteredOncePerDeadDelivery() async throws {
        let relay = try await WebhookReceiver.start()
        let pos = try await WebhookReceiver.start(statuses: Self.alwaysFailing)
        defer { Task { await relay.stop(); await pos.stop() } }
        try await withTestService(schedule: Self.twoAttempts) { service in
            let acme = try await service.tenant("acme")
            let alerts = try await Self.registerTenantWide(service, url: relay.url, events: [EventCatalogue.deliveryDeadLettered], key: acme.adminKey)
            let outletHook = try await service.registerWebhook(outletId: "store-uuid-123", url: pos.url, key: acme.partnerKey)
            for uuid in ["dies-1", "dies-2"] {
                _ = try await service.dispatch(Fixtures.dispatchBody(order: Fixtures.order(uuid: uuid)), key: acme.internalKey)
            }
            let dead = await service.events.attempts(ofDifferentDeliveries: 2, timeoutSeconds: Self.patience) { $0.transition.status == .dead }
            #expect(dead.count == 2)
            // The only deliveries that can succeed are the relay's alerts.
            let delivered = await service.events.attempts(ofDifferentDeliveries: 2, timeoutSeconds: Self.patience) { $0.transition.status == .delivered }
            #expect(delivered.count == 2)
            #expect(relay.received.count == 2)
            let bodies = relay.received.map(Self.json)
            #expect(Set(bodies.compactMap { $0["deliveryId"] as? String }) == Set(dead.map(\.attempt.deliveryId)))
            for (received, body) in zip(relay.received, bodies) {
                #expect(received.header("X-Cata-Event") == EventCatalogue.deliveryDeadLettered)
                #expect(Self.signedWith(alerts.secret, received), "signed with the relay's secret")
                #expect(body["event"] as? String == "order.paid")
                #expect(body["attempts"] as? Int == 2)
                #expect(body["outletId"] as? String == "store-uuid-123")
                #expect((body["reason"] as? String)?.contains("500") == true, "\(body)")
                let target = body["target"] as? [String: Any]
                #expect(target?["kind"] as? String == "webhook")
                #expect(target?["webhookId"] as? Int == outletHook.id)
                #expect((body["subject"] as? [String: Any])?["kind"] as? String == "order")
                #expect(body["occurredAt"] as? String != nil)
            }

            // A replay that dies again is one more dead letter.
            let replayed = dead[0].attempt.deliveryId
            let retry = try await service.call("POST", "/api/v1/deliveries/\(replayed)/retry", key: acme.internalKey)
            #expect(retry.status == 200 || retry.status == 202, "\(retry.text)")
            _ = try #require(await service.events.first(timeoutSeconds: Self.patience) { $0.attempt.deliveryId == replayed && $0.attempt.attemptNumber == 3 })
            let third = await service.events.attempts(ofDifferentDeliveries: 3, timeoutSeconds: Self.patience) { $0.transition.status == .delivered }
            #expect(third.count == 3)
            #expect(relay.received.count == 3)
            #expect(relay.received.last.map(Self.json)?["deliveryId"] as? String == replayed)
            #expect(relay.received.last.map(Self.json)?["attempts"] as? Int == 3)
            #expect(pos.received.allSatisfy { $0.header("X-Cata-Event") == "order.paid" })
        }
    }

    @Test("a webhook's circuit opening and its disabling are alerts to the tenant's subscribed webhooks")
    func circuitOpenedAndDisabled() async throws {
        let relay = try await WebhookReceiver.start()
        let pos = try await WebhookReceiver.start(statuses: Self.alwaysFailing)
        defer { Task { await relay.stop(); await pos.stop() } }
        // The second failure, ten milliseconds or more after the first, opens the circuit and disables the webhook.
        let policy = EndpointHealthPolicy(failureThreshold: 2, cooldownMs: 60_000, disableAfterMs: 1)
        try await withTestService(schedule: Self.twoAttempts, health: policy) { service in
            let acme = try await service.tenant("acme")
            _ = try await Self.registerTenantWide(service, url: relay.url, events: [EventCatalogue.webhookCircuitOpened, EventCatalogue.webhookDisabled],
                                                  key: acme.partnerKey)
            let failing = try await service.registerWebhook(outletId: "store-uuid-123", url: pos.url, key: acme.partnerKey)
            _ = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            let delivered = await service.events.attempts(ofDifferentDeliveries: 2, timeoutSeconds: Self.patience) { $0.transition.status == .delivered }
            #expect(delivered.count == 2)
            let byType = Dictionary(relay.received.map { ($0.header("X-Cata-Event") ?? "", Self.json($0)) }, uniquingKeysWith: { first, _ in first })
            #expect(Set(byType.keys) == [EventCatalogue.webhookCircuitOpened, EventCatalogue.webhookDisabled])
            for body in byType.values {
                #expect(body["webhookId"] as? Int == failing.id)
                #expect(body["outletId"] as? String == "store-uuid-123")
                #expect(body["provider"] as? String == "acme-pos")
                #expect(body["consecutiveFailures"] as? Int == 2)
                #expect(body.keys.contains("callbackUrl") == false, "never the URL, which may carry credentials")
            }
            #expect(byType[EventCatalogue.webhookCircuitOpened]?["circuitOpenUntil"] as? String != nil)
            #expect((byType[EventCatalogue.webhookDisabled]?["reason"] as? String)?.contains("re-enable") == true)
        }
    }

    @Test("no loop: an alert never goes to the webhook it is about, even a tenant-wide one subscribed to it")
    func notToItsOwnWebhook() async throws {
        let relay = try await WebhookReceiver.start()
        let failingRelay = try await WebhookReceiver.start(statuses: Self.alwaysFailing)
        defer { Task { await relay.stop(); await failingRelay.stop() } }
        let policy = EndpointHealthPolicy(failureThreshold: 2, cooldownMs: 60_000, disableAfterMs: 86_400_000)
        try await withTestService(schedule: Self.twoAttempts, health: policy) { service in
            let acme = try await service.tenant("acme")
            let ok = try await Self.registerTenantWide(service, url: relay.url, events: Self.alertNames, key: acme.partnerKey, provider: "relay-ok")
            // Tenant-wide, so it gets the outlet's order too, and subscribed to every alert — its own included.
            let failing = try await Self.registerTenantWide(service, url: failingRelay.url, events: ["order.paid"] + Self.alertNames,
                                                            key: acme.partnerKey, provider: "relay-failing")
            _ = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            _ = try #require(await service.events.first(timeoutSeconds: Self.patience) { $0.transition.status == .dead })
            // Its delivery's dead letter and its circuit, queued with the death: both to the other relay, none to it.
            let alerts = try await service.stores.deliveries(tenantId: acme.tenant.id, filter: DeliveryFilter())
                .filter { EventCatalogue.alertNames.contains($0.event) }
            #expect(Set(alerts.map(\.event)) == [EventCatalogue.deliveryDeadLettered, EventCatalogue.webhookCircuitOpened])
            #expect(alerts.count == 2 && alerts.allSatisfy { $0.webhookId == Int64(ok.id) })
            #expect(failingRelay.received.allSatisfy { $0.header("X-Cata-Event") == "order.paid" })
            let toFailing = try await service.stores.deliveries(tenantId: acme.tenant.id, filter: DeliveryFilter(webhookId: Int64(failing.id)))
            #expect(toFailing.map(\.event) == ["order.paid"], "no alert about itself was even queued for it")
        }
    }

    @Test("no loop: a dead delivery of an alert raises no delivery.dead_lettered")
    func deadAlertRaisesNothing() async throws {
        let relay = try await WebhookReceiver.start()
        let failingRelay = try await WebhookReceiver.start(statuses: Self.alwaysFailing)
        let pos = try await WebhookReceiver.start(statuses: Self.alwaysFailing)
        defer { Task { await relay.stop(); await failingRelay.stop(); await pos.stop() } }
        try await withTestService(schedule: Self.twoAttempts) { service in
            let acme = try await service.tenant("acme")
            _ = try await Self.registerTenantWide(service, url: relay.url, events: [EventCatalogue.deliveryDeadLettered], key: acme.partnerKey,
                                                  provider: "relay-ok")
            let failing = try await Self.registerTenantWide(service, url: failingRelay.url, events: [EventCatalogue.deliveryDeadLettered],
                                                            key: acme.partnerKey, provider: "relay-failing")
            _ = try await service.registerWebhook(outletId: "store-uuid-123", url: pos.url, key: acme.partnerKey)
            _ = try await service.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            // The order's delivery dies, then the failing relay's alert about it.
            let dead = await service.events.attempts(ofDifferentDeliveries: 2, timeoutSeconds: Self.patience) { $0.transition.status == .dead }
            #expect(dead.count == 2)
            let toFailing = try await service.stores.deliveries(tenantId: acme.tenant.id, filter: DeliveryFilter(webhookId: Int64(failing.id)))
            #expect(Set(dead.map(\.attempt.deliveryId)).isSuperset(of: toFailing.map(\.id)))
            // Recorded with its cause: had the alert's death raised one, it would be queued by now.
            let alerts = try await service.stores.deliveries(tenantId: acme.tenant.id, filter: DeliveryFilter(status: nil))
                .filter { $0.event == EventCatalogue.deliveryDeadLettered }
            #expect(alerts.count == 2, "one dead letter (the order's), to each relay")
            _ = try #require(await service.events.first(timeoutSeconds: Self.patience) { $0.transition.status == .delivered })
            #expect(relay.received.count == 1)
        }
    }

    @Test("a webhook registered without outletId is tenant-wide: read without one, one per provider, shown as all outlets in the console")
    func tenantWideRegistration() async throws {
        let relay = try await WebhookReceiver.start()
        defer { Task { await relay.stop() } }
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let registered = try await Self.registerTenantWide(service, url: relay.url, events: ["order.paid"], key: acme.partnerKey)
            let ping = try #require(relay.pings.first)
            #expect(Self.json(ping).keys.contains("outletId"))
            #expect(Self.json(ping)["outletId"] is NSNull)
            let listed = try await service.call("GET", "/api/v1/webhooks/\(registered.id)", key: acme.partnerKey)
            #expect(listed.status == 200)
            #expect(listed.json.keys.contains("outletId") == false)
            let again = try await service.call("POST", "/api/v1/webhooks/register", key: acme.partnerKey, json: Array(
                #"{"outletId":null,"provider":"ops-relay","callbackUrl":"\#(relay.url)","events":["order.paid"]}"#.utf8))
            #expect(again.status == 409, "one tenant-wide webhook per provider: \(again.text)")
            let blank = try await service.call("POST", "/api/v1/webhooks/register", key: acme.partnerKey, json: Array(
                #"{"outletId":" ","provider":"other","callbackUrl":"\#(relay.url)","events":["order.paid"]}"#.utf8))
            #expect(blank.status == 400)
            #expect(blank.error["field"] as? String == "outletId")
            let catalogue = try await service.call("GET", "/api/v1/webhooks/events")
            let names = (catalogue.json["events"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(Set(Self.alertNames).isSubset(of: Set(names)))
            // The console lists and shows it as a webhook of all outlets.
            let browser = try await ConsolePagesTests.Browser.signIn(service, key: acme.adminKey)
            for path in ["/console/webhooks", "/console/webhooks/\(registered.id)"] {
                let page = try await browser.get(path)
                #expect(page.status == 200)
                #expect(page.text.contains("all outlets"), "\(path)")
            }
            // A blank outlet in the console's form registers one too.
            let created = try await browser.post("/console/webhooks", [("outletId", " "), ("provider", "console-relay"), ("callbackUrl", relay.url),
                                                                       ("events[]", EventCatalogue.deliveryDeadLettered)])
            #expect(created.status == 201, "\(created.text)")
            let fromConsole = try await service.services.webhooks.webhooks(tenant: acme.tenant).first { $0.provider == "console-relay" }
            #expect(fromConsole != nil && fromConsole?.outletId == nil)
        }
    }

    // MARK: In the stores, on both engines

    static func webhook(_ outletId: String?, events: [String], provider: String = "p") -> NewWebhook {
        NewWebhook(tenantId: tenant.id, outletId: outletId, provider: provider, callbackUrl: "https://x.test/\(outletId ?? "all")/\(provider)",
                   events: events, sealedSecret: "v1:sealed", createdAt: 3)
    }

    static func event(_ type: String, outletId: String?, at time: Int64 = 2_000) -> OutboxEvent {
        OutboxEvent(id: UUID().uuidString, tenantId: tenant.id, type: type, subject: EventSubject(.outlet, id: outletId ?? "-"),
                    outletId: outletId, payload: Array("{}".utf8), createdAt: time)
    }

    static func dead(_ claimed: ClaimedDelivery, number: Int, at time: Int64) -> RecordedAttempt {
        RecordedAttempt(attempt: DeliveryAttempt(deliveryId: claimed.delivery.id, attemptNumber: number, startedAt: time, durationMs: 1, statusCode: 500,
                                                 errorClass: "http", error: "HTTP 500", responseExcerpt: nil, signedWith: nil),
                        transition: DeliveryTransition(status: .dead, nextAttemptAt: nil), at: time)
    }

    static func deliveries(_ stores: any StoreEngine, event type: String) async throws -> [Delivery] {
        try await stores.deliveries(tenantId: tenant.id, filter: DeliveryFilter()).filter { $0.event == type }
    }

    @Test("tenant-wide webhooks get the events of every outlet and of none; outlet webhooks only their outlet's", arguments: StoreEngines.all)
    func fanOut(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            let wide = try await stores.createWebhook(Self.webhook(nil, events: ["outlet.updated"]))
            let outlet1 = try await stores.createWebhook(Self.webhook("outlet-1", events: ["outlet.updated"]))
            let outlet2 = try await stores.createWebhook(Self.webhook("outlet-2", events: ["outlet.updated"]))
            #expect(wide.outletId == nil)
            let ofOutlet1 = try await stores.publish(Self.event("outlet.updated", outletId: "outlet-1"), connector: nil, makeDeliveryId: { UUID().uuidString })
            #expect(Set(ofOutlet1.compactMap(\.delivery.webhookId)) == [wide.id, outlet1.id])
            let ofNone = try await stores.publish(Self.event("outlet.updated", outletId: nil), connector: nil, makeDeliveryId: { UUID().uuidString })
            #expect(ofNone.compactMap(\.delivery.webhookId) == [wide.id])
            #expect(outlet2.outletId == "outlet-2")
            await #expect(throws: StoreError.self) { _ = try await stores.createWebhook(Self.webhook(nil, events: ["order.paid"])) }
            _ = try await stores.createWebhook(Self.webhook(nil, events: ["order.paid"], provider: "q"))
            #expect(try await stores.webhooks(tenantId: Self.tenant.id).filter { $0.outletId == nil }.count == 2)
        }
    }

    @Test("a dead delivery raises one delivery.dead_lettered with its cause; not again, not to its own webhook, not for an alert",
          arguments: StoreEngines.all)
    func deadLetteredInTheStore(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            // Tenant-wide, subscribed to the outlet's events and the alerts: never gets its own.
            let wide = try await stores.createWebhook(Self.webhook(nil, events: ["outlet.updated", EventCatalogue.deliveryDeadLettered]))
            let outletHook = try await stores.createWebhook(Self.webhook("outlet-1", events: ["outlet.updated", EventCatalogue.deliveryDeadLettered]))
            _ = try await stores.publish(Self.event("outlet.updated", outletId: "outlet-1"), connector: nil, makeDeliveryId: { UUID().uuidString })
            let claimed = try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "w", expiresAt: 9_000), now: 2_000, limit: 10)
            let toOutlet = try #require(claimed.first { $0.delivery.webhookId == outletHook.id })
            try await stores.recordAttempts([Self.dead(toOutlet, number: 1, at: 2_100)], completion: nil, health: [])
            let alerts = try await Self.deliveries(stores, event: EventCatalogue.deliveryDeadLettered)
            #expect(alerts.map(\.webhookId) == [wide.id], "to the tenant-wide webhook, not the outlet webhook it is about")
            #expect(alerts.first?.subject == EventSubject(.delivery, id: toOutlet.delivery.id))

            // Recorded dead again (a lease that ran out): the transition happened once.
            try await stores.recordAttempts([Self.dead(toOutlet, number: 2, at: 2_200)], completion: nil, health: [])
            #expect(try await Self.deliveries(stores, event: EventCatalogue.deliveryDeadLettered).count == 1)

            // The wide webhook's own delivery dies: its alert goes to the outlet webhook only.
            let toWide = try #require(claimed.first { $0.delivery.webhookId == wide.id })
            try await stores.recordAttempts([Self.dead(toWide, number: 1, at: 2_300)], completion: nil, health: [])
            let both = try await Self.deliveries(stores, event: EventCatalogue.deliveryDeadLettered)
            #expect(both.count == 2)
            #expect(both.filter { $0.subject.id == toWide.delivery.id }.map(\.webhookId) == [outletHook.id])

            // The alerts' own deliveries die: nothing more.
            let alertClaims = try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "w", expiresAt: 9_000), now: 3_000, limit: 10)
            #expect(alertClaims.count == 2)
            try await stores.recordAttempts(alertClaims.map { Self.dead($0, number: 1, at: 3_100) }, completion: nil, health: [])
            #expect(try await Self.deliveries(stores, event: EventCatalogue.deliveryDeadLettered).count == 2)

            // The alert's payload names the dead delivery, its target, subject and cause.
            let event = try #require(alertClaims.first { $0.delivery.subject.id == toOutlet.delivery.id }?.event)
            #expect(event.outletId == "outlet-1")
            let body = try #require(JSONValue(parsing: String(decoding: event.payload, as: UTF8.self)))
            #expect(body["deliveryId"]?.stringValue == toOutlet.delivery.id)
            #expect(body["event"]?.stringValue == "outlet.updated")
            #expect(body["reason"]?.stringValue == "HTTP 500")
            #expect(body["attempts"] == .integer(1))
            #expect(body["target"] == .object([("kind", .string("webhook")), ("webhookId", .integer(outletHook.id))]))
        }
    }

    @Test("the circuit opening and the disabling raise one alert each per transition", arguments: StoreEngines.all)
    func healthTransitions(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            let wide = try await stores.createWebhook(Self.webhook(nil, events: [EventCatalogue.webhookCircuitOpened, EventCatalogue.webhookDisabled]))
            let failing = try await stores.createWebhook(Self.webhook("outlet-1", events: ["outlet.updated"]))
            let open = EndpointHealth(consecutiveFailures: 5, failingSince: 1_000, circuitOpenUntil: 70_000)
            func update(_ health: EndpointHealth, disabled: String? = nil, at time: Int64) -> EndpointHealthUpdate {
                EndpointHealthUpdate(webhookId: failing.id, verdict: .init(health: health, disabledReason: disabled), at: time)
            }
            try await stores.recordAttempts([], completion: nil, health: [update(open, at: 10_000)])
            // Still failing while open (a failed probe): no second opening.
            var reopened = open
            reopened.consecutiveFailures = 6
            try await stores.recordAttempts([], completion: nil, health: [update(reopened, at: 11_000)])
            #expect(try await Self.deliveries(stores, event: EventCatalogue.webhookCircuitOpened).map(\.webhookId) == [wide.id])

            try await stores.recordAttempts([], completion: nil, health: [update(reopened, disabled: "failing for days", at: 12_000)])
            try await stores.recordAttempts([], completion: nil, health: [update(reopened, disabled: "failing for days", at: 13_000)])
            let disabled = try await Self.deliveries(stores, event: EventCatalogue.webhookDisabled)
            #expect(disabled.map(\.webhookId) == [wide.id])
            #expect(disabled.first?.subject == EventSubject(.webhook, id: String(failing.id)))

            // Re-enabled, it closes; the next opening is a new transition.
            _ = try await stores.updateWebhook(id: failing.id, tenantId: Self.tenant.id, change: WebhookChange(isActive: true), at: 14_000)
            try await stores.recordAttempts([], completion: nil, health: [update(open, at: 15_000)])
            #expect(try await Self.deliveries(stores, event: EventCatalogue.webhookCircuitOpened).count == 2)
        }
    }

    @Test("a database before tenant-wide webhooks keeps its webhooks, their ids and deliveries through step 16", arguments: StoreEngines.all)
    func migratesToTenantWide(_ engine: StoreEngines.Factory) async throws {
        let (stores, cleanup) = try await engine.make()
        do {
            let sqlStores = try #require(stores as? SQLStores)
            try await sqlStores.migrate(through: 15)
            try await stores.createTenant(Self.tenant, createdAt: 1)
            let old = try await stores.createWebhook(Self.webhook("outlet-1", events: ["outlet.updated"]))
            _ = try await stores.updateWebhook(id: old.id, tenantId: Self.tenant.id, change: WebhookChange(isActive: false), at: 4)
            _ = try await stores.updateWebhook(id: old.id, tenantId: Self.tenant.id, change: WebhookChange(isActive: true), at: 5)
            // A delivery to it as the version-15 schema wrote one (today's code writes later columns).
            let tenantId = Self.tenant.id, webhookId = old.id
            _ = try await sqlStores.engine.write { db in
                try db.execute("""
                    INSERT INTO events (id, tenant_id, type, subject_type, subject_id, outlet_id, payload, created_at)
                    VALUES ('ev-1', ?, 'outlet.updated', 'outlet', 'outlet-1', 'outlet-1', ?, 2000)
                    """, [tenantId, SQLValue.bytes(Array("{}".utf8))])
                try db.execute("""
                    INSERT INTO deliveries (id, tenant_id, event_id, subject_type, subject_id, webhook_id, connector, event, status, attempt_count,
                                            attempts_started, next_attempt_at, created_at, updated_at)
                    VALUES ('d-1', ?, 'ev-1', 'outlet', 'outlet-1', ?, 'webhook', 'outlet.updated', 'pending', 0, 0, 2000, 2000, 2000)
                    """, [tenantId, webhookId])
            }
            #expect(try await sqlStores.migrate() == [16, 17, 18])

            let kept = try #require(try await stores.webhook(id: old.id, tenantId: Self.tenant.id))
            #expect(kept.outletId == "outlet-1" && kept.events == ["outlet.updated"] && kept.isActive && kept.updatedAt == 5)
            let claimed = try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "w", expiresAt: 9_000), now: 2_000, limit: 10)
            #expect(claimed.map(\.target?.webhook.id) == [old.id], "the delivery still finds its webhook")
            let wide = try await stores.createWebhook(Self.webhook(nil, events: ["outlet.updated"]))
            #expect(wide.id > old.id)
            await #expect(throws: StoreError.self) { _ = try await stores.createWebhook(Self.webhook("outlet-1", events: ["order.paid"])) }
        } catch {
            Issue.record(error)
        }
        await cleanup()
    }

    @Test("a connection marked reauthorization_required raises the alert once, to tenant-wide webhooks", arguments: StoreEngines.all)
    func reauthorizationRequired(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            let wide = try await stores.createWebhook(Self.webhook(nil, events: [EventCatalogue.reauthorizationRequired]))
            _ = try await stores.createWebhook(Self.webhook("outlet-1", events: [EventCatalogue.reauthorizationRequired]))
            _ = try await stores.upsertConnection(ProviderStoreContractTests.connection("lightspeed", at: 5))
            for time: Int64 in [10_000, 11_000] {
                await ConnectorDeliverer.markReauthorizationRequired(providers: stores, tenantId: Self.tenant.id, slug: "lightspeed", at: time,
                                                                     logger: Logger(label: "test"))
            }
            #expect(try await stores.connection(tenantId: Self.tenant.id, slug: "lightspeed")?.status == CredentialProvider.reauthorizationRequired)
            let alerts = try await Self.deliveries(stores, event: EventCatalogue.reauthorizationRequired)
            #expect(alerts.map(\.webhookId) == [wide.id], "once, and only to the tenant-wide webhook: it concerns no outlet")
            let claimed = try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "w", expiresAt: 90_000), now: 20_000, limit: 10)
            let body = try #require(claimed.first.flatMap { JSONValue(parsing: String(decoding: $0.event.payload, as: UTF8.self)) })
            #expect(body["provider"]?.stringValue == "lightspeed")
            #expect(body["status"]?.stringValue == "reauthorization_required")
            #expect(claimed.first?.delivery.connector == "webhook", "never to a POS")
        }
    }
}
