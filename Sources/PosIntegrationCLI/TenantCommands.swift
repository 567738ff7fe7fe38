import ArgumentParser
import Logging
import PosDomain
import PosServices
import PosStorage

/// Runs `body` against the administration service over the chosen database, then closes it.
func withAdministration<T>(_ database: DatabaseOptions, _ body: (TenantAdministration) async throws -> T) async throws -> T {
    let stores = try await DatabaseOptions.openStores(try database.settings(), logger: Logger(label: "pos-integration"))
    do {
        let result = try await body(TenantAdministration(tenants: stores, keys: stores, clock: SystemClock.now))
        await stores.shutdown()
        return result
    } catch let error as ServiceError {
        await stores.shutdown()
        throw CLIFailure(error.cliMessage)
    } catch {
        await stores.shutdown()
        throw error
    }
}

/// A failed command: ArgumentParser prints it on stderr and exits non-zero.
struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ServiceError {
    var cliMessage: String {
        switch self {
        case .invalid(_, let message, _): message
        case .unauthorized: "unauthorized"
        case .forbidden(let message, _), .notFound(let message), .unavailable(let message), .unverified(let message): message
        case .conflict(let message, _), .badGateway(let message, _), .preconditionFailed(let message, _): message
        case .notConfigured(let message, _), .gatewayTimeout(let message, _), .unprocessable(let message, _): message
        case .upstreamRefused(_, let message, _): message
        }
    }
}

struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Create and list tenants.", subcommands: [Create.self, List.self])

    struct TenantJSON: Encodable {
        let id: String
        let subdomain: String
        let name: String
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant; prints {id, subdomain, name}.")
        @Option(help: "The tenant's subdomain (a DNS label).") var subdomain: String
        @Option(help: "The tenant's display name.") var name: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let tenant = try await withAdministration(database) { try await $0.createTenant(subdomain: subdomain, name: name) }
            try printJSON(TenantJSON(id: tenant.id, subdomain: tenant.subdomain, name: tenant.name))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants as a JSON array.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let tenants = try await withAdministration(database) { try await $0.tenants() }
            try printJSON(tenants.map { TenantJSON(id: $0.id, subdomain: $0.subdomain, name: $0.name) })
        }
    }
}

struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Issue, list and revoke API keys (a tenant's, or with --operator the platform's operator keys).",
        subcommands: [Create.self, List.self, Revoke.self])

    /// `--tenant` for a tenant's keys or `--operator` for operator keys: exactly one.
    static func requireOne(tenant: String?, operator isOperator: Bool) throws {
        if isOperator, tenant != nil { throw ArgumentParser.ValidationError("--operator keys belong to no tenant: leave out --tenant") }
        if !isOperator, tenant == nil { throw ArgumentParser.ValidationError("--tenant is required (or --operator for an operator key)") }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a key; the only time it is shown.")
        @Option(help: "Tenant subdomain or id.") var tenant: String?
        @Flag(name: .customLong("operator"), help: "Issue a platform operator key (posop_…, no tenant, no scopes).") var isOperator = false
        @Option(name: .customLong("scope"), help: "internal, partner or admin (repeatable).") var scopes: [APIScope] = []
        @Option(help: "What the key is for, 1–100 characters (default: cli, or operator).") var name: String?
        @Option(help: "Days until the key expires, 1–3650 (default: never).") var expiresInDays: Int?
        @OptionGroup var database: DatabaseOptions

        struct Output: Encodable {
            let apiKeyId: Int64
            let key: String
            let name: String
            let prefix: String
            let tenantId: String
            let scopes: [String]
            @ExplicitNull var expiresAt: String?
        }

        struct OperatorOutput: Encodable {
            let operatorKeyId: Int64
            let key: String
            let name: String
            let prefix: String
            @ExplicitNull var expiresAt: String?
        }

        func validate() throws {
            try KeyCommand.requireOne(tenant: tenant, operator: isOperator)
            if isOperator, !scopes.isEmpty { throw ArgumentParser.ValidationError("--operator keys have no scopes: leave out --scope") }
        }

        func run() async throws {
            if isOperator {
                let issued = try await withAdministration(database) { try await $0.createOperatorKey(name: name, expiresInDays: expiresInDays) }
                try printJSON(OperatorOutput(operatorKeyId: issued.record.operatorKeyId, key: issued.key, name: issued.record.name,
                                             prefix: issued.record.prefix, expiresAt: issued.record.expiresAt.map { RFC3339.format(milliseconds: $0) }))
                return
            }
            let tenant = tenant ?? ""
            let issued = try await withAdministration(database) {
                try await $0.createKey(tenant: tenant, scopes: scopes, expiresInDays: expiresInDays, name: name)
            }
            try printJSON(Output(apiKeyId: issued.record.apiKeyId, key: issued.key, name: issued.record.name, prefix: issued.record.prefix,
                                 tenantId: issued.record.tenantId, scopes: issued.record.scopes.map(\.rawValue),
                                 expiresAt: issued.record.expiresAt.map { RFC3339.format(milliseconds: $0) }))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's keys, or with --operator the operator keys (never their secrets).")
        @Option(help: "Tenant subdomain or id.") var tenant: String?
        @Flag(name: .customLong("operator"), help: "List the platform operator keys.") var isOperator = false
        @OptionGroup var database: DatabaseOptions

        struct Row: Encodable {
            let apiKeyId: Int64
            let tenantId: String
            let name: String
            let prefix: String
            let scopes: [String]
            let createdAt: String
            @ExplicitNull var expiresAt: String?
            @ExplicitNull var revokedAt: String?
            @ExplicitNull var lastUsedAt: String?
        }

        struct OperatorRow: Encodable {
            let operatorKeyId: Int64
            let name: String
            let prefix: String
            let createdAt: String
            @ExplicitNull var expiresAt: String?
            @ExplicitNull var revokedAt: String?
            @ExplicitNull var lastUsedAt: String?
        }

        func validate() throws {
            try KeyCommand.requireOne(tenant: tenant, operator: isOperator)
        }

        func run() async throws {
            func time(_ milliseconds: Int64?) -> String? { milliseconds.map { RFC3339.format(milliseconds: $0) } }
            if isOperator {
                let keys = try await withAdministration(database) { try await $0.operatorKeys() }
                try printJSON(keys.map {
                    OperatorRow(operatorKeyId: $0.operatorKeyId, name: $0.name, prefix: $0.prefix, createdAt: RFC3339.format(milliseconds: $0.createdAt),
                                expiresAt: time($0.expiresAt), revokedAt: time($0.revokedAt), lastUsedAt: time($0.lastUsedAt))
                })
                return
            }
            let tenant = tenant ?? ""
            let keys = try await withAdministration(database) { try await $0.keys(tenant: tenant) }
            try printJSON(keys.map {
                Row(apiKeyId: $0.apiKeyId, tenantId: $0.tenantId, name: $0.name, prefix: $0.prefix, scopes: $0.scopes.map(\.rawValue),
                    createdAt: RFC3339.format(milliseconds: $0.createdAt),
                    expiresAt: time($0.expiresAt), revokedAt: time($0.revokedAt), lastUsedAt: time($0.lastUsedAt))
            })
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by its apiKeyId, or with --operator an operator key by its operatorKeyId.")
        @Argument(help: "The apiKeyId (or with --operator, the operatorKeyId) to revoke.") var apiKeyId: Int64
        @Flag(name: .customLong("operator"), help: "Revoke a platform operator key.") var isOperator = false
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            if isOperator {
                let revoked = try await withAdministration(database) { try await $0.revokeOperatorKey(id: apiKeyId) }
                guard revoked else { throw CLIFailure("no active operator key with operatorKeyId \(apiKeyId)") }
                print(#"{"operatorKeyId":\#(apiKeyId),"revoked":true}"#)
                return
            }
            let revoked = try await withAdministration(database) { try await $0.revokeKey(id: apiKeyId) }
            guard revoked else { throw CLIFailure("no active key with apiKeyId \(apiKeyId)") }
            print(#"{"apiKeyId":\#(apiKeyId),"revoked":true}"#)
        }
    }
}

extension APIScope: ExpressibleByArgument {}
