import Foundation
import PosDomain
import PosServices
import PosStorage
import Testing

/// The contract every store engine must keep. Each test runs once per engine in `StoreEngines.all`;
/// a new engine joins by adding one factory there.
enum StoreEngines {
    struct Factory: Sendable, CustomTestStringConvertible {
        let name: String
        let make: @Sendable () async throws -> (any StoreEngine, cleanup: @Sendable () async -> Void)
        var testDescription: String { name }
    }

    static func temporaryFile() -> (path: String, remove: @Sendable () -> Void) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pos-store-\(UUID().uuidString)")
        return (directory.appendingPathComponent("s.sqlite").path, { try? FileManager.default.removeItem(at: directory) })
    }

    /// SQLite through GRDB.
    static let sqlite = Factory(name: "SQLite") {
        let file = temporaryFile()
        let stores = try SQLStores.sqlite(path: file.path)
        return (stores, {
            await stores.shutdown()
            file.remove()
        })
    }

    /// PostgreSQL at `POS_TEST_POSTGRES_URL` (scripts/test starts one): each test gets a database of its own.
    static let postgres = Factory(name: "PostgreSQL") {
        let (url, drop) = try await PostgresTestDatabase.create()
        let stores = try PostgresTestDatabase.stores(url)
        return (stores, {
            await stores.shutdown()
            await drop()
        })
    }

    /// Both engines. PostgreSQL is left out only when `POS_TEST_SKIP_POSTGRES=1` says so (scripts/test
    /// then prints that it skipped); otherwise a missing server fails the tests, never skips them.
    static var all: [Factory] {
        PostgresTestDatabase.skipped ? [sqlite] : [sqlite, postgres]
    }
}

@Suite("Store contract")
struct StoreContractTests {
    static func withStores(_ factory: StoreEngines.Factory, _ body: (any StoreEngine) async throws -> Void) async throws {
        let (stores, cleanup) = try await factory.make()
        do {
            try await stores.migrate()
            try await body(stores)
            await cleanup()
        } catch {
            await cleanup()
            throw error
        }
    }

    static let tenant = Tenant(id: "00000000-0000-0000-0000-00000000000a", subdomain: "acme", name: "Acme")

    static func newOrder(uuid: String = "o-1", outletId: String = "outlet-1", payload: String = #"{"uuid":"o-1"}"#) -> NewOrder {
        NewOrder(id: UUID().uuidString.lowercased(), tenantId: tenant.id, outletId: outletId, event: "order.paid", orderUUID: uuid,
                 orderRefNo: "R-1", builtInTransformer: nil, currency: "SGD", totalPayMinor: 1250, payload: Array(payload.utf8),
                 payloadSHA256: payload, receivedAt: 1_000, firstAttemptLease: DeliveryLease(owner: "dispatcher", expiresAt: 1_500))
    }

    static func noTarget(_ order: NewOrder) -> DispatchCompletion {
        DispatchCompletion(orderId: order.id, status: .noTarget, reason: "none", response: "{}", at: order.receivedAt)
    }

    @Test("migrations are idempotent", arguments: StoreEngines.all)
    func migrationsIdempotent(_ engine: StoreEngines.Factory) async throws {
        try await Self.withStores(engine) { stores in
            #expect(try await stores.migrate().isEmpty)
            try await stores.ping()
        }
    }

