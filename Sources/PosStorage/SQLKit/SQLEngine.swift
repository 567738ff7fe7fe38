import SQLKit

/// Which SQL engine a store runs on; the few engine-specific bits of SQL branch on it.
public enum SQLFlavor: String, Sendable {
    case sqlite
    case postgres
}

/// A database the SQL stores run on: short read sessions and serialisable write transactions.
public protocol SQLEngine: Sendable {
    var flavor: SQLFlavor { get }
    /// Runs `body` on a connection for reads (it may see a snapshot from just before a concurrent commit).
    func withReader<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Runs `body` inside one transaction; commits when it returns, rolls back when it throws.
    func withTransaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    func shutdown() async
}

extension SQLDatabase {
    /// Runs `body` between `begin` and COMMIT on this (single-connection) database; ROLLBACK when it throws.
    func inTransaction<T: Sendable>(begin: String = "BEGIN", _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await raw(SQLQueryString(begin)).run()
        do {
            let result = try await body(self)
            try await raw("COMMIT").run()
            return result
        } catch {
            try? await raw("ROLLBACK").run()
            throw error
        }
    }
}
