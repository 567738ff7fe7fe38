import AsyncKit
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import PostgresNIO
import SQLKit
import Synchronization

/// PostgreSQL for scale-out: several stateless replicas share one database. A pooled connection
/// per read or transaction; connection failures surface as ``StoreError/unavailable(_:)`` (503) and
/// the pool reconnects by itself once the server is back.
///
/// `@unchecked Sendable`: AsyncKit's pools guard their state with a lock but predate `Sendable`.
public final class PostgresEngine: SQLEngine, @unchecked Sendable {
    public let flavor = SQLFlavor.postgres
    private let pool: EventLoopGroupConnectionPool<PostgresConnectionSource>
    private let logger: Logger
    private let isShutDown = Mutex(false)

    /// `url`: `postgres://user:pass@host:port/db`. `poolSize` is per event loop.
    public init(url: String, poolSize: Int = 8, logger: Logger) throws {
        var configuration = try SQLPostgresConfiguration(url: url)
        configuration.searchPath = nil
        self.logger = logger
        self.pool = EventLoopGroupConnectionPool(
            source: PostgresConnectionSource(sqlConfiguration: configuration),
            maxConnectionsPerEventLoop: max(1, poolSize), requestTimeout: .seconds(10), logger: logger,
            on: MultiThreadedEventLoopGroup.singleton)
    }

    private func connection() async throws -> PostgresConnection {
        if isShutDown.withLock({ $0 }) { throw StoreError.unavailable("database engine is shut down") }
        do {
            return try await pool.requestConnection(logger: logger).get()
        } catch {
            throw StoreError.unavailable("postgres: \(String(describing: error).prefix(200))")
        }
    }

    public func withReader<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let connection = try await connection()
        defer { pool.releaseConnection(connection, logger: logger) }
        return try await Self.translating { try await body(connection.sql(queryLogLevel: nil)) }
    }

    public func withTransaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let connection = try await connection()
        defer { pool.releaseConnection(connection, logger: logger) }
        // Query logging is off: binds include key hashes and sealed secrets.
        let database = connection.sql(queryLogLevel: nil)
        return try await Self.translating {
            try await database.raw("BEGIN").run()
            do {
                let result = try await body(database)
                try await database.raw("COMMIT").run()
                return result
            } catch {
                try? await database.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    /// A lost connection is "unavailable"; errors the server reports about a query are not.
    private static func translating<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError where error.code != .server {
            throw StoreError.unavailable("postgres: \(error.code)")
        }
    }

    public func shutdown() async {
        let alreadyShutDown = isShutDown.withLock { state in
            defer { state = true }
            return state
        }
        guard !alreadyShutDown else { return }
        try? await pool.shutdownAsync()
    }
}
