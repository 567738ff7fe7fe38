import Foundation

/// What a partner asks of the tenant's loyalty service, and the path each is forwarded to.
public enum LoyaltyOperation: String, Sendable, CaseIterable {
    case balance
    case earnPoints = "earn-points"
    case usePoints = "use-points"
    case customer

    /// The loyalty service's path for it (`/v1/h2h/…`).
    public var upstreamPath: String {
        switch self {
        case .balance: "/v1/h2h/points-balance"
        case .earnPoints: "/v1/h2h/grant-points"
        case .usePoints: "/v1/h2h/use-points"
        case .customer: "/v1/h2h/customer"
        }
    }

    /// Earn and use move points: they carry a `refCode` and are idempotent on it.
    public var movesPoints: Bool { self == .earnPoints || self == .usePoints }
}

/// `earn-points` or `use-points`, validated: what is forwarded and what its `refCode` stands for.
public struct LoyaltyPointsMove: Sendable, Equatable {
    /// Lower case, as forwarded and as compared with an earlier request under the same `refCode`.
    public let customerUuid: String
    public let points: Int64
    public let refCode: String
    /// Shown to the customer by the loyalty service (earn only).
    public let displayNotes: String?

    public init(customerUuid: String, points: Int64, refCode: String, displayNotes: String? = nil) {
        self.customerUuid = customerUuid
        self.points = points
        self.refCode = refCode
        self.displayNotes = displayNotes
    }
}

/// How a customer is looked up: `identifier` is one of three forms, told apart by its shape.
public enum LoyaltyIdentifier: Sendable, Equatable {
    case email(String)
    case phone(String)
    case shortCode(String)

    public var text: String {
        switch self {
        case .email(let text), .phone(let text), .shortCode(let text): text
        }
    }
}

/// The field rules of the loyalty routes, checked before anything goes upstream.
public enum LoyaltyRules {
    /// The most points one request may move: the loyalty service's 32-bit integer.
    public static let maxPoints = 2_147_483_647
    public static let maxRefCodeLength = 64
    public static let maxDisplayNotesLength = 500

    /// A UUID in its 8-4-4-4-12 hex form; returned in lower case.
    public static func customerUuid(_ text: String, field: String = "customerUuid") throws(ValidationError) -> String {
        guard text.utf8.count == 36, let uuid = UUID(uuidString: text) else {
            throw ValidationError(field: field, message: "must be a UUID such as 3f2b8c1e-6d0a-4c5e-9f7b-2a1d4e6c8b90")
        }
        return uuid.uuidString.lowercased()
    }

    /// 1 to 64 printable ASCII characters (space to `~`).
    public static func refCode(_ text: String, field: String = "refCode") throws(ValidationError) -> String {
        let bytes = text.utf8
        guard (1...maxRefCodeLength).contains(bytes.count), bytes.allSatisfy({ (0x20...0x7E).contains($0) }),
              !text.allSatisfy(\.isWhitespace)
        else {
            throw ValidationError(field: field, message: "must be 1 to \(maxRefCodeLength) printable ASCII characters")
        }
        return text
    }

    /// An e-mail (anything with `@`, checked loosely), a phone number in E.164 (`+` and 8 to 15
    /// digits), or a QR short code (4 to 32 letters, digits or `-`).
    public static func identifier(_ text: String, field: String = "identifier") throws(ValidationError) -> LoyaltyIdentifier {
        let bytes = Array(text.utf8)
        if text.contains("@") {
            let parts = text.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
                  bytes.count <= 254, bytes.allSatisfy({ (0x21...0x7E).contains($0) })
            else { throw ValidationError(field: field, message: "is not a valid e-mail address") }
            return .email(text)
        }
        if text.hasPrefix("+") {
            let digits = bytes.dropFirst()
            guard (8...15).contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }), digits.first != 0x30 else {
                throw ValidationError(field: field, message: "is not a phone number in E.164 form such as +6281287730000")
            }
            return .phone(text)
        }
        guard (4...32).contains(bytes.count), bytes.allSatisfy({ byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D
        }) else {
            throw ValidationError(field: field, message: "must be an e-mail address, a phone number in E.164 form (+6281287730000) "
                                  + "or a short code of 4 to 32 letters, digits or '-'")
        }
        return .shortCode(text)
    }
}

/// A tenant's loyalty service: where it is, the key it is called with (sealed), how long a call
/// may take. A nil `baseUrl` or `timeoutMs` follows the deployment's default
/// (`POS_LOYALTY_URL`, `POS_LOYALTY_TIMEOUT`).
public struct LoyaltyConfig: Sendable, Equatable {
    public var tenantId: String
    public var baseUrl: String?
    public var sealedApiKey: String
    public var timeoutMs: Int64?
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(tenantId: String, baseUrl: String?, sealedApiKey: String, timeoutMs: Int64?, createdAt: Int64, updatedAt: Int64) {
        self.tenantId = tenantId
        self.baseUrl = baseUrl
        self.sealedApiKey = sealedApiKey
        self.timeoutMs = timeoutMs
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// One loyalty call as logged: who asked what, what the loyalty service answered, how long it
/// took, and what the partner got.
public struct LoyaltyCall: Sendable, Equatable {
    public var id: Int64
    public var tenantId: String
    public var operation: LoyaltyOperation
    public var customerUuid: String?
    public var points: Int64?
    public var refCode: String?
    /// The loyalty service's HTTP status; nil when it was not asked or did not answer.
    public var upstreamStatus: Int?
    public var latencyMs: Int64
    /// The status the partner got.
    public var status: Int
    /// `answered`, `refused`, `replayed`, `timeout`, `bad_gateway`, `not_configured`, `mismatch`, `in_flight`.
    public var outcome: String
    public var at: Int64

    public init(id: Int64 = 0, tenantId: String, operation: LoyaltyOperation, customerUuid: String?, points: Int64?, refCode: String?,
                upstreamStatus: Int?, latencyMs: Int64, status: Int, outcome: String, at: Int64) {
        self.id = id
        self.tenantId = tenantId
        self.operation = operation
        self.customerUuid = customerUuid
        self.points = points
        self.refCode = refCode
        self.upstreamStatus = upstreamStatus
        self.latencyMs = latencyMs
        self.status = status
        self.outcome = outcome
        self.at = at
    }
}