    @Test("tenants: unique subdomain, found by id and subdomain", arguments: StoreEngines.all)
    func tenants(_ engine: StoreEngines.Factory) async throws {
        try await Self.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            await #expect(throws: StoreError.self) {
                try await stores.createTenant(Tenant(id: "other", subdomain: "acme", name: "Again"), createdAt: 2)
            }
            #expect(try await stores.tenant(id: Self.tenant.id) == Self.tenant)
            #expect(try await stores.tenant(subdomain: "acme") == Self.tenant)
            #expect(try await stores.tenant(subdomain: "nobody") == nil)
            #expect(try await stores.tenants() == [Self.tenant])
        }
    }

    @Test("API keys: created, found with their tenant, revoked once", arguments: StoreEngines.all)
    func apiKeys(_ engine: StoreEngines.Factory) async throws {
        try await Self.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            let key = try await stores.createKey(NewAPIKey(tenantId: Self.tenant.id, secretHash: "h", scopes: [.internal, .admin],
                                                           createdAt: 5, expiresAt: 99))
            let (found, tenant) = try #require(try await stores.keyWithTenant(id: key.apiKeyId))
            #expect(found == key)
            #expect(tenant == Self.tenant)
            #expect(try await stores.revokeKey(id: key.apiKeyId, at: 7))
            #expect(try await !stores.revokeKey(id: key.apiKeyId, at: 8))
            #expect(try await stores.keys(tenantId: Self.tenant.id).first?.revokedAt == 7)
            #expect(try await stores.keyWithTenant(id: 12345) == nil)
        }
    }

    @Test("API keys: name and prefix stored, tenant-scoped lookup, atomic rotation, last use at most once a window", arguments: StoreEngines.all)
    func apiKeyManagement(_ engine: StoreEngines.Factory) async throws {
        try await Self.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            let other = Tenant(id: "00000000-0000-0000-0000-00000000000b", subdomain: "globex", name: "Globex")
            try await stores.createTenant(other, createdAt: 1)
            let key = try await stores.createKey(NewAPIKey(tenantId: Self.tenant.id, secretHash: "h1", scopes: [.partner], createdAt: 5, expiresAt: 1_000,
                                                           name: "till", secretStart: "abcdefgh"))
            #expect(key.name == "till" && key.prefix == "posk_\(key.apiKeyId)_abcd" && key.lastUsedAt == nil)
            #expect(try await stores.keyWithTenant(id: key.apiKeyId)?.0 == key)
            #expect(try await stores.key(id: key.apiKeyId, tenantId: Self.tenant.id) == key)
            #expect(try await stores.key(id: key.apiKeyId, tenantId: other.id) == nil)

            // Last use: written when older than the window's start, else left alone.
            #expect(try await stores.touchKey(id: key.apiKeyId, at: 100, notBefore: 40))
            #expect(try await !stores.touchKey(id: key.apiKeyId, at: 130, notBefore: 70))
            #expect(try await stores.key(id: key.apiKeyId, tenantId: Self.tenant.id)?.lastUsedAt == 100)
            #expect(try await stores.touchKey(id: key.apiKeyId, at: 200, notBefore: 140))
            #expect(try await stores.key(id: key.apiKeyId, tenantId: Self.tenant.id)?.lastUsedAt == 200)

            func replacement(_ name: String) -> NewAPIKey {
                NewAPIKey(tenantId: Self.tenant.id, secretHash: "h-\(name)", scopes: [.partner], createdAt: 10, expiresAt: nil, name: name, secretStart: "wxyz")
            }
            // Another tenant's key is not rotated, and nothing is inserted.
            #expect(try await stores.rotateKey(id: key.apiKeyId, tenantId: other.id, previousExpiresAt: 50, replacement: replacement("no"), at: 10) == nil)
            #expect(try await stores.keys(tenantId: Self.tenant.id).count == 1)
            let rotation = try #require(try await stores.rotateKey(id: key.apiKeyId, tenantId: Self.tenant.id, previousExpiresAt: 500,
                                                                   replacement: replacement("next"), at: 10))
            #expect(rotation.previous.apiKeyId == key.apiKeyId && rotation.previous.expiresAt == 500 && rotation.previous.lastUsedAt == 200)
            #expect(rotation.replacement.name == "next" && rotation.replacement.prefix == "posk_\(rotation.replacement.apiKeyId)_wxyz")
            #expect(try await stores.key(id: rotation.replacement.apiKeyId, tenantId: Self.tenant.id) == rotation.replacement)
            // An earlier expiry stands.
            let again = try #require(try await stores.rotateKey(id: key.apiKeyId, tenantId: Self.tenant.id, previousExpiresAt: 900,
                                                                replacement: replacement("third"), at: 20))
            #expect(again.previous.expiresAt == 500)
            // Expired or revoked: nothing happens.
            #expect(try await stores.rotateKey(id: key.apiKeyId, tenantId: Self.tenant.id, previousExpiresAt: 900, replacement: replacement("late"), at: 500) == nil)
            #expect(try await stores.revokeKey(id: again.replacement.apiKeyId, at: 30))
            #expect(try await stores.rotateKey(id: again.replacement.apiKeyId, tenantId: Self.tenant.id, previousExpiresAt: 900,
                                               replacement: replacement("revoked"), at: 40) == nil)
            #expect(try await stores.keys(tenantId: Self.tenant.id).map(\.name) == ["till", "next", "third"])
        }
    }

    @Test("operator keys: created with their prefix, listed, last use, revoked once", arguments: StoreEngines.all)
    func operatorKeys(_ engine: StoreEngines.Factory) async throws {
        try await Self.withStores(engine) { stores in
            let key = try await stores.createOperatorKey(NewOperatorKey(name: "console", secretHash: "oh", secretStart: "qrstuv", createdAt: 3, expiresAt: nil))
            #expect(key.prefix == "posop_\(key.operatorKeyId)_qrst" && key.name == "console" && key.revokedAt == nil)
            #expect(try await stores.operatorKey(id: key.operatorKeyId) == key)
            #expect(try await stores.operatorKey(id: 12345) == nil)
            let second = try await stores.createOperatorKey(NewOperatorKey(name: "cli", secretHash: "oh2", secretStart: "abcd", createdAt: 4, expiresAt: 9))
            #expect(try await stores.operatorKeys() == [key, second])
            #expect(try await stores.touchOperatorKey(id: key.operatorKeyId, at: 100, notBefore: 40))
            #expect(try await !stores.touchOperatorKey(id: key.operatorKeyId, at: 110, notBefore: 50))
            #expect(try await stores.operatorKey(id: key.operatorKeyId)?.lastUsedAt == 100)
            #expect(try await stores.revokeOperatorKey(id: key.operatorKeyId, at: 7))
            #expect(try await !stores.revokeOperatorKey(id: key.operatorKeyId, at: 8))
            #expect(try await stores.operatorKey(id: key.operatorKeyId)?.revokedAt == 7)
            // Tenant keys and operator keys are apart: the same id names different rows.
            #expect(try await stores.keyWithTenant(id: key.operatorKeyId) == nil)
        }
    }

    @Test("one live webhook per outlet and provider", arguments: StoreEngines.all)
    func webhooks(_ engine: StoreEngines.Factory) async throws {
        try await Self.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            let new = NewWebhook(tenantId: Self.tenant.id, outletId: "outlet-1", provider: "p", callbackUrl: "https://x.test/h",
                                 events: ["order.paid"], sealedSecret: "v1:sealed", createdAt: 3)
            let webhook = try await stores.createWebhook(new)
            await #expect(throws: StoreError.self) { try await stores.createWebhook(new) }
            var otherProvider = new
            otherProvider.provider = "q"
            _ = try await stores.createWebhook(otherProvider)
            #expect(try await stores.webhook(id: webhook.id, tenantId: Self.tenant.id) == webhook)
            #expect(try await stores.webhook(id: webhook.id, tenantId: "someone-else") == nil)
        }
    }

    @Test("accepting an order writes its outbox rows once; the same key returns the first order", arguments: StoreEngines.all)
    func acceptOrder(_ engine: StoreEngines.Factory) async throws {
        try await Self.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            _ = try await stores.createWebhook(NewWebhook(
                tenantId: Self.tenant.id, outletId: "outlet-1", provider: "p", callbackUrl: "https://x.test/h",
                events: ["order.paid"], sealedSecret: "v1:sealed", createdAt: 3))
            let order = Self.newOrder()
            guard case .created(let record, let deliveries) = try await stores.acceptOrder(
                order, completionWithoutTargets: Self.noTarget(order), makeDeliveryId: { UUID().uuidString }) else {
                Issue.record("expected a new order")
                return
            }
            #expect(record.dispatchStatus == .pending)
            #expect(deliveries.count == 1)
            #expect(deliveries[0].delivery.status == .delivering, "leased to the dispatch request for its first attempt")
            #expect(deliveries[0].target?.sealedSecret == "v1:sealed")

            var again = Self.newOrder()
            again.payloadSHA256 = "different"
            guard case .existing(let existing) = try await stores.acceptOrder(
                again, completionWithoutTargets: Self.noTarget(again), makeDeliveryId: { UUID().uuidString }) else {
                Issue.record("expected the existing order")
                return
            }
            #expect(existing.id == record.id)
            #expect(existing.payloadSHA256 == order.payloadSHA256)

            let attempt = DeliveryAttempt(deliveryId: deliveries[0].delivery.id, attemptNumber: 1, startedAt: 1_001, durationMs: 4,
                                          statusCode: 200, errorClass: nil, error: nil, responseExcerpt: "{}", signedWith: "current")
            try await stores.recordAttempts(
                [RecordedAttempt(attempt: attempt, transition: DeliveryTransition(status: .delivered, nextAttemptAt: nil), at: 1_005)],
                completion: DispatchCompletion(orderId: record.id, status: .dispatched, reason: "ok", externalOrderId: "POS-9",
                                               response: "{\"first\":1}", at: 1_006), health: [])
            try await stores.recordAttempts(
                [], completion: DispatchCompletion(orderId: record.id, status: .dispatched, reason: "ok", response: "{\"second\":2}", at: 1_007),
                health: [])

            let detail = try #require(try await stores.order(id: record.id, tenantId: Self.tenant.id))
            #expect(detail.order.dispatchStatus == .dispatched)
            #expect(detail.order.firstResponse == "{\"first\":1}", "the first response is kept")
            #expect(detail.order.externalOrderId == "POS-9")
            #expect(detail.deliveries.map(\.status) == [.delivered])
            #expect(detail.deliveries[0].deliveredAt == 1_005)
            #expect(detail.attempts == [attempt])
            #expect(try await stores.order(id: record.id, tenantId: "someone-else") == nil)
            #expect(try await stores.orderCount(tenantId: Self.tenant.id) == 1)
        }
    }

    @Test("an outlet without a subscribed, active webhook gets no outbox row", arguments: StoreEngines.all)
    func noTarget(_ engine: StoreEngines.Factory) async throws {
        try await Self.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            let order = Self.newOrder(outletId: "elsewhere")
            guard case .created(let record, let deliveries) = try await stores.acceptOrder(
                order, completionWithoutTargets: Self.noTarget(order), makeDeliveryId: { "d" }) else {
                Issue.record("expected a new order")
                return
            }
            #expect(deliveries.isEmpty)
            #expect(record.dispatchStatus == .noTarget)
            let stored = try #require(try await stores.order(id: order.id, tenantId: Self.tenant.id))
            #expect(stored.order.dispatchStatus == .noTarget)
            #expect(stored.order.firstResponse == "{}")
        }
    }

    @Test("concurrent accepts of one key make one order", arguments: StoreEngines.all)
    func concurrentAccepts(_ engine: StoreEngines.Factory) async throws {
        try await Self.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            let outcomes = try await withThrowingTaskGroup(of: AcceptedOrder.self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        let order = Self.newOrder()
                        return try await stores.acceptOrder(order, completionWithoutTargets: Self.noTarget(order), makeDeliveryId: { UUID().uuidString })
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let created = outcomes.filter { if case .created = $0 { true } else { false } }
            #expect(created.count == 1)
            #expect(try await stores.orderCount(tenantId: Self.tenant.id) == 1)
        }
    }
}

