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
    private let configuration: SQLPostgresConfiguration
    private let logger: Logger
    private let isShutDown = Mutex(false)
    private let listeners = Mutex<[Task<Void, Never>]>([])

    /// The channel that tells every replica's worker the outbox has due work.
    public static let outboxChannel = "pos_outbox"

    /// `url`: `postgres://user:pass@host:port/db`. `poolSize` is per event loop; a statement
    /// running longer than `statementTimeoutMs` is cancelled by the server.
    public init(url: String, poolSize: Int = 8, statementTimeoutMs: Int64 = 30_000, logger: Logger) throws {
        var configuration = try SQLPostgresConfiguration(url: url)
        configuration.searchPath = nil
        configuration.coreConfiguration.options.additionalStartupParameters.append(("statement_timeout", String(statementTimeoutMs)))
        self.configuration = configuration
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
        return try await Self.translating { try await database.inTransaction(body) }
    }

    /// A lost connection is "unavailable"; errors the server reports about a query are not.
    private static func translating<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError where error.code != .server {
            throw StoreError.unavailable("postgres: \(error.code)")
        }
    }

    /// Calls `onNotification` for every NOTIFY on `channel`, from a connection of its own that is
    /// re-opened after failures, until shutdown.
    public func listen(channel: String, onNotification: @escaping @Sendable () -> Void) {
        let configuration = self.configuration.coreConfiguration
        let logger = self.logger
        let task = Task {
            while !Task.isCancelled {
                do {
                    let connection = try await PostgresConnection.connect(
                        on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: 0, logger: logger).get()
                    do {
                        try await connection.listen(on: channel) { notifications in
                            for try await _ in notifications { onNotification() }
                        }
                    } catch {
                        try? await connection.close()
                        throw error
                    }
                    try? await connection.close()
                } catch {
                    logger.debug("outbox listener reconnecting", metadata: ["error": .string(String(describing: error))])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        listeners.withLock { $0.append(task) }
    }

    public func shutdown() async {
        let alreadyShutDown = isShutDown.withLock { state in
            defer { state = true }
            return state
        }
        guard !alreadyShutDown else { return }
        for task in listeners.withLock({ $0 }) { task.cancel() }
        try? await pool.shutdownAsync()
    }
}
