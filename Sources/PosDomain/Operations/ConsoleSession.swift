import Crypto

/// A signed-in console visitor, as stored: only the SHA-256 of the session id is kept, so a copy
/// of the table signs nobody in.
public struct ConsoleSession: Sendable, Equatable {
    /// Whose key opened the session.
    public enum Holder: Sendable, Equatable {
        /// A tenant's API key (scope `admin`).
        case tenantKey(Int64)
        /// A platform operator key.
        case operatorKey(Int64)
    }

    public var idHash: String
    public var holder: Holder
    /// The tenant an operator is acting in; nil for tenant keys (their tenant is the key's) and for
    /// an operator on the platform view.
    public var actingTenantId: String?
    public var createdAt: Int64
    public var lastSeenAt: Int64
    /// Idle expiry: `lastSeenAt` plus the idle timeout, moved forward as the visitor is seen.
    public var expiresAt: Int64

    public init(idHash: String, holder: Holder, actingTenantId: String?, createdAt: Int64, lastSeenAt: Int64, expiresAt: Int64) {
        self.idHash = idHash
        self.holder = holder
        self.actingTenantId = actingTenantId
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
    }
}

/// The session id as the browser holds it (in an `HttpOnly` cookie), and what is derived from it.
public struct ConsoleSessionId: Sendable, Equatable {
    public let rawValue: String

    public init?(rawValue: String) {
        // 32 random bytes, base64url: 43 characters of [A-Za-z0-9_-].
        guard rawValue.utf8.count == 43,
              rawValue.utf8.allSatisfy({ $0.isBase64URLCharacter })
        else { return nil }
        self.rawValue = rawValue
    }

    public static func generate() -> ConsoleSessionId {
        // A fresh 256-bit secret is always well-formed.
        ConsoleSessionId(unchecked: APIKeyToken.generateSecret())
    }

    private init(unchecked: String) { self.rawValue = unchecked }

    /// What the store keys the session by.
    public var hash: String { Hex.encode(SHA256.hash(data: Array(rawValue.utf8))) }

    /// The session's CSRF token: derived from the secret id, so it needs no storage, differs per
    /// session, and cannot be computed by a page that does not hold the cookie.
    public var csrfToken: String {
        Hex.encode(SHA256.hash(data: Array("console-csrf:\(rawValue)".utf8)))
    }

    /// Whether a token posted with a form is this session's, compared in constant time.
    public func acceptsCSRFToken(_ presented: String?) -> Bool {
        guard let presented else { return false }
        return ConstantTime.equals(Array(presented.utf8), Array(csrfToken.utf8))
    }
}

extension UInt8 {
    fileprivate var isBase64URLCharacter: Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || self == UInt8(ascii: "-") || self == UInt8(ascii: "_")
    }
}
