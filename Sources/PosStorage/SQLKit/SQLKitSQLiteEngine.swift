import AsyncKit
import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization

/// SQLite through SQLKit (sqlite-kit): keeps the SQLKit stores — the PostgreSQL path — exercised by the
/// contract suite until the PostgreSQL engine lands. Production SQLite is ``SQLiteStores`` (GRDB).
///
/// WAL mode: one writer connection (SQLite allows one writer at a time, so
/// queueing in-process beats spinning on `SQLITE_BUSY`) and a small pool of readers that never
/// block it. Other processes (the CLI) share the file through `busy_timeout`.
///
/// `@unchecked Sendable`: AsyncKit's pools guard their state with a lock but predate `Sendable`.
public final class SQLKitSQLiteEngine: SQLEngine, @unchecked Sendable {
    public let flavor = SQLFlavor.sqlite
    public let path: String

    private let eventLoopGroup: MultiThreadedEventLoopGroup
    private let threadPool: NIOThreadPool
    private let writer: EventLoopGroupConnectionPool<TunedSQLiteSource>
    private let readers: EventLoopGroupConnectionPool<TunedSQLiteSource>
    private let logger: Logger
    private let isShutDown = Mutex(false)

    public init(path: String, readerCount: Int = 4, synchronous: SQLiteSynchronous = .normal, logger: Logger) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.path = path
        self.logger = logger
        self.eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.threadPool = NIOThreadPool(numberOfThreads: readerCount + 1)
        threadPool.start()
        let pragmas = [
            "PRAGMA journal_mode = WAL",
            "PRAGMA busy_timeout = 10000",
            "PRAGMA synchronous = \(synchronous.rawValue)",
            "PRAGMA foreign_keys = ON",
        ]
        let source = TunedSQLiteSource(path: path, threadPool: threadPool, pragmas: pragmas)
        self.writer = EventLoopGroupConnectionPool(
            source: source, maxConnectionsPerEventLoop: 1, requestTimeout: .seconds(60), logger: logger, on: eventLoopGroup)
        self.readers = EventLoopGroupConnectionPool(
            source: source, maxConnectionsPerEventLoop: max(1, readerCount), requestTimeout: .seconds(60), logger: logger, on: eventLoopGroup)
    }

    public func withReader<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try ensureOpen()
        let connection = try await readers.requestConnection(logger: logger).get()
        defer { readers.releaseConnection(connection, logger: logger) }
        return try await body(connection.sql(queryLogLevel: nil))
    }

    public func withTransaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try ensureOpen()
        let connection = try await writer.requestConnection(logger: logger).get()
        defer { writer.releaseConnection(connection, logger: logger) }
        // Query logging is off: binds include key hashes and sealed secrets.
        let database = connection.sql(queryLogLevel: nil)
        // IMMEDIATE takes the write lock up front, so a read-then-write inside cannot deadlock
        // against another process's writer.
        return try await database.inTransaction(begin: "BEGIN IMMEDIATE", body)
    }

    /// After shutdown the event loop is gone and a pool request would never complete: refuse instead.
    private func ensureOpen() throws {
        if isShutDown.withLock({ $0 }) { throw StoreError.unavailable("database engine is shut down") }
    }

    public func shutdown() async {
        let alreadyShutDown = isShutDown.withLock { state in
            defer { state = true }
            return state
        }
        guard !alreadyShutDown else { return }
        try? await writer.shutdownAsync()
        try? await readers.shutdownAsync()
        try? await threadPool.shutdownGracefully()
        try? await eventLoopGroup.shutdownGracefully()
    }
}

/// Opens SQLite connections with the pragmas every connection of ours needs.
struct TunedSQLiteSource: ConnectionPoolSource {
    let path: String
    let threadPool: NIOThreadPool
    let pragmas: [String]

    func makeConnection(logger: Logger, on eventLoop: any EventLoop) -> EventLoopFuture<SQLiteConnection> {
        SQLiteConnection.open(storage: .file(path: path), threadPool: threadPool, logger: logger, on: eventLoop)
            .flatMap { connection in
                var chain = eventLoop.makeSucceededVoidFuture()
                for pragma in pragmas {
                    chain = chain.flatMap { connection.query(pragma).map { _ in } }
                }
                return chain.map { connection }.flatMapErrorThrowing { error in
                    _ = connection.close()
                    throw error
                }
            }
    }
}
