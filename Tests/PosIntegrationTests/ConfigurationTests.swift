import Foundation
import PosApp
import PosDomain
import PosStorage
import Testing

/// Configuration is read once, through `SettingVariable.all`, and checked before anything starts (issue 19).
@Suite("Configuration")
struct ConfigurationTests {
    /// A value each variable refuses. Only `POS_METRICS_TOKEN` takes any text.
    static let badValues: [String: String] = [
        "POS_HOST": "not a host!", "POS_PORT": "70000", "POS_DATABASE_URL": "mysql://pos:hunter2@db/pos",
        "POS_DB_POOL_SIZE": "0", "POS_DB_STATEMENT_TIMEOUT": "soon", "POS_MASTER_KEY": "short",
        "POS_BASE_DOMAIN": "-bad-.example.com", "POS_DELIVERY_TIMEOUT": "10x", "POS_RETRY_SCHEDULE": "0s,later",
        "POS_WORKER_POLL_INTERVAL": "0s", "POS_LEASE_MARGIN": "500ms", "POS_CIRCUIT_FAILURES": "-1",
        "POS_CIRCUIT_COOLDOWN": "a while", "POS_DISABLE_AFTER": "never", "POS_SECRET_ROTATION_OVERLAP": "1y",
        "POS_ALLOW_PRIVATE_TARGETS": "maybe", "POS_OUTBOUND_ALLOWLIST": "hooks.internal,10.0.0.0/99",
        "POS_MAX_RESPONSE_BYTES": "big", "POS_MAX_BODY_BYTES": "0", "POS_AUTH_CACHE_TTL": "-1s",
        "POS_SQLITE_SYNCHRONOUS": "OFF", "POS_STATUS_POLL_SCHEDULE": "30s,0s", "POS_STATUS_POLL_FOR": "x",
        "POS_LOYALTY_URL": "ftp://loyalty.internal", "POS_LOYALTY_TIMEOUT": "61s", "POS_IDEMPOTENCY_TTL": "1h",
        "POS_CONSOLE_SESSION_IDLE": "30s", "POS_PUBLIC_URL": "https://pos.example.com/?q=1", "LOG_LEVEL": "loud",
        "LOG_FORMAT": "xml", "POS_METRICS": "maybe",
    ]
    static let freeForm: Set<String> = ["POS_METRICS_TOKEN"]
    static let masterKey = "q7Yl0b4r3Ld2QyS8Vf1Zp6Wm9Xh5Nc0Te2Ku4Ja7Rg8="

    static func read(_ environment: [String: String], flags: [SettingVariable: String] = [:]) -> SettingsReading {
        ServiceSettings.read(from: SettingsSource(environment: environment, flags: flags))
    }

    static func problems(_ environment: [String: String]) -> [String] {
        guard case .failure(let failure) = read(environment).settings else { return [] }
        return failure.problems
    }

    @Test("every variable but the free-form ones has a bad value under test")
    func everyVariableCovered() {
        #expect(Set(Self.badValues.keys).union(Self.freeForm) == Set(SettingVariable.all.map(\.name)))
    }

    @Test("each bad setting is one problem naming the variable and the form it accepts", arguments: badValues.keys.sorted())
    func badSettingNamed(_ name: String) throws {
        let variable = try #require(SettingVariable.all.first { $0.name == name })
        let problems = Self.problems([name: Self.badValues[name] ?? ""])
        #expect(problems.count == 1, "\(problems)")
        let problem = try #require(problems.first)
        #expect(problem.hasPrefix("\(name) must be "), "\(problem)")
        #expect(problem.contains(variable.form), "\(problem)")
        if variable.isSecret {
            #expect(!problem.contains(Self.badValues[name] ?? ""), "a secret's value is not repeated: \(problem)")
        } else {
            #expect(problem.hasSuffix("got \"\(Self.badValues[name] ?? "")\""), "\(problem)")
        }
    }

    @Test("all problems are reported at once, not the first alone")
    func allProblemsAtOnce() {
        let problems = Self.problems(["POS_PORT": "x", "POS_RETRY_SCHEDULE": "soon", "LOG_LEVEL": "loud"])
        #expect(problems.count == 3)
        #expect(problems.contains { $0.hasPrefix("POS_PORT must be a port number 0–65535, got \"x\"") })
    }

