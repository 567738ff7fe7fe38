import Foundation
import Logging
import PosConnectors
import PosDomain
import PosHTTP
import PosServices
import PosStorage

/// Everything the service is configured with, read once at start from `SettingVariable.all`.
public struct ServiceSettings: Sendable {
    public var host: String
    public var port: Int
    public var database: DatabaseLocation
    public var postgresPoolSize: Int
    public var statementTimeoutMs: Int64
    public var sqliteSynchronous: SQLiteSynchronous
    /// `POS_MASTER_KEY`, opened; nil means a key file beside the SQLite database (PostgreSQL needs the variable).
    public var masterKey: SecretBox?
    public var deliveryTimeoutMs: Int64
    public var retrySchedule: RetrySchedule
    public var workerPollIntervalMs: Int64
    public var leaseMarginMs: Int64
    public var endpointHealth: EndpointHealthPolicy
    public var rotationOverlapMs: Int64
    public var statusPollSchedule: RetrySchedule
    public var outboundGuard: OutboundGuard
    public var maxResponseBytes: Int
    public var authCacheTTLMs: Int64
    public var loyalty: LoyaltySettings
    public var console: ConsoleSessionSettings
    /// Base domain, body cap, public URL and metrics token.
    public var edge: EdgeSettings
    public var log: LogSettings
    public var metrics: MetricsSettings

    /// How deliveries run, for the process named `instanceId` on its leases.
    public func delivery(instanceId: String) -> DeliverySettings {
        var delivery = DeliverySettings(
            timeoutMs: deliveryTimeoutMs, schedule: retrySchedule, pollIntervalMs: workerPollIntervalMs, instanceId: instanceId,
            rotationOverlapMs: rotationOverlapMs, health: endpointHealth)
        delivery.leaseMarginMs = leaseMarginMs
        delivery.statusPollSchedule = statusPollSchedule
        return delivery
    }

    /// What `serve` needs beyond well-formed values (other commands open no secrets): with
    /// PostgreSQL there is no file beside the database to keep a generated key in.
    public var servingProblems: [String] {
        guard masterKey == nil, case .postgres = database else { return [] }
        return ["\(SettingVariable.masterKey.name) is required with a PostgreSQL database"]
    }

    public var server: ServerSettings { ServerSettings(host: host, port: port, edge: edge) }

    /// Reads every variable from `source`: the settings, or every problem found, each naming its
    /// variable and the form it accepts; and in both cases what each variable came to, and from where.
    public static func read(from source: SettingsSource) -> SettingsReading {
        var parser = SettingsParser(source: source)
        let database = parser.value(.database) { try? DatabaseLocation($0) }
        let masterKey = parser.optional(.masterKey) { try? SecretBox(encodedMasterKey: $0) }
        let statusPollSteps = parser.value(.statusPollSchedule) { RetrySchedule(parsing: $0)?.delaysMs }
        let statusPollFor = parser.value(.statusPollFor, Parse.duration())
        let statusPollSchedule = RetrySchedule.polling(steps: statusPollSteps, horizonMs: statusPollFor)
        if statusPollSchedule == nil { parser.reject(.statusPollSchedule) }
        let allowlist = parser.optional(.outboundAllowlist) { try? OutboundGuard.parseAllowlist($0).get() } ?? []
        var edge = EdgeSettings(
            baseDomain: parser.optional(.baseDomain) { DNSName.isValid($0) ? $0 : nil },
            maxBodyBytes: parser.value(.maxBodyBytes, Parse.positiveInteger),
            publicURL: parser.optional(.publicURL) { BaseURL.isValid($0) ? $0 : nil })
        let metrics = MetricsSettings(read: &parser)
        edge.metricsToken = metrics.token
        let settings = ServiceSettings(
            host: parser.value(.host) { DNSName.isValid($0) || OutboundGuard.addressBytes($0) != nil ? $0 : nil },
            port: parser.value(.port) { Int($0).flatMap { (0...65535).contains($0) ? $0 : nil } },
            database: database,
            postgresPoolSize: parser.value(.poolSize, Parse.positiveInteger),
            statementTimeoutMs: parser.value(.statementTimeout, Parse.duration()),
            sqliteSynchronous: parser.value(.sqliteSynchronous) { SQLiteSynchronous(rawValue: $0.uppercased()) },
            masterKey: masterKey,
            deliveryTimeoutMs: parser.value(.deliveryTimeout, Parse.duration()),
            retrySchedule: parser.value(.retrySchedule) { RetrySchedule(parsing: $0) },
            workerPollIntervalMs: parser.value(.workerPollInterval, Parse.duration()),
            leaseMarginMs: parser.value(.leaseMargin, Parse.duration(atLeast: 1_000)),
            endpointHealth: EndpointHealthPolicy(
                failureThreshold: parser.value(.circuitFailures, Parse.positiveInteger),
                cooldownMs: parser.value(.circuitCooldown, Parse.duration()),
                disableAfterMs: parser.value(.disableAfter, Parse.duration())),
            rotationOverlapMs: parser.value(.rotationOverlap, Parse.duration()),
            statusPollSchedule: statusPollSchedule ?? .statusPolling,
            outboundGuard: OutboundGuard(allowPrivateTargets: parser.value(.allowPrivateTargets, Parse.boolean), allowlist: allowlist),
            maxResponseBytes: parser.value(.maxResponseBytes, Parse.positiveInteger),
            authCacheTTLMs: parser.value(.authCacheTTL, Parse.duration(atLeast: 0)),
            loyalty: LoyaltySettings(
                defaultBaseUrl: parser.optional(.loyaltyURL) { BaseURL.isValid($0) ? $0 : nil },
                defaultTimeoutMs: parser.value(.loyaltyTimeout, Parse.duration(within: LoyaltySettings.timeoutRangeMs)),
                idempotencyTTLMs: parser.value(.idempotencyTTL, Parse.duration(atLeast: 86_400_000))),
            console: ConsoleSessionSettings(idleTimeoutMs: parser.value(.consoleSessionIdle, Parse.duration(atLeast: 60_000))),
            edge: edge,
            log: LogSettings(read: &parser),
            metrics: metrics)
        let (result, effective) = parser.outcome(settings)
        return SettingsReading(settings: result, effective: effective)
    }
}