extension StoreContractTests {
    static func webhookAndOrder(_ stores: any StoreEngine) async throws -> PlannedDelivery {
        try await stores.createTenant(tenant, createdAt: 1)
        _ = try await stores.createWebhook(NewWebhook(
            tenantId: tenant.id, outletId: "outlet-1", provider: "p", callbackUrl: "https://x.test/h",
            events: ["order.paid"], sealedSecret: "v1:sealed", createdAt: 3))
        let order = newOrder()
        guard case .created(_, let deliveries) = try await stores.acceptOrder(
            order, completionWithoutTargets: noTarget(order), makeDeliveryId: { UUID().uuidString }), let first = deliveries.first
        else { throw TestFailure("no delivery planned") }
        return first
    }

    @Test("the outbox: a first attempt's lease holds until it expires; failed deliveries come due; dead ones stay",
          arguments: StoreEngines.all)
    func outboxClaims(_ engine: StoreEngines.Factory) async throws {
        try await Self.withStores(engine) { stores in
            let planned = try await Self.webhookAndOrder(stores)
            let worker = DeliveryLease(owner: "worker", expiresAt: 99_999)
            #expect(try await stores.claimDueDeliveries(lease: worker, now: 1_400, limit: 10).isEmpty, "leased to the dispatcher")

            // The dispatcher died: its lease ran out, a worker takes the delivery with the order's bytes.
            let claimed = try await stores.claimDueDeliveries(lease: worker, now: 1_500, limit: 10)
            #expect(claimed.map(\.delivery.id) == [planned.delivery.id])
            #expect(claimed.first?.event.payload == Array(#"{"uuid":"o-1"}"#.utf8))
            #expect(claimed.first?.event.subject == EventSubject(.order, id: planned.delivery.subject.id))
            #expect(claimed.first?.delivery.attemptsStarted == 2, "the dispatcher's first attempt and this one are both counted as started")
            #expect(claimed.first?.target?.webhook.callbackUrl == "https://x.test/h")
            #expect(try await stores.claimDueDeliveries(lease: worker, now: 1_600, limit: 10).isEmpty, "now leased to the worker")

            func attempt(_ number: Int, _ status: DeliveryStatus, next: Int64?) -> RecordedAttempt {
                RecordedAttempt(attempt: DeliveryAttempt(deliveryId: planned.delivery.id, attemptNumber: number, startedAt: 1_600,
                                                         durationMs: 3, statusCode: 503, errorClass: "http_status", error: "503",
                                                         responseExcerpt: nil, signedWith: "current"),
                                transition: DeliveryTransition(status: status, nextAttemptAt: next), at: 1_603)
            }
            try await stores.recordAttempts([attempt(1, .failed, next: 2_000)], completion: nil, health: [])
            #expect(try await stores.claimDueDeliveries(lease: worker, now: 1_999, limit: 10).isEmpty, "not due yet")
            #expect(try await stores.claimDueDeliveries(lease: worker, now: 2_000, limit: 10).count == 1, "due")
            try await stores.recordAttempts([attempt(2, .dead, next: nil)], completion: nil, health: [])
            #expect(try await stores.claimDueDeliveries(lease: DeliveryLease(owner: "w", expiresAt: .max), now: .max - 1, limit: 10).isEmpty,
                    "dead is never taken")

            let detail = try #require(try await stores.delivery(id: planned.delivery.id, tenantId: Self.tenant.id))
            #expect(detail.delivery.status == .dead)
            #expect(detail.attempts.map(\.attemptNumber) == [1, 2])
            #expect(try await stores.delivery(id: planned.delivery.id, tenantId: "someone-else") == nil)

            // A manual retry makes it due again, keeping its id and attempt count.
            let requeued = try #require(try await stores.requeueDelivery(id: planned.delivery.id, tenantId: Self.tenant.id, now: 5_000))
            #expect(requeued.status == .pending)
            let again = try await stores.claimDueDeliveries(lease: worker, now: 5_000, limit: 10)
            #expect(again.first?.delivery.id == planned.delivery.id)
            #expect(again.first?.delivery.attemptCount == 2)
            await #expect(throws: StoreError.self) {
                try await stores.requeueDelivery(id: planned.delivery.id, tenantId: Self.tenant.id, now: 5_001)
            }
            #expect(try await stores.requeueDelivery(id: "missing", tenantId: Self.tenant.id, now: 5_001) == nil)
        }
    }
}