    @Test("unset, every setting has the default the service always had")
    func defaults() throws {
        let settings = try Self.read([:]).settings.get()
        #expect(settings.host == "127.0.0.1" && settings.port == 8080)
        #expect(settings.database == .sqlite(path: DatabaseLocation.defaultSQLitePath))
        #expect(settings.postgresPoolSize == 16 && settings.statementTimeoutMs == 30_000 && settings.sqliteSynchronous == .normal)
        #expect(settings.masterKey == nil)
        #expect(settings.deliveryTimeoutMs == 10_000 && settings.retrySchedule == .standard && settings.workerPollIntervalMs == 1_000)
        #expect(settings.leaseMarginMs == 30_000 && settings.rotationOverlapMs == 86_400_000)
        #expect(settings.endpointHealth == EndpointHealthPolicy(failureThreshold: 5, cooldownMs: 60_000, disableAfterMs: 5 * 86_400_000))
        #expect(settings.statusPollSchedule == .statusPolling)
        #expect(!settings.outboundGuard.allowPrivateTargets && settings.outboundGuard.allowlist.isEmpty)
        #expect(settings.maxResponseBytes == 64 * 1024 && settings.edge.maxBodyBytes == 1 << 20 && settings.authCacheTTLMs == 1_000)
        #expect(settings.loyalty.defaultBaseUrl == nil && settings.loyalty.defaultTimeoutMs == 5_000 && settings.loyalty.idempotencyTTLMs == 86_400_000)
        #expect(settings.console.idleTimeoutMs == 30 * 60_000)
        #expect(settings.edge.baseDomain == nil && settings.edge.publicURL == nil && settings.edge.metricsToken == nil)
        #expect(settings.log == LogSettings(level: .info, format: .text) && settings.metrics == MetricsSettings(enabled: true, token: nil))
    }

    @Test("set, values are parsed by the existing rules; an empty variable counts as unset")
    func values() throws {
        let settings = try Self.read([
            "POS_HOST": "::", "POS_PORT": "0", "POS_DATABASE_URL": "postgres://pos:pw@db:5432/pos", "POS_MASTER_KEY": Self.masterKey,
            "POS_AUTH_CACHE_TTL": "0", "POS_ALLOW_PRIVATE_TARGETS": "YES", "POS_OUTBOUND_ALLOWLIST": "hooks.internal, 10.0.0.0/8",
            "POS_BASE_DOMAIN": "pos.example.com", "POS_PUBLIC_URL": "https://pos.example.com", "POS_METRICS": "off",
            "POS_METRICS_TOKEN": "t0ken", "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json", "POS_STATUS_POLL_SCHEDULE": "1s",
            "POS_STATUS_POLL_FOR": "3s", "POS_SQLITE_SYNCHRONOUS": "full", "POS_LOYALTY_URL": "",
        ]).settings.get()
        #expect(settings.host == "::" && settings.port == 0 && settings.database == .postgres(url: "postgres://pos:pw@db:5432/pos"))
        #expect(settings.masterKey != nil && settings.authCacheTTLMs == 0 && settings.sqliteSynchronous == .full)
        #expect(settings.outboundGuard.allowPrivateTargets && settings.outboundGuard.allowlist.count == 2)
        #expect(settings.edge.baseDomain == "pos.example.com" && settings.edge.publicURL == "https://pos.example.com")
        #expect(settings.metrics == MetricsSettings(enabled: false, token: "t0ken") && settings.edge.metricsToken == "t0ken")
        #expect(settings.log == LogSettings(level: .debug, format: .json))
        #expect(settings.statusPollSchedule.delaysMs == [1_000, 1_000, 1_000])
        #expect(settings.loyalty.defaultBaseUrl == nil)
    }

    @Test("serving PostgreSQL without POS_MASTER_KEY is a problem; an empty POS_MASTER_KEY is a bad key, not an absent one")
    func masterKeyRules() throws {
        let postgres = try Self.read(["POS_DATABASE_URL": "postgres://pos@db/pos"]).settings.get()
        #expect(postgres.servingProblems == ["POS_MASTER_KEY is required with a PostgreSQL database"])
        #expect(try Self.read([:]).settings.get().servingProblems.isEmpty)
        let config = try Self.run(["config"], environment: ["POS_DATABASE_URL": "postgres://pos@db/pos"])
        #expect(config.status == 64 && config.stderr.contains("POS_MASTER_KEY is required with a PostgreSQL database"), "\(config.stderr)")
        #expect(Self.problems(["POS_MASTER_KEY": ""]).first?.hasPrefix("POS_MASTER_KEY must be 32 bytes") == true)
    }

    @Test("a flag wins over the environment, and each value's source is reported")
    func flagsAndSources() throws {
        let reading = Self.read(["POS_PORT": "9000", "POS_HOST": "0.0.0.0"], flags: [.port: "9100"])
        let settings = try reading.settings.get()
        #expect(settings.port == 9100 && settings.host == "0.0.0.0")
        let effective = Dictionary(uniqueKeysWithValues: reading.effective.map { ($0.name, $0) })
        #expect(reading.effective.map(\.name) == SettingVariable.all.map(\.name))
        #expect(effective["POS_PORT"] == EffectiveSetting(name: "POS_PORT", value: "9100", source: .flag))
        #expect(effective["POS_HOST"] == EffectiveSetting(name: "POS_HOST", value: "0.0.0.0", source: .environment))
        #expect(effective["POS_MAX_BODY_BYTES"] == EffectiveSetting(name: "POS_MAX_BODY_BYTES", value: "1048576", source: .default))
        #expect(effective["POS_MASTER_KEY"] == EffectiveSetting(name: "POS_MASTER_KEY", value: nil, source: .default))
        #expect(Self.problems([:]).isEmpty)
        guard case .failure(let failure) = Self.read([:], flags: [.database: "mysql://db"]).settings else {
            Issue.record("a bad --database is refused")
            return
        }
        #expect(failure.problems == ["--database must be \(SettingVariable.database.form)"])
    }

