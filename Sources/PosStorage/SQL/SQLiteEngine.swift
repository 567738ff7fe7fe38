import Foundation
import GRDB

/// Durability of an SQLite commit (`POS_SQLITE_SYNCHRONOUS`). `normal` survives a crash of the
/// process, not of the machine; `full` also survives power loss at the cost of an fsync per commit.
public enum SQLiteSynchronous: String, Sendable {
    case normal = "NORMAL"
    case full = "FULL"
}

/// Embedded SQLite through GRDB: WAL mode, one serialised writer and a pool of concurrent readers.
/// A store call is one hop to GRDB's queue, which runs cached prepared statements synchronously
/// (docs/adr/0001 has the numbers).
public final class SQLiteEngine: SQLEngine {
    public let dialect = SQLDialect.sqlite
    public let path: String
    private let pool: DatabasePool

    public init(path: String, synchronous: SQLiteSynchronous = .normal, readerCount: Int = 4) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.label = "pos-integration"
        configuration.maximumReaderCount = readerCount
        // Other processes (the CLI) write to the same file; wait for them instead of failing.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous.rawValue)")
        }
        self.path = path
        self.pool = try DatabasePool(path: path, configuration: configuration)
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await translatingErrors { try await pool.read { db in try body(GRDBSession(db: db)) } }
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await translatingErrors { try await pool.write { db in try body(GRDBSession(db: db)) } }
    }

    public func migrate<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await translatingErrors {
            try await pool.barrierWriteWithoutTransaction { db in
                // Only outside a transaction does this take effect.
                try db.execute(sql: "PRAGMA foreign_keys = OFF")
                defer { try? db.execute(sql: "PRAGMA foreign_keys = ON") }
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(GRDBSession(db: db))
                    if let broken = try Row.fetchOne(db, sql: "PRAGMA foreign_key_check") {
                        throw StoreError.unavailable("migration left a broken foreign key: \(broken)")
                    }
                    return .commit
                }
                guard let result else { throw StoreError.unavailable("migration returned nothing") }
                return result
            }
        }
    }

    public func shutdown() async {
        try? pool.close()
    }

    /// Errors that mean "the database is not answering" become ``StoreError/unavailable(_:)`` (a 503).
    private func translatingErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DatabaseError where Self.unavailableCodes.contains(where: { $0 == error.resultCode }) {
            throw StoreError.unavailable("sqlite: \(error.resultCode)")
        }
    }

    private static let unavailableCodes: [ResultCode] = [
        .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_MISUSE, .SQLITE_CANTOPEN, .SQLITE_IOERR, .SQLITE_FULL, .SQLITE_READONLY,
    ]
}

/// A GRDB connection inside one `read` or `write`: statements are prepared once and cached.
private struct GRDBSession: SQLSession {
    let db: Database
    var dialect: SQLDialect { .sqlite }

    func execute(_ sql: String, _ arguments: [any SQLBindable]) throws -> Int {
        try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
        return db.changesCount
    }

    func query(_ sql: String, _ arguments: [any SQLBindable]) throws -> [SQLRow] {
        let statement = try db.cachedStatement(sql: sql)
        let columns = Dictionary(statement.columnNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        return try Row.fetchAll(statement, arguments: Self.arguments(arguments)).map { row in
            SQLRow(columns: columns, values: row.databaseValues.map(Self.value))
        }
    }

    private static func arguments(_ values: [any SQLBindable]) -> StatementArguments {
        StatementArguments(values.map { value -> DatabaseValue in
            switch value.sqlValue {
            case .null: .null
            case .integer(let number): number.databaseValue
            case .string(let text): text.databaseValue
            case .bytes(let bytes): Data(bytes).databaseValue
            case .boolean(let flag): (flag ? Int64(1) : Int64(0)).databaseValue
            case .strings(let list): list.joined(separator: ",").databaseValue
            }
        })
    }

    private static func value(_ value: DatabaseValue) -> SQLValue {
        switch value.storage {
        case .null: .null
        case .int64(let number): .integer(number)
        case .double(let number): .string(String(number))  // no REAL columns in the schema
        case .string(let text): .string(text)
        case .blob(let data): .bytes(Array(data))
        }
    }
}