enum PostgresTestDatabase {
    /// A local opt-out (`POS_TEST_SKIP_POSTGRES=1`); never under CI.
    static var skipped: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["POS_TEST_SKIP_POSTGRES"] == "1" && environment["CI"] != "true"
    }

    /// A new, empty database on the test server: its URL, and how to drop it.
    static func create() async throws -> (url: String, drop: @Sendable () async -> Void) {
        guard let adminURL = ProcessInfo.processInfo.environment["POS_TEST_POSTGRES_URL"] else {
            throw TestFailure("POS_TEST_POSTGRES_URL is not set: run the tests through scripts/test, which starts PostgreSQL "
                              + "(or set POS_TEST_SKIP_POSTGRES=1 to leave PostgreSQL out locally)")
        }
        let name = "pos_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        let admin = try PostgresEngine(url: adminURL, poolSize: 1, logger: testLogger)
        _ = try await admin.read { db in try db.execute("CREATE DATABASE \(name)", []) }
        return (url(adminURL, database: name), {
            _ = try? await admin.read { db in try db.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", []) }
            await admin.shutdown()
        })
    }

    static func stores(_ url: String) throws -> SQLStores {
        SQLStores(engine: try PostgresEngine(url: url, poolSize: 4, logger: testLogger))
    }

    /// `adminURL` with its database replaced by `database`.
    static func url(_ adminURL: String, database: String) -> String {
        guard var components = URLComponents(string: adminURL) else { return adminURL }
        components.path = "/" + database
        return components.string ?? adminURL
    }
}