    @Test("the settings' effective values never show a secret")
    func effectiveRedacts() {
        let reading = Self.read([
            "POS_MASTER_KEY": Self.masterKey, "POS_METRICS_TOKEN": "t0ken-s3cret", "POS_DATABASE_URL": "postgres://pos:hunter2@db:5432/pos",
        ])
        let shown = reading.effective.compactMap(\.value).joined(separator: " ")
        #expect(!shown.contains(Self.masterKey) && !shown.contains("t0ken-s3cret") && !shown.contains("hunter2"))
        #expect(shown.contains("<set, redacted>") && shown.contains("postgres://pos:***@db:5432/pos"))
    }

    // MARK: The command

    static func run(_ arguments: [String], environment: [String: String], in directory: URL? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pos-integration")
        try #require(FileManager.default.isExecutableFile(atPath: executable.path), "build the executable first: \(executable.path)")
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = environment.merging(["PATH": "/usr/bin:/bin"]) { value, _ in value }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Read both pipes to the end before waiting, so a full pipe cannot stall the child.
        let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, stdout, stderr)
    }

    @Test("each bad setting exits non-zero before a database file exists", arguments: badValues.keys.sorted())
    func badSettingExitsBeforeDatabase(_ name: String) throws {
        let bad = Self.badValues[name] ?? ""
        // Refused by the settings, so `serve` cannot get as far as listening.
        try #require(!Self.problems([name: bad]).isEmpty)
        // The commands run in an empty directory, so the default database location is inside it too.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pos-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // `--database` would win over POS_DATABASE_URL, so that variable is tested without it.
        let database = name == "POS_DATABASE_URL" ? [] : ["--database", directory.appendingPathComponent("data/pos.sqlite").path]
        for arguments in [["serve"] + database, ["migrate"] + database] {
            let result = try Self.run(arguments, environment: [name: bad], in: directory)
            #expect(result.status == 64, "\(arguments[0]): \(result.stderr)")
            #expect(result.stderr.contains(name), "\(arguments[0]): \(result.stderr)")
            let created = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            #expect(created.isEmpty, "\(arguments[0]) created \(created)")
        }
    }

    @Test("`config` prints each setting's value and source, secrets redacted, and exits non-zero on a bad one")
    func configCommand() throws {
        let environment = [
            "POS_MASTER_KEY": Self.masterKey, "POS_METRICS_TOKEN": "t0ken-s3cret", "POS_DATABASE_URL": "postgres://pos:hunter2@db:5432/pos",
            "POS_PORT": "9000",
        ]
        let table = try Self.run(["config", "--host", "0.0.0.0"], environment: environment)
        #expect(table.status == 0, "\(table.stderr)")
        for secret in [Self.masterKey, "t0ken-s3cret", "hunter2"] {
            #expect(!table.stdout.contains(secret) && !table.stderr.contains(secret))
        }
        let lines = table.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(lines.count == SettingVariable.all.count)
        #expect(lines.contains("POS_HOST 0.0.0.0 flag") && lines.contains("POS_PORT 9000 environment"))
        #expect(lines.contains("POS_MASTER_KEY <set, redacted> environment") && lines.contains("POS_METRICS_TOKEN <set, redacted> environment"))
        #expect(lines.contains("POS_DATABASE_URL postgres://pos:***@db:5432/pos environment"))
        #expect(lines.contains("POS_LOYALTY_URL (unset) default") && lines.contains("LOG_LEVEL info default"))

        let json = try Self.run(["config", "--json"], environment: environment.merging(["POS_PORT": "x"]) { _, new in new })
        #expect(json.status != 0 && json.stderr.contains("POS_PORT must be a port number"))
        #expect(!json.stdout.contains(Self.masterKey) && !json.stdout.contains("t0ken-s3cret") && !json.stdout.contains("hunter2"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((object["problems"] as? [String]) == ["POS_PORT must be a port number 0–65535, got \"x\""])
        #expect((object["settings"] as? [[String: Any]])?.count == SettingVariable.all.count)
    }

    // MARK: The documentation

    @Test("the README's configuration table lists exactly the settings, with their flags and defaults")
    func readmeTableMatches() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let section = try #require(text.components(separatedBy: "\n## Configuration\n").dropFirst().first?.components(separatedBy: "\n## ").first)
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| `") }.map { row in
            row.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let documented = rows.map { cells in
            // "`POS_HOST` / `--host`" → ["POS_HOST", "--host"]
            let names = cells[1].components(separatedBy: " / ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "`")) }
            return (name: names[0], flag: names.dropFirst().first, documentedDefault: cells[2])
        }
        #expect(documented.map(\.name) == SettingVariable.all.map(\.name))
        for (row, variable) in zip(documented, SettingVariable.all) where row.name == variable.name {
            #expect(row.flag == variable.flag, "\(variable.name)'s flag")
            #expect(row.documentedDefault == variable.documentedDefault, "\(variable.name)'s default")
        }
        #expect(section.contains("pos-integration config"))
    }
}
