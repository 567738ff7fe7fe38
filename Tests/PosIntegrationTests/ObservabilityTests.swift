import Foundation
import Logging
import PosApp
import PosDomain
import PosServices
import PosStorage
import Synchronization
import Testing

/// `GET /metrics`, JSON logs carrying the request's id, and readiness (issue 19).
@Suite("Observability")
struct ObservabilityTests {
    // MARK: Metrics

    @Test("after a known workload the scrape shows exactly its counts")
    func scrapeCountsTheWorkload() async throws {
        // The first order's only attempt gets a 500 and is dead-lettered (one attempt in the schedule); the next two are delivered.
        let receiver = try await WebhookReceiver.start(statuses: [500])
        defer { Task { await receiver.stop() } }
        try await withTestService(schedule: try #require(RetrySchedule(delaysMs: [0]))) { service in
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "o-1", url: receiver.url, key: acme.partnerKey)
            for uuid in ["ord-dead", "ord-2", "ord-3"] {
                let reply = try await service.dispatch(Fixtures.dispatchBody(order: Fixtures.order(uuid: uuid), outletId: "o-1"), key: acme.internalKey)
                #expect(reply.status == 200, "\(reply.text)")
            }
            // A replay is not a new order.
            #expect(try await service.dispatch(Fixtures.dispatchBody(order: Fixtures.order(uuid: "ord-2"), outletId: "o-1"),
                                               key: acme.internalKey).status == 200)
            // One inbound POS webhook refused: no connection has this token.
            #expect(try await service.call("POST", "/api/v1/inbound/oktopos/order-status/not-a-token", json: Array("{}".utf8)).status == 404)
            // And one for a provider nobody knows: its label is `unknown`, never what the caller typed.
            #expect(try await service.call("POST", "/api/v1/inbound/made-up-pos/order-status/x", json: Array("{}".utf8)).status == 404)

            let scrape = try await service.call("GET", "/metrics")
            #expect(scrape.status == 200)
            #expect(scrape.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let metrics = Scrape(scrape.text)
            #expect(metrics.value("pos_orders_accepted_total") == 3)
            #expect(metrics.value("pos_delivery_attempts_total", ["target": "webhook", "provider": "webhook", "outcome": "delivered"]) == 2)
            #expect(metrics.value("pos_delivery_attempts_total", ["target": "webhook", "provider": "webhook", "outcome": "dead"]) == 1)
            #expect(metrics.value("pos_delivery_attempts_total", ["target": "webhook", "provider": "webhook", "outcome": "retry"]) == nil)
            #expect(metrics.value("pos_delivery_attempt_duration_seconds_count", ["target": "webhook", "provider": "webhook"]) == 3)
            #expect(metrics.value("pos_enqueue_to_first_attempt_seconds_count") == 3)
            #expect(metrics.value("pos_inbound_webhooks_total", ["provider": "oktopos", "verdict": "unknown_endpoint"]) == 1)
            #expect(metrics.value("pos_inbound_webhooks_total", ["provider": "unknown", "verdict": "unknown_endpoint"]) == 1)
            #expect(metrics.value("pos_outbox_dead") == 1)
            #expect(metrics.value("pos_outbox_pending") == 0)
            #expect(metrics.value("pos_outbox_oldest_due_age_seconds") == 0)
            // Hummingbird's HTTP families, by route template.
            #expect(metrics.value("hb_requests", ["http_route": "/api/v1/orders/dispatch", "http_request_method": "POST",
                                                  "http_response_status_code": "200"]) == 4)
            #expect(metrics.value("http_server_request_duration_count", ["http_route": "/api/v1/orders/dispatch", "http_request_method": "POST",
                                                                         "http_response_status_code": "200"]) == 4)
            #expect(metrics.value("hb_requests", ["http_route": "/api/v1/inbound/{provider}/order-status/{connectionToken}",
                                                  "http_request_method": "POST", "http_response_status_code": "404"]) == 2)
            // Low cardinality: no tenant, order, id or URL anywhere in a label.
            for forbidden in [acme.tenant.id, "acme", "ord-2", "o-1", receiver.url, "not-a-token", "made-up-pos"] {
                #expect(!metrics.labelValues.contains(forbidden), "\(forbidden) is a label value")
            }
        }
    }

    @Test("the outbox gauges are read from the store at most every few seconds, not per scrape")
    func gaugesAreCached() async throws {
        let receiver = try await WebhookReceiver.start(statuses: [500])
        defer { Task { await receiver.stop() } }
        // The service's clock, moved by hand: "every few seconds" is the clock's, not the machine's speed.
        let clock = ManualClock(now: SystemClock.now())
        try await withTestService(schedule: try #require(RetrySchedule(delaysMs: [0])), clock: clock.read) { service in
            #expect(Scrape(try await service.call("GET", "/metrics").text).value("pos_outbox_dead") == 0)
            let acme = try await service.tenant("acme")
            _ = try await service.registerWebhook(outletId: "o-1", url: receiver.url, key: acme.partnerKey)
            _ = try await service.dispatch(Fixtures.dispatchBody(outletId: "o-1"), key: acme.internalKey)
            // Dispatch makes the first attempt before it answers: with one attempt allowed, that is dead.
            #expect(try await service.call("GET", "/api/v1/deliveries?status=dead", key: acme.adminKey).json["deliveries"]
                .map { ($0 as? [Any])?.count } == 1)
            // Dead now in the store; the gauge still shows the snapshot of the first scrape.
            #expect(Scrape(try await service.call("GET", "/metrics").text).value("pos_outbox_dead") == 0)
            clock.advance(by: 5_000)
            #expect(Scrape(try await service.call("GET", "/metrics").text).value("pos_outbox_dead") == 1, "read again once it is 5 s old")
        }
    }

    @Test("with POS_METRICS_TOKEN the scrape needs Authorization: Bearer <token>, else the one 401 envelope")
    func tokenRequired() async throws {
        let service = try await TestService.start(metricsToken: "scrape-secret-1")
        defer { Task { await service.stop() } }
        let bare = try await service.call("GET", "/metrics")
        #expect(bare.status == 401)
        #expect(bare.error["code"] as? Int == 401)
        #expect(bare.header("WWW-Authenticate") == "Bearer")
        #expect(try await service.call("GET", "/metrics", headers: [("Authorization", "Bearer scrape-secret-2")]).status == 401)
        #expect(try await service.call("GET", "/metrics", headers: [("Authorization", "Bearer scrape-secret-")]).status == 401)
        #expect(try await service.call("GET", "/metrics", headers: [("Authorization", "scrape-secret-1")]).status == 401)
        let scraped = try await service.call("GET", "/metrics", headers: [("Authorization", "Bearer scrape-secret-1")])
        #expect(scraped.status == 200)
        #expect(scraped.text.contains("hb_requests"))
    }

    @Test("POS_METRICS=off: /metrics is a 404 in the envelope")
    func metricsOff() async throws {
        let service = try await TestService.start(metricsEnabled: false)
        defer { Task { await service.stop() } }
        let reply = try await service.call("GET", "/metrics")
        #expect(reply.status == 404)
        #expect(reply.error["code"] as? Int == 404)
    }

    @Test("each service graph has its own registry: two services count apart")
    func registriesApart() async throws {
        let first = try await TestService.start()
        defer { Task { await first.stop() } }
        let second = try await TestService.start()
        defer { Task { await second.stop() } }
        let acme = try await first.tenant("acme")
        #expect(try await first.dispatch(Fixtures.dispatchBody(), key: acme.internalKey).status == 200)
        #expect(Scrape(try await first.call("GET", "/metrics").text).value("pos_orders_accepted_total") == 1)
        #expect(Scrape(try await second.call("GET", "/metrics").text).value("pos_orders_accepted_total") == nil)
    }

    // MARK: Logs

    @Test("LOG_FORMAT=json: every line a request causes parses and carries its request_id (and trace_id); no key or secret is logged")
    func jsonLogs() async throws {
        let capture = LogCapture()
        let logger = Logger(label: "pos-integration") { label in
            JSONLogHandler(label: label, level: .info, metadataProvider: RequestLogScope.metadataProvider, write: capture.write)
        }
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withTestService(logger: logger, metricsToken: "scrape-secret-1") { service in
            let acme = try await service.tenant("acme")
            let webhook = try await service.registerWebhook(outletId: "o-1", url: receiver.url, key: acme.partnerKey)
            capture.clear()
            let traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
            let dispatched = try await service.dispatch(Fixtures.dispatchBody(outletId: "o-1"), key: acme.internalKey, headers: [
                ("X-Request-ID", "req-dispatch"), ("traceparent", "00-\(traceId)-00f067aa0ba902b7-01"),
                ("Authorization", "Bearer some-upstream-token"), ("Cookie", "pos_console=cookie-secret"),
            ])
            #expect(dispatched.status == 200)
            // Loyalty logs through the service's root logger, not the request's: the id still reaches it.
            let loyalty = try await service.call("GET", "/api/v1/loyalty/balance?customerUuid=8f14e45f-ceea-467f-a0e6-1b3c1c1d2e3f", key: acme.partnerKey,
                                                 headers: [("X-Request-ID", "req-loyalty")])
            #expect(loyalty.status == 503, "\(loyalty.text)")
            #expect(try await service.call("GET", "/api/v1/orders/unknown", key: acme.internalKey, headers: [("X-Request-ID", "req-404")]).status == 404)
            #expect(try await service.call("GET", "/metrics", headers: [("X-Request-ID", "req-metrics"),
                                                                          ("Authorization", "Bearer scrape-secret-1")]).status == 200)
            #expect(try await service.call("GET", "/api/v1/auth/whoami", key: "posk_1_not-a-real-key",
                                           headers: [("X-Request-ID", "req-401")]).status == 401)

            let lines = capture.lines
            #expect(!lines.isEmpty)
            var objects: [[String: Any]] = []
            for line in lines {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
                objects.append(object)
                #expect(object["request_id"] is String, "no request_id: \(line)")
                #expect(object["ts"] is String && object["level"] is String && object["message"] is String)
            }
            // One access line per request, at info, with the route template and the tenant.
            let access = objects.filter { $0["message"] as? String == "request" }
            #expect(access.count == 5)
            let dispatchAccess = try #require(access.first { $0["request_id"] as? String == "req-dispatch" })
            #expect(dispatchAccess["level"] as? String == "info")
            #expect(dispatchAccess["method"] as? String == "POST")
            #expect(dispatchAccess["route"] as? String == "/api/v1/orders/dispatch")
            #expect(dispatchAccess["status"] as? String == "200")
            #expect(dispatchAccess["tenant"] as? String == "acme")
            #expect(dispatchAccess["trace_id"] as? String == traceId)
            #expect(dispatchAccess["duration_ms"] is String)
            #expect(access.first { $0["request_id"] as? String == "req-404" }?["route"] as? String == "/api/v1/orders/{orderId}")
            #expect(access.first { $0["request_id"] as? String == "req-401" }?["status"] as? String == "401")
            // The dispatch's delivery attempt line, and the loyalty line from the root logger, carry their request's id.
            #expect(objects.contains { $0["message"] as? String == "delivery attempt" && $0["request_id"] as? String == "req-dispatch"
                && $0["trace_id"] as? String == traceId })
            #expect(objects.contains { $0["message"] as? String == "loyalty call" && $0["request_id"] as? String == "req-loyalty"
                && $0["tenant"] as? String == "acme" })
            // Never a key, a secret, a cookie or an Authorization value.
            let everything = lines.joined(separator: "\n")
            for secret in [acme.internalKey, acme.partnerKey, acme.adminKey, webhook.secret, "posk_1_not-a-real-key", "scrape-secret-1",
                           "some-upstream-token", "cookie-secret"] {
                #expect(!everything.contains(secret), "a secret was logged")
            }
            #expect(!everything.lowercased().contains("x-api-key"))
        }
    }

    @Test("the JSON handler escapes what it is given and drops credential-named metadata")
    func jsonHandlerShape() throws {
        let capture = LogCapture()
        var logger = Logger(label: "t") { JSONLogHandler(label: $0, level: .debug, write: capture.write) }
        logger[metadataKey: "authorization"] = "Bearer x"
        logger.info("quote \" backslash \\ newline \n tab \t bell \u{07}", metadata: [
            "nested": .dictionary(["a": .array(["1", .stringConvertible(2)])]), "X-Api-Key": "posk_1_x",
        ])
        logger.trace("below the level")
        let lines = capture.lines
        #expect(lines.count == 1)
        let first = try #require(lines.first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
        #expect(object["message"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{07}")
        #expect(object["logger"] as? String == "t")
        #expect(((object["nested"] as? [String: Any])?["a"] as? [String]) == ["1", "2"])
        #expect(object["authorization"] == nil && object["X-Api-Key"] == nil)
    }

    @Test("an unknown LOG_LEVEL or LOG_FORMAT is refused, naming it")
    func badLogSettings() throws {
        func read(_ environment: [String: String]) -> Result<LogSettings, SettingsProblems> {
            LogSettings.read(from: SettingsSource(environment: environment))
        }
        #expect(try read([:]).get() == LogSettings(level: .info, format: .text))
        #expect(try read(["LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json"]).get() == LogSettings(level: .debug, format: .json))
        #expect(throws: SettingsProblems.self) { try read(["LOG_LEVEL": "loud"]).get() }
        do {
            _ = try read(["LOG_LEVEL": "loud"]).get()
        } catch {
            #expect(error.description.contains("LOG_LEVEL") && error.description.contains("\"loud\""))
        }
        #expect(throws: SettingsProblems.self) { try read(["LOG_FORMAT": "xml"]).get() }
        let metrics = { (environment: [String: String]) in try ServiceSettings.read(from: SettingsSource(environment: environment)).settings.get().metrics }
        #expect(throws: SettingsProblems.self) { try metrics(["POS_METRICS": "maybe"]) }
        #expect(try metrics(["POS_METRICS": "off", "POS_METRICS_TOKEN": "t"]) == MetricsSettings(enabled: false, token: "t"))
    }

    @Test("the command exits non-zero on a bad LOG_LEVEL, naming it, before a database file exists")
    func badLogLevelExits() throws {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pos-integration")
        try #require(FileManager.default.isExecutableFile(atPath: executable.path), "build the executable first: \(executable.path)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pos-loglevel-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("pos.sqlite").path
        let process = Process()
        process.executableURL = executable
        process.arguments = ["migrate", "--database", database]
        process.environment = ["LOG_LEVEL": "loud", "PATH": "/usr/bin:/bin"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = Pipe()
        try process.run()
        process.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus != 0)
        #expect(stderr.contains("LOG_LEVEL"), "\(stderr)")
        #expect(!FileManager.default.fileExists(atPath: database))
    }

    // MARK: Health

    @Test("/ready is 503 when the outbox worker has not run for its stall threshold; /health stays 200")
    func readyWhenWorkerStalls() async throws {
        // The worker looks once at start, then sleeps a minute: past a second it counts as stalled.
        let service = try await TestService.start(pollIntervalMs: 60_000, workerStallMs: 1_000)
        defer { Task { await service.stop() } }
        try await Task.sleep(for: .milliseconds(1_500))
        let ready = try await service.call("GET", "/ready")
        #expect(ready.status == 503)
        #expect(ready.error["code"] as? Int == 503)
        #expect((ready.error["message"] as? String)?.contains("outbox worker") == true, "\(ready.text)")
        #expect(try await service.call("GET", "/health").status == 200)
        // A wake-up (a retry requested) runs it again: ready once more (polled: a loaded machine may
        // take a while to schedule the worker).
        var status = 0
        for _ in 0..<50 where status != 200 {
            service.services.worker.wake()
            try await Task.sleep(for: .milliseconds(50))
            status = try await service.call("GET", "/ready").status
        }
        #expect(status == 200)
    }

    @Test("/ready is 503 while the database's migrations are behind this build")
    func readyWhenMigrationsBehind() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pos-behind-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let stores = try SQLStores.sqlite(path: directory.appendingPathComponent("pos.sqlite").path)
        try await stores.migrate(through: 1)
        let service = try await TestService.start(sharedStores: stores)
        let ready = try await service.call("GET", "/ready")
        #expect(ready.status == 503)
        #expect((ready.error["message"] as? String)?.contains("migrations are behind") == true, "\(ready.text)")
        #expect(try await service.call("GET", "/health").status == 200)
        try await stores.migrate()
        #expect(try await service.call("GET", "/ready").status == 200)
        await service.stop()
        await stores.shutdown()
    }
}

/// Log lines written by a handler, kept in memory.
final class LogCapture: Sendable {
    private let state = Mutex<[String]>([])
    var write: @Sendable (String) -> Void { { line in self.state.withLock { $0.append(line) } } }
    var lines: [String] { state.withLock { $0 } }
    func clear() { state.withLock { $0.removeAll() } }
}

/// A Prometheus text scrape, read sample by sample.
struct Scrape {
    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    let samples: [Sample]

    init(_ text: String) {
        samples = text.split(separator: "\n").compactMap { line -> Sample? in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
            let series = line[..<space]
            guard let open = series.firstIndex(of: "{") else { return Sample(name: String(series), labels: [:], value: value) }
            var labels: [String: String] = [:]
            for pair in series[series.index(after: open)..<series.index(before: series.endIndex)].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
            }
            return Sample(name: String(series[..<open]), labels: labels, value: value)
        }
    }

    /// The value of the series with exactly these labels (nil when absent).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    var labelValues: Set<String> { Set(samples.flatMap { $0.labels.values }) }
}
