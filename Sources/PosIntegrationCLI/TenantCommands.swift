import ArgumentParser
import Logging
import PosDomain
import PosServices
import PosStorage

/// Runs `body` against the administration service over the chosen database, then closes it.
func withAdministration<T>(_ database: DatabaseOptions, _ body: (TenantAdministration) async throws -> T) async throws -> T {
    CLILogging.bootstrap()
    let stores = try await database.openStores(logger: Logger(label: "pos-integration"))
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
        commandName: "key", abstract: "Issue, list and revoke API keys.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a key; the only time it is shown.")
        @Option(help: "Tenant subdomain or id.") var tenant: String
        @Option(name: .customLong("scope"), help: "internal, partner or admin (repeatable).") var scopes: [APIScope] = []
        @Option(help: "Days until the key expires (default: never).") var expiresInDays: Int?
        @OptionGroup var database: DatabaseOptions

        struct Output: Encodable {
            let apiKeyId: Int64
            let key: String
            let tenantId: String
            let scopes: [String]
            @ExplicitNull var expiresAt: String?
        }

        func run() async throws {
            let issued = try await withAdministration(database) {
                try await $0.createKey(tenant: tenant, scopes: scopes, expiresInDays: expiresInDays)
            }
            try printJSON(Output(apiKeyId: issued.record.apiKeyId, key: issued.key, tenantId: issued.record.tenantId,
                                 scopes: issued.record.scopes.map(\.rawValue),
                                 expiresAt: issued.record.expiresAt.map { RFC3339.format(milliseconds: $0) }))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's keys (never their secrets).")
        @Option(help: "Tenant subdomain or id.") var tenant: String
        @OptionGroup var database: DatabaseOptions

        struct Row: Encodable {
            let apiKeyId: Int64
            let tenantId: String
            let scopes: [String]
            let createdAt: String
            @ExplicitNull var expiresAt: String?
            @ExplicitNull var revokedAt: String?
        }

        func run() async throws {
            let keys = try await withAdministration(database) { try await $0.keys(tenant: tenant) }
            try printJSON(keys.map {
                Row(apiKeyId: $0.apiKeyId, tenantId: $0.tenantId, scopes: $0.scopes.map(\.rawValue),
                    createdAt: RFC3339.format(milliseconds: $0.createdAt),
                    expiresAt: $0.expiresAt.map { RFC3339.format(milliseconds: $0) },
                    revokedAt: $0.revokedAt.map { RFC3339.format(milliseconds: $0) })
            })
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by its apiKeyId.")
        @Argument(help: "The apiKeyId to revoke.") var apiKeyId: Int64
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let revoked = try await withAdministration(database) { try await $0.revokeKey(id: apiKeyId) }
            guard revoked else { throw CLIFailure("no active key with apiKeyId \(apiKeyId)") }
            print(#"{"apiKeyId":\#(apiKeyId),"revoked":true}"#)
        }
    }
}

extension APIScope: ExpressibleByArgument {}
