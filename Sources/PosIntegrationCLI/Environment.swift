import ArgumentParser
import Foundation
import Logging
import PosApp
import PosDomain
import PosServices
import PosStorage

/// The `--database` option every command shares; it wins over `POS_DATABASE_URL`.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "A file path or sqlite://PATH (env POS_DATABASE_URL; default ./data/pos-integration.sqlite).")
    var database: String?

    var flags: [SettingVariable: String] { database.map { [.database: $0] } ?? [:] }

    /// Reads and checks every setting, then starts logging; a bad setting ends the command here,
    /// before any file is created or opened.
    func settings(flags extra: [SettingVariable: String] = [:]) throws -> ServiceSettings {
        let settings: ServiceSettings
        switch ServiceSettings.read(from: SettingsSource(flags: flags.merging(extra) { _, flag in flag })).settings {
        case .success(let read): settings = read
        case .failure(let problems): throw refused(problems.description)
        }
        CLILogging.bootstrap(settings.log)
        return settings
    }

    /// Opens the stores and brings the schema up to date.
    static func openStores(_ settings: ServiceSettings, logger: Logger) async throws -> any StoreEngine {
        let stores = try SQLStores.open(
            settings.database, sqliteSynchronous: settings.sqliteSynchronous, postgresPoolSize: settings.postgresPoolSize,
            statementTimeoutMs: settings.statementTimeoutMs, logger: logger)
        do {
            try await stores.migrate()
        } catch {
            await stores.shutdown()
            throw error
        }
        return stores
    }
}

enum MasterKey {
    /// The master key sealing secrets at rest: `POS_MASTER_KEY`, or for SQLite a key generated
    /// once into a 0600 file beside the database.
    static func secretBox(_ settings: ServiceSettings, logger: Logger) throws -> SecretBox {
        if let masterKey = settings.masterKey { return masterKey }
        guard case .sqlite(let path) = settings.database, settings.servingProblems.isEmpty else {
            throw refused(settings.servingProblems.joined(separator: "\n"))
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
    static func bootstrap(_ settings: LogSettings) {
        LoggingSystem.bootstrap({ label, _ in settings.handler(label: label) }, metadataProvider: RequestLogScope.metadataProvider)
    }

    /// `LOG_LEVEL` and `LOG_FORMAT` alone, for commands without a database; an unknown value ends
    /// the command before it does anything.
    static func bootstrap() throws {
        switch LogSettings.read(from: SettingsSource()) {
        case .success(let settings): bootstrap(settings)
        case .failure(let problems): throw refused(problems.description)
        }
    }
}

/// Ends a command whose settings are refused: the problems go to standard error and the exit code
/// is 64, as for ArgumentParser's `ValidationError`, but without its usage text — the fault is in
/// the environment, not in how the command was typed.
func refused(_ problems: String) -> ExitCode {
    FileHandle.standardError.write(Data("Error: \(problems)\n".utf8))
    return .validationFailure
}

/// Prints one JSON object on stdout: what scripts read.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
