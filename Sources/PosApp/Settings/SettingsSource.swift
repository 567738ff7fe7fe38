import Configuration
import Foundation
import Synchronization

/// Where settings come from: command-line flags over the environment, read through one
/// swift-configuration reader whose access reports say which of them answered each variable.
public struct SettingsSource: Sendable {
    public enum Origin: String, Sendable, Codable {
        case flag, environment, `default`
    }

    let reader: ConfigReader
    private let origins: OriginRecorder

    /// `flags` holds the values given on the command line for variables that have a flag.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, flags: [SettingVariable: String] = [:]) {
        let environmentProvider = EnvironmentVariablesProvider(environmentVariables: environment)
        let flagProvider = InMemoryProvider(name: "flags", values: Dictionary(uniqueKeysWithValues: flags.map { variable, text in
            (AbsoluteConfigKey(variable.configKey), ConfigValue(.string(text), isSecret: variable.isSecret))
        }))
        origins = OriginRecorder(origins: [flagProvider.providerName: .flag, environmentProvider.providerName: .environment])
        reader = ConfigReader(providers: [flagProvider, environmentProvider], accessReporter: origins)
    }

    /// The variable's text, and which provider gave it (`.default` when none did).
    func text(of variable: SettingVariable) -> (text: String?, origin: Origin) {
        let text = reader.string(forKey: variable.configKey, isSecret: variable.isSecret)
        return (text, origins.origin(of: AbsoluteConfigKey(variable.configKey)))
    }
}

/// Remembers, for each key read, the first provider that had a value for it.
private final class OriginRecorder: AccessReporter {
    private let originByProvider: [String: SettingsSource.Origin]
    private let answered = Mutex<[AbsoluteConfigKey: SettingsSource.Origin]>([:])

    init(origins: [String: SettingsSource.Origin]) {
        originByProvider = origins
    }

    func report(_ event: AccessEvent) {
        let origin = event.providerResults.lazy.compactMap { provider -> SettingsSource.Origin? in
            guard case .success(let lookup) = provider.result, lookup.value != nil else { return nil }
            return self.originByProvider[provider.providerName]
        }.first
        answered.withLock { $0[event.metadata.key] = origin }
    }

    func origin(of key: AbsoluteConfigKey) -> SettingsSource.Origin {
        answered.withLock { $0[key] } ?? .default
    }
}