@Suite("Replicas on PostgreSQL", .enabled(if: !PostgresTestDatabase.skipped))
struct ReplicaTests {
    @Test("the same order sent to two replicas at the same moment makes one order and one delivery")
    func crossReplicaIdempotency() async throws {
        let (stores, cleanup) = try await StoreEngines.postgres.make()
        try await stores.migrate()
        let receiver = try await WebhookReceiver.start()
        let secretBox = try SecretBox(encodedMasterKey: SecretBox.generateEncodedMasterKey())
        let first = try await TestService.start(sharedStores: stores, sharedSecretBox: secretBox)
        let second = try await TestService.start(sharedStores: stores, sharedSecretBox: secretBox)
        do {
            let acme = try await first.tenant("acme")
            _ = try await first.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let replies = try await withThrowingTaskGroup(of: TestService.Reply.self) { group in
                for index in 0..<16 {
                    let replica = index.isMultiple(of: 2) ? first : second
                    group.addTask { try await replica.dispatch(Fixtures.dispatchBody(), key: acme.internalKey) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let orderIds = Set(replies.compactMap { $0.json["orderId"] as? String })
            #expect(orderIds.count == 1, "\(replies.map(\.text))")
            #expect(replies.allSatisfy { $0.status == 200 || $0.status == 409 }, "a duplicate still in flight on the other replica is 409")
            #expect(try await stores.orderCount(tenantId: acme.tenant.id) == 1)
            #expect(receiver.received.count == 1)
        } catch {
            Issue.record(error)
        }
        await first.stop()
        await second.stop()
        await receiver.stop()
        await cleanup()
    }

    @Test("work queued on one replica wakes an idle replica's worker at once (LISTEN/NOTIFY), long before its next poll")
    func notifyWakesIdleReplica() async throws {
        let (stores, cleanup) = try await StoreEngines.postgres.make()
        try await stores.migrate()
        let receiver = try await WebhookReceiver.start(statuses: [500])
        // Polls only once a minute: only a notification can make it deliver within the test.
        let idle = try await TestService.start(schedule: RetrySchedule(delaysMs: [0])!, sharedStores: stores, pollIntervalMs: 60_000)
        do {
            let acme = try await idle.tenant("acme")
            _ = try await idle.registerWebhook(outletId: "store-uuid-123", url: receiver.url, key: acme.partnerKey)
            let reply = try await idle.dispatch(Fixtures.dispatchBody(), key: acme.internalKey)
            #expect(reply.json["dispatched"] as? Bool == false)
            let orderId = try #require(reply.json["orderId"] as? String)
            let deliveryId = try #require(try await stores.order(id: orderId, tenantId: acme.tenant.id)?.deliveries.first?.id)
            // Another replica (here: the store itself) requeues it; its NOTIFY reaches the idle worker.
            _ = try await stores.requeueDelivery(id: deliveryId, tenantId: acme.tenant.id, now: SystemClock.now())
            let delivered = await idle.events.first(timeoutSeconds: 10) { $0.transition.status == .delivered }
            #expect(delivered?.attempt.attemptNumber == 2)
        } catch {
            Issue.record(error)
        }
        await idle.stop()
        await receiver.stop()
        await cleanup()
    }
}