/// What reading the settings came to.
public struct SettingsReading: Sendable {
    public let settings: Result<ServiceSettings, SettingsProblems>
    /// Every variable in `SettingVariable.all`'s order, with its value as it may be printed.
    public let effective: [EffectiveSetting]
}

/// Each bad setting, as one line naming the variable and the form it accepts.
public struct SettingsProblems: Error, CustomStringConvertible, Sendable {
    public let problems: [String]
    public var description: String { problems.joined(separator: "\n") }
}

/// A variable's effective value (redacted if secret; nil when absent) and where it came from.
public struct EffectiveSetting: Sendable, Codable, Equatable {
    public let name: String
    public let value: String?
    public let source: SettingsSource.Origin

    public init(name: String, value: String?, source: SettingsSource.Origin) {
        self.name = name
        self.value = value
        self.source = source
    }
}

/// The parse rules settings share; nil rejects the text.
enum Parse {
    static func positiveInteger(_ text: String) -> Int? {
        Int(text).flatMap { $0 > 0 ? $0 : nil }
    }

    static func boolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "1", "yes": true
        case "false", "0", "no": false
        default: nil
        }
    }

    /// `DurationText`, above zero unless `atLeast` says otherwise, and within `within`.
    static func duration(atLeast minimum: Int64 = 1, within range: ClosedRange<Int64>? = nil) -> @Sendable (String) -> Int64? {
        { text in
            guard let value = DurationText.milliseconds(text), value >= minimum, range?.contains(value) ?? true else { return nil }
            return value
        }
    }
}

/// Reads variables through a `SettingsSource`, gathering every problem instead of stopping at the first.
struct SettingsParser {
    let source: SettingsSource
    /// Each problem with its variable's place in `SettingVariable.all`, so they are listed in that order.
    private var problems: [(order: Int, text: String)] = []
    private var effective: [String: EffectiveSetting] = [:]

    init(source: SettingsSource) {
        self.source = source
    }

    /// The variable parsed, or its default parsed when it is unset; nil when it is unset without a
    /// default, or when its text is rejected (recorded as a problem).
    mutating func optional<T>(_ variable: SettingVariable, _ parse: (String) -> T?) -> T? {
        let (given, origin) = source.text(of: variable)
        guard let text = given, !(text.isEmpty && variable.emptyIsUnset) else {
            effective[variable.name] = EffectiveSetting(name: variable.name, value: variable.defaultText, source: .default)
            return variable.defaultText.flatMap(parse)
        }
        effective[variable.name] = EffectiveSetting(name: variable.name, value: variable.displayed(text), source: origin)
        if let value = parse(text) { return value }
        problem(variable.problem(got: text, origin: origin), about: variable)
        return nil
    }

    /// A variable with a default: when its text is rejected, the default stands in so the other
    /// variables are still read; the problem is recorded.
    mutating func value<T>(_ variable: SettingVariable, _ parse: (String) -> T?) -> T {
        if let value = optional(variable, parse) { return value }
        guard let fallback = variable.defaultText.flatMap(parse) else {
            preconditionFailure("\(variable.name)'s default does not satisfy its own rule")
        }
        return fallback
    }

    mutating func problem(_ text: String, about variable: SettingVariable) {
        problems.append((SettingVariable.all.firstIndex(of: variable) ?? SettingVariable.all.count, text))
    }

    /// Records that `variable`'s value, fine alone, breaks a rule it shares with another variable.
    mutating func reject(_ variable: SettingVariable) {
        let seen = effective[variable.name]
        problem(variable.problem(got: seen?.source == .default ? nil : seen?.value, origin: seen?.source ?? .default), about: variable)
    }

    /// `value` when nothing was wrong, else every problem; and each variable read, in the declared order.
    func outcome<T>(_ value: T) -> (result: Result<T, SettingsProblems>, effective: [EffectiveSetting]) {
        (problems.isEmpty ? .success(value) : .failure(SettingsProblems(problems: problems.sorted { $0.order < $1.order }.map(\.text))),
         SettingVariable.all.compactMap { effective[$0.name] })
    }
}

extension SettingVariable {
    /// `POS_PORT must be a port number 0–65535, got "x"`; a secret's value is not repeated, and a
    /// value from the command line is named by its flag.
    func problem(got text: String?, origin: SettingsSource.Origin) -> String {
        let subject = origin == .flag ? flag ?? name : name
        guard let text, disclosure == .shown else { return "\(subject) must be \(form)" }
        return "\(subject) must be \(form), got \"\(text)\""
    }
}
