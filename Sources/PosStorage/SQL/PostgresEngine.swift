import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// PostgreSQL for scale-out: several stateless replicas share one database.
///
/// Each store call runs on one of `poolSize` threads, and each thread holds one connection, so
/// the store's synchronous body runs its statements in place, exactly as on SQLite
/// (docs/adr/0004). A lost connection surfaces as ``StoreError/unavailable(_:)`` (503) and is
/// replaced on the next call, so the service recovers by itself when the server is back.
public final class PostgresEngine: SQLEngine {
    public let dialect = SQLDialect.postgres
    private let configuration: PostgresConnection.Configuration
    private let threads: NIOThreadPool
    private let idle = Mutex<[PostgresConnection]>([])
    private let isShutDown = Mutex(false)
    private let listeners = Mutex<[Task<Void, Never>]>([])
    private let logger: Logger

    /// The channel that tells every replica's worker the outbox has due work.
    public static let outboxChannel = "pos_outbox"

    /// `url`: `postgres://user:pass@host:port/db[?sslmode=disable|prefer|require]`. A statement running
    /// longer than `statementTimeoutMs` is cancelled by the server.
    public init(url: String, poolSize: Int = 8, statementTimeoutMs: Int64 = 30_000, logger: Logger) throws {
        var configuration = try Self.configuration(url: url)
        configuration.options.additionalStartupParameters.append(("statement_timeout", String(statementTimeoutMs)))
        self.configuration = configuration
        self.logger = logger
        self.threads = NIOThreadPool(numberOfThreads: max(1, poolSize))
        threads.start()
    }

    static func configuration(url text: String) throws -> PostgresConnection.Configuration {
        guard let url = URLComponents(string: text), let host = url.host, !host.isEmpty, let user = url.user else {
            throw StoreError.unavailable("postgres: cannot read the database URL (postgres://user:pass@host:port/db)")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        let sslMode = url.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "disable"
        let tls: PostgresConnection.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        default: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        return PostgresConnection.Configuration(
            host: host, port: url.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: url.password?.removingPercentEncoding, database: database.isEmpty ? nil : database, tls: tls)
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await withConnection { session in try body(session) }
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await withConnection { session in
            try session.execute("BEGIN")
            do {
                let result = try body(session)
                try session.execute("COMMIT")
                return result
            } catch {
                _ = try? session.execute("ROLLBACK")
                throw error
            }
        }
    }

    public func migrate<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await write(body)
    }

    /// Runs `body` on a pool thread with a connection of its own: at most one body per thread, so
    /// there are never more connections than threads.
    private func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        if isShutDown.withLock({ $0 }) { throw StoreError.unavailable("database engine is shut down") }
        do {
            return try await threads.runIfActive { [self] in
                let connection = try checkOut()
                defer { checkIn(connection) }
                return try body(PostgresSession(connection: connection, logger: logger))
            }
        } catch let error as PSQLError where error.code != .server {
            throw StoreError.unavailable("postgres: \(error.code)")
        } catch let error as NIOThreadPoolError.ThreadPoolInactive {
            throw StoreError.unavailable("postgres: \(error)")
        }
    }

    private func checkOut() throws -> PostgresConnection {
        while let connection = idle.withLock({ $0.popLast() }) {
            if !connection.isClosed { return connection }
        }
        do {
            return try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: 0, logger: logger).wait()
        } catch {
            throw StoreError.unavailable("postgres: \(String(describing: error).prefix(200))")
        }
    }

    private func checkIn(_ connection: PostgresConnection) {
        guard !connection.isClosed else { return }
        if isShutDown.withLock({ $0 }) {
            let _: EventLoopFuture<Void> = connection.close()
        } else {
            idle.withLock { $0.append(connection) }
        }
    }

    /// Calls `onNotification` for every NOTIFY on `channel`, from a connection of its own that is
    /// re-opened after failures, until shutdown.
    public func listen(channel: String, onNotification: @escaping @Sendable () -> Void) {
        let configuration = self.configuration
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
        try? await threads.shutdownGracefully()
        for connection in idle.withLock({ state in defer { state = [] }; return state }) {
            try? await connection.close()
        }
    }
}

/// One pooled connection on its own thread: each statement waits for its answer in place.
private struct PostgresSession: SQLSession {
    let connection: PostgresConnection
    let logger: Logger
    var dialect: SQLDialect { .postgres }

    func execute(_ sql: String, _ arguments: [any SQLBindable]) throws -> Int {
        try run(sql, arguments).metadata.rows ?? 0
    }

    func query(_ sql: String, _ arguments: [any SQLBindable]) throws -> [SQLRow] {
        let result = try run(sql, arguments)
        guard let first = result.rows.first else { return [] }
        var columns: [String: Int] = [:]
        for (index, cell) in first.enumerated() where columns[cell.columnName] == nil { columns[cell.columnName] = index }
        return try result.rows.map { row in SQLRow(columns: columns, values: try row.map(Self.value)) }
    }

    private func run(_ sql: String, _ arguments: [any SQLBindable]) throws -> PostgresQueryResult {
        try connection.query(Self.numberingPlaceholders(sql), arguments.map { Self.data($0.sqlValue) }).wait()
    }

    /// `?` → `$1`, `$2`… outside string literals: the stores write `?` for both engines.
    static func numberingPlaceholders(_ sql: String) -> String {
        var result = ""
        result.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        var inLiteral = false
        for character in sql {
            if character == "'" { inLiteral.toggle() }
            if character == "?", !inLiteral {
                number += 1
                result += "$\(number)"
            } else {
                result.append(character)
            }
        }
        return result
    }

    private static func data(_ value: SQLValue) -> PostgresData {
        switch value {
        case .null: PostgresData.null
        case .integer(let number): PostgresData(int64: number)
        case .string(let text): PostgresData(string: text)
        case .bytes(let bytes): PostgresData(bytes: bytes)
        case .boolean(let flag): PostgresData(bool: flag)
        case .strings(let list): PostgresData(array: list.map { PostgresData(string: $0) }, elementType: .text)
        }
    }

    private static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
        case .bool: return .boolean(try cell.decode(Bool.self))
        case .bytea: return .bytes(Array(try cell.decode(ByteBuffer.self).readableBytesView))
        case .textArray, .varcharArray: return .strings(try cell.decode([String].self))
        default: return .string(try cell.decode(String.self))
        }
    }
}
