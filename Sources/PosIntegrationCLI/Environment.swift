import ArgumentParser
import Crypto
import Foundation
import Logging
import PosApp
import PosConnectors
import PosDomain
import PosServices
import PosStorage

/// The `--database` option every command shares; falls back to `POS_DATABASE_URL`.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "A file path or sqlite://PATH (env POS_DATABASE_URL; default ./data/pos-integration.sqlite).")
    var database: String?

    func location() throws -> DatabaseLocation {
        do {
            return try DatabaseLocation(database ?? ProcessInfo.processInfo.environment["POS_DATABASE_URL"])
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// Opens the stores and brings the schema up to date.
    func openStores(logger: Logger) async throws -> any StoreEngine {
        let stores = try SQLStores.open(
            try location(), sqliteSynchronous: try Settings.sqliteSynchronous(),
            postgresPoolSize: try Settings.count("POS_DB_POOL_SIZE", default: 16),
            statementTimeoutMs: try Settings.duration("POS_DB_STATEMENT_TIMEOUT", default: 30_000), logger: logger)
        do {
            try await stores.migrate()
        } catch {
            await stores.shutdown()
            throw error
        }
        return stores
    }
}

enum Settings {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static func sqliteSynchronous() throws -> SQLiteSynchronous {
        guard let text = environment["POS_SQLITE_SYNCHRONOUS"] else { return .normal }
        guard let value = SQLiteSynchronous(rawValue: text.uppercased()) else {
            throw ValidationError("POS_SQLITE_SYNCHRONOUS must be NORMAL or FULL")
        }
        return value
    }

    /// The SSRF guard from `POS_ALLOW_PRIVATE_TARGETS` and `POS_OUTBOUND_ALLOWLIST`.
    static func outboundGuard() throws -> OutboundGuard {
        let allowPrivate: Bool
        switch environment["POS_ALLOW_PRIVATE_TARGETS"]?.lowercased() {
        case nil, "", "false", "0", "no": allowPrivate = false
        case "true", "1", "yes": allowPrivate = true
        case let other?: throw ValidationError("POS_ALLOW_PRIVATE_TARGETS must be true or false, got \"\(other)\"")
        }
        switch OutboundGuard.parseAllowlist(environment["POS_OUTBOUND_ALLOWLIST"] ?? "") {
        case .success(let allowlist):
            return OutboundGuard(allowPrivateTargets: allowPrivate, allowlist: allowlist)
        case .failure(let failure):
            throw ValidationError("POS_OUTBOUND_ALLOWLIST has an entry that is neither a host nor a CIDR: \"\(failure.entry)\"")
        }
    }

    /// `POS_LOYALTY_URL` (no default), `POS_LOYALTY_TIMEOUT` (5s) and `POS_IDEMPOTENCY_TTL` (24h).
    static func loyalty() throws -> LoyaltySettings {
        let url = environment["POS_LOYALTY_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let url, !BaseURL.isValid(url) {
            throw ValidationError("POS_LOYALTY_URL must be an absolute http(s) URL without query or fragment, got \"\(url)\"")
        }
        let timeoutMs = try duration("POS_LOYALTY_TIMEOUT", default: 5_000)
        guard LoyaltySettings.timeoutRangeMs.contains(timeoutMs) else { throw ValidationError("POS_LOYALTY_TIMEOUT must be from 100ms to 60s") }
        let ttlMs = try duration("POS_IDEMPOTENCY_TTL", default: 86_400_000)
        guard ttlMs >= 86_400_000 else { throw ValidationError("POS_IDEMPOTENCY_TTL must be at least 24h") }
        return LoyaltySettings(defaultBaseUrl: url, defaultTimeoutMs: timeoutMs, idempotencyTTLMs: ttlMs)
    }

    static func count(_ name: String, default fallback: Int) throws -> Int {
        guard let text = environment[name] else { return fallback }
        guard let value = Int(text), value > 0 else { throw ValidationError("\(name) must be a positive integer, got \"\(text)\"") }
        return value
    }

    static func duration(_ name: String, default fallback: Int64, allowZero: Bool = false) throws -> Int64 {
        guard let text = environment[name] else { return fallback }
        guard let value = DurationText.milliseconds(text), value > 0 || (allowZero && value == 0) else {
            throw ValidationError("\(name) must be a duration such as 10s or 500ms, got \"\(text)\"")
        }
        return value
    }

    /// The master key sealing secrets at rest: `POS_MASTER_KEY`, or for SQLite a key generated
    /// once into a 0600 file beside the database.
    static func secretBox(for location: DatabaseLocation, logger: Logger) throws -> SecretBox {
        if let encoded = environment["POS_MASTER_KEY"] {
            do {
                return try SecretBox(encodedMasterKey: encoded)
            } catch {
                throw ValidationError("POS_MASTER_KEY must be 32 bytes as base64 or hex (generate one with: openssl rand -base64 32)")
            }
        }
        guard case .sqlite(let path) = location else {
            throw ValidationError("POS_MASTER_KEY is required with this database")
        }
        let keyURL = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("master.key")
        let fileManager = FileManager.default
        if let existing = fileManager.contents(atPath: keyURL.path) {
            return try SecretBox(encodedMasterKey: String(decoding: existing, as: UTF8.self))
        }
        try fileManager.createDirectory(at: keyURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoded = SecretBox.generateEncodedMasterKey()
        // Created with 0600 from the start so the key is never readable by others, even briefly.
        guard fileManager.createFile(atPath: keyURL.path, contents: Data((encoded + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("cannot write master key file \(keyURL.path)")
        }
        logger.notice("generated a new master key for secrets at rest; back it up, and set POS_MASTER_KEY in production",
                      metadata: ["path": .string(keyURL.path)])
        return try SecretBox(encodedMasterKey: encoded)
    }
}

enum CLILogging {
    /// `LOG_LEVEL` and `LOG_FORMAT`; an unknown value ends the command before it does anything.
    static func bootstrap() throws {
        let settings: LogSettings
        do {
            settings = try LogSettings.from(environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError(error.description)
        }
        LoggingSystem.bootstrap({ label, _ in settings.handler(label: label) }, metadataProvider: RequestLogScope.metadataProvider)
    }
}

/// Prints one JSON object on stdout: what scripts read.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
