/// The seam between the one store implementation (``SQLStores``) and the engines it runs on.
///
/// A store call is one synchronous body over a session: on SQLite it runs on GRDB's writer or a
/// reader thread, on PostgreSQL on a thread that holds one pooled connection. Either way a store
/// call costs one hop, and every statement inside it runs in place (docs/adr/0004).

/// A value bound to a `?` placeholder or read from a column.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case string(String)
    case bytes([UInt8])
    case boolean(Bool)
    /// A list of strings: `TEXT[]` on PostgreSQL, comma-separated text on SQLite.
    case strings([String])
}

/// What a statement's arguments may be written as.
public protocol SQLBindable {
    var sqlValue: SQLValue { get }
}

extension SQLValue: SQLBindable {
    public var sqlValue: SQLValue { self }
}

extension String: SQLBindable {
    public var sqlValue: SQLValue { .string(self) }
}

extension Int64: SQLBindable {
    public var sqlValue: SQLValue { .integer(self) }
}

extension Int: SQLBindable {
    public var sqlValue: SQLValue { .integer(Int64(self)) }
}

extension Bool: SQLBindable {
    public var sqlValue: SQLValue { .boolean(self) }
}

extension Optional: SQLBindable where Wrapped: SQLBindable {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// The few places the two SQL dialects differ. Everything else is written once.
public enum SQLDialect: String, Sendable {
    case sqlite
    case postgres

    /// Appended to a claim's SELECT so concurrent replicas skip each other's rows.
    var skipLockedRows: String {
        switch self {
        case .sqlite: ""  // one writer at a time: nothing to skip
        case .postgres: "FOR UPDATE OF d SKIP LOCKED"
        }
    }

    /// Run inside a transaction that made deliveries due: tells every replica's idle worker (on commit).
    var outboxNotification: String? {
        switch self {
        case .sqlite: nil
        case .postgres: "SELECT pg_notify('\(PostgresEngine.outboxChannel)', '')"
        }
    }

    /// Names the index a read must use, where the planner has no statistics to choose it by:
    /// SQLite without `ANALYZE` takes any equality on a tenant's index as more selective than a
    /// status range. PostgreSQL plans from its own statistics.
    /// A delivery's place in emission order (`alias` names the deliveries row): SQLite's rowid, which
    /// only grows since rows are appended and never deleted (VACUUM keeps their relative order);
    /// PostgreSQL's `seq` sequence.
    func emissionOrder(_ alias: String) -> String {
        switch self {
        case .sqlite: "\(alias).rowid"
        case .postgres: "\(alias).seq"
        }
    }

    func indexedBy(_ index: String) -> String {
        switch self {
        case .sqlite: "INDEXED BY \(index)"
        case .postgres: ""
        }
    }

    /// Taken first in the migration transaction so replicas starting together queue, not race.
    var migrationLock: String? { transactionLock(Migrations.advisoryLockKey) }

    /// Taken first in a write transaction that reads, decides and then writes (a catalogue sync):
    /// another transaction taking the same key on any replica waits until this one commits.
    func transactionLock(_ key: Int64) -> String? {
        switch self {
        case .sqlite: nil  // BEGIN IMMEDIATE already serialises writers
        case .postgres: "SELECT pg_advisory_xact_lock(\(key))"
        }
    }

    /// A lock key for `name` (FNV-1a, 64 bits): the same on every replica.
    static func lockKey(_ name: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return Int64(bitPattern: hash)
    }
}

/// One row, its columns by name.
public struct SQLRow: Sendable {
    let columns: [String: Int]
    let values: [SQLValue]

    init(columns: [String: Int], values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript(_ column: String) -> SQLValue {
        get throws {
            guard let index = columns[column] else { throw SQLRowError.noSuchColumn(column) }
            return values[index]
        }
    }

    func string(_ column: String) throws -> String {
        guard let value = try optionalString(column) else { throw SQLRowError.unexpectedNull(column) }
        return value
    }

    func optionalString(_ column: String) throws -> String? {
        switch try self[column] {
        case .null: return nil
        case .string(let text): return text
        case .integer(let number): return String(number)
        case .bytes(let bytes): return String(decoding: bytes, as: UTF8.self)
        default: throw SQLRowError.wrongType(column, "text")
        }
    }

    func int64(_ column: String) throws -> Int64 {
        guard let value = try optionalInt64(column) else { throw SQLRowError.unexpectedNull(column) }
        return value
    }

    func optionalInt64(_ column: String) throws -> Int64? {
        switch try self[column] {
        case .null: return nil
        case .integer(let number): return number
        case .boolean(let flag): return flag ? 1 : 0
        default: throw SQLRowError.wrongType(column, "integer")
        }
    }

    func int(_ column: String) throws -> Int { Int(try int64(column)) }
    func optionalInt(_ column: String) throws -> Int? { try optionalInt64(column).map(Int.init) }

    func bool(_ column: String) throws -> Bool {
        switch try self[column] {
        case .boolean(let flag): return flag
        case .integer(let number): return number != 0
        default: throw SQLRowError.wrongType(column, "boolean")
        }
    }

    func bytes(_ column: String) throws -> [UInt8] {
        switch try self[column] {
        case .bytes(let bytes): return bytes
        case .string(let text): return Array(text.utf8)
        default: throw SQLRowError.wrongType(column, "bytes")
        }
    }

    func strings(_ column: String) throws -> [String] {
        switch try self[column] {
        case .strings(let list): return list
        case .string(let text): return text.split(separator: ",").map(String.init)
        case .null: return []
        default: throw SQLRowError.wrongType(column, "string list")
        }
    }
}

enum SQLRowError: Error, Equatable {
    case noSuchColumn(String)
    case unexpectedNull(String)
    case wrongType(String, String)
}

/// A connection for the length of one store call: inside a transaction for writes.
public protocol SQLSession {
    var dialect: SQLDialect { get }
    /// Runs a statement with `?` placeholders; returns how many rows it changed.
    @discardableResult
    func execute(_ sql: String, _ arguments: [any SQLBindable]) throws -> Int
    func query(_ sql: String, _ arguments: [any SQLBindable]) throws -> [SQLRow]
}

extension SQLSession {
    @discardableResult
    func execute(_ sql: String) throws -> Int { try execute(sql, []) }

    func query(_ sql: String) throws -> [SQLRow] { try query(sql, []) }

    func queryOne(_ sql: String, _ arguments: [any SQLBindable] = []) throws -> SQLRow? {
        try query(sql, arguments).first
    }

    /// Inside a transaction that made deliveries due: wakes every replica's idle worker on commit
    /// (where the engine can; polling covers the rest).
    func notifyOutbox() throws {
        if let notification = dialect.outboxNotification { try execute(notification) }
    }
}

/// `?, ?, ?` for an `IN (…)` list of `count` values.
func placeholders(_ count: Int) -> String {
    Array(repeating: "?", count: count).joined(separator: ", ")
}

/// A database the stores run on: a read session, or a write transaction that commits when its
/// body returns and rolls back when it throws. Bodies are synchronous: no hop per statement.
public protocol SQLEngine: Sendable {
    var dialect: SQLDialect { get }
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    /// A write transaction for schema changes: on SQLite with foreign keys off, so a table can be
    /// rebuilt under its children, and checked before commit.
    func migrate<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    func shutdown() async
}
