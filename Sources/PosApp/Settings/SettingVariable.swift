import Configuration
import Logging
import PosStorage

/// One environment variable the service reads: its name, the flag that overrides it, the default
/// applied when it is unset, the form it accepts and whether its value may be shown.
///
/// `SettingVariable.all` is the one list: parsing (`ServiceSettings.read`), `pos-integration config`
/// and the README's configuration table (checked by a test) all follow it.
public struct SettingVariable: Sendable, Hashable {
    public enum Disclosure: Sendable, Hashable {
        case shown
        /// Never printed; only whether it is set.
        case secret
        /// A database URL: printed with its password replaced.
        case passwordRedacted
    }

    public let name: String
    /// `--host`: a command-line flag that wins over the variable.
    public let flag: String?
    /// The text parsed when the variable is unset or empty; nil: the setting is absent.
    public let defaultText: String?
    /// What an absent setting means, as documented (only without `defaultText`).
    public let absentMeaning: String
    /// What a value must look like, as problems state it (`a port number 0–65535`).
    public let form: String
    public let disclosure: Disclosure
    /// An empty value counts as unset, except where an empty value is more likely a mistake.
    let emptyIsUnset: Bool

    init(_ name: String, flag: String? = nil, default defaultText: String?, absent absentMeaning: String = "unset",
         form: String, disclosure: Disclosure = .shown, emptyIsUnset: Bool = true) {
        self.name = name
        self.flag = flag
        self.defaultText = defaultText
        self.absentMeaning = absentMeaning
        self.form = form
        self.disclosure = disclosure
        self.emptyIsUnset = emptyIsUnset
    }

    public var isSecret: Bool { disclosure != .shown }

    /// The default as the README's table states it: `` `8080` ``, or what an absent setting means.
    public var documentedDefault: String { defaultText.map { "`\($0)`" } ?? absentMeaning }

    /// `POS_DB_POOL_SIZE` is `pos.db.pool.size`, which swift-configuration's environment provider
    /// spells back as `POS_DB_POOL_SIZE`.
    var configKey: ConfigKey { ConfigKey(name.lowercased().split(separator: "_").map(String.init)) }

    /// How a value of this variable may be printed.
    func displayed(_ text: String) -> String {
        switch disclosure {
        case .shown: text
        case .secret: "<set, redacted>"
        case .passwordRedacted: (try? DatabaseLocation(text))?.description ?? "<set, redacted>"
        }
    }
}

