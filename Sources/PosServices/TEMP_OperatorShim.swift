// TEMPORARY: stands in for the keys branch's operator keys until it merges. Deleted at merge.
import PosDomain

public struct OperatorKeyToken: Sendable {
    public init?(rawValue: String) { if !rawValue.hasPrefix("posop_") { return nil } }
}

public struct OperatorKeyRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
}

public struct OperatorPrincipal: Sendable, Equatable {
    public let key: OperatorKeyRecord
}

extension AuthService {
    public func authenticateOperator(apiKey: String) async throws -> OperatorPrincipal { throw ServiceError.unauthorized }
    public func operatorPrincipal(forKeyId id: Int64) async throws -> OperatorPrincipal? { nil }
    public func principal(forKeyId id: Int64) async throws -> Principal? { nil }
}