extension SettingVariable {
    public static let host = SettingVariable("POS_HOST", flag: "--host", default: "127.0.0.1", form: "a host name or an IP address")
    public static let port = SettingVariable("POS_PORT", flag: "--port", default: "8080", form: "a port number 0–65535")
    public static let database = SettingVariable(
        "POS_DATABASE_URL", flag: "--database", default: DatabaseLocation.defaultSQLitePath,
        form: "a file path, sqlite://PATH or postgres://user:pass@host:port/db", disclosure: .passwordRedacted)
    public static let poolSize = SettingVariable("POS_DB_POOL_SIZE", default: "16", form: "a positive integer")
    public static let statementTimeout = SettingVariable("POS_DB_STATEMENT_TIMEOUT", default: "30s", form: "a duration such as 10s or 500ms")
    public static let masterKey = SettingVariable(
        "POS_MASTER_KEY", default: nil, absent: "generated into `master.key` beside the SQLite file",
        form: "32 bytes as base64 or hex (generate one with: openssl rand -base64 32)", disclosure: .secret,
        emptyIsUnset: false)
    public static let baseDomain = SettingVariable("POS_BASE_DOMAIN", default: nil, form: "a DNS name such as pos.example.com")
    public static let deliveryTimeout = SettingVariable("POS_DELIVERY_TIMEOUT", default: "10s", form: "a duration such as 10s or 500ms")
    public static let retrySchedule = SettingVariable(
        "POS_RETRY_SCHEDULE", default: "0s,5s,5m,30m,2h,5h,10h,14h,20h,24h", form: "comma-separated durations such as 0s,5s,5m,30m,2h")
    public static let workerPollInterval = SettingVariable("POS_WORKER_POLL_INTERVAL", default: "1s", form: "a duration such as 10s or 500ms")
    public static let leaseMargin = SettingVariable("POS_LEASE_MARGIN", default: "30s", form: "a duration of at least 1s, such as 30s")
    public static let circuitFailures = SettingVariable("POS_CIRCUIT_FAILURES", default: "5", form: "a positive integer")
    public static let circuitCooldown = SettingVariable("POS_CIRCUIT_COOLDOWN", default: "1m", form: "a duration such as 10s or 500ms")
    public static let disableAfter = SettingVariable("POS_DISABLE_AFTER", default: "5d", form: "a duration such as 10s or 500ms")
    public static let rotationOverlap = SettingVariable("POS_SECRET_ROTATION_OVERLAP", default: "24h", form: "a duration such as 10s or 500ms")
    public static let allowPrivateTargets = SettingVariable("POS_ALLOW_PRIVATE_TARGETS", default: "false", form: "true or false")
    public static let outboundAllowlist = SettingVariable(
        "POS_OUTBOUND_ALLOWLIST", default: nil, absent: "empty", form: "comma-separated hosts and CIDRs such as hooks.internal,10.0.0.0/8")
    public static let maxResponseBytes = SettingVariable("POS_MAX_RESPONSE_BYTES", default: "65536", form: "a positive integer")
    public static let maxBodyBytes = SettingVariable("POS_MAX_BODY_BYTES", default: "1048576", form: "a positive integer")
    public static let authCacheTTL = SettingVariable("POS_AUTH_CACHE_TTL", default: "1s", form: "a duration such as 1s, or 0 to disable")
    public static let sqliteSynchronous = SettingVariable("POS_SQLITE_SYNCHRONOUS", default: "NORMAL", form: "NORMAL or FULL")
    public static let statusPollSchedule = SettingVariable(
        "POS_STATUS_POLL_SCHEDULE", default: "30s,1m,2m,5m",
        form: "comma-separated durations such as 30s,1m,2m,5m, ending with a step longer than 0s within POS_STATUS_POLL_FOR")
    public static let statusPollFor = SettingVariable("POS_STATUS_POLL_FOR", default: "24h", form: "a duration such as 24h")
    public static let loyaltyURL = SettingVariable(
        "POS_LOYALTY_URL", default: nil, form: "an absolute http(s) URL without query or fragment, such as https://loyalty.internal")
    public static let loyaltyTimeout = SettingVariable("POS_LOYALTY_TIMEOUT", default: "5s", form: "a duration from 100ms to 60s")
    public static let idempotencyTTL = SettingVariable("POS_IDEMPOTENCY_TTL", default: "24h", form: "a duration of at least 24h")
    public static let consoleSessionIdle = SettingVariable("POS_CONSOLE_SESSION_IDLE", default: "30m", form: "a duration of at least 1m, such as 30m")
    public static let publicURL = SettingVariable(
        "POS_PUBLIC_URL", default: nil, absent: "the admin request's scheme and host",
        form: "an absolute http(s) URL without query or fragment, such as https://pos.example.com")
    public static let logLevel = SettingVariable("LOG_LEVEL", default: "info", form: "one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
    public static let logFormat = SettingVariable("LOG_FORMAT", default: "text", form: "json or text")
    public static let metrics = SettingVariable("POS_METRICS", default: "on", form: "on or off")
    public static let metricsToken = SettingVariable("POS_METRICS_TOKEN", default: nil, form: "any text", disclosure: .secret)

    /// Every variable, in the README's order.
    public static let all: [SettingVariable] = [
        host, port, database, poolSize, statementTimeout, masterKey, baseDomain, deliveryTimeout, retrySchedule,
        workerPollInterval, leaseMargin, circuitFailures, circuitCooldown, disableAfter, rotationOverlap,
        allowPrivateTargets, outboundAllowlist, maxResponseBytes, maxBodyBytes, authCacheTTL, sqliteSynchronous,
        statusPollSchedule, statusPollFor, loyaltyURL, loyaltyTimeout, idempotencyTTL, consoleSessionIdle, publicURL,
        logLevel, logFormat, metrics, metricsToken,
    ]
}
