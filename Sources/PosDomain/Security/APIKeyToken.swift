import Crypto
import Foundation

/// A key as handed to a caller: `<prefix><id>_<secret>`. Tenants' API keys (``APIKeyToken``,
/// `posk_`) and the platform's operator keys (``OperatorKeyToken``, `posop_`) share the shape and
/// every rule; only the prefix tells them apart, so one kind never parses as the other.
///
/// The id lets the server find the key's row without scanning; only SHA-256 of the 256-bit
/// secret is stored, and the comparison is constant-time.
public protocol PrefixedKeyToken: Sendable, Equatable {
    static var prefix: String { get }
    var id: Int64 { get }
    var secret: String { get }
    init(id: Int64, secret: String)
}

extension PrefixedKeyToken {
    public var rawValue: String { "\(Self.prefix)\(id)_\(secret)" }

    /// Parses a presented key; nil for anything not shaped like one of this kind.
    public init?(rawValue: String) {
        guard rawValue.hasPrefix(Self.prefix), rawValue.utf8.count <= 128 else { return nil }
        let rest = rawValue.dropFirst(Self.prefix.count)
        guard let separator = rest.firstIndex(of: "_"),
              let id = Int64(rest[..<separator]), id > 0
        else { return nil }
        let secret = rest[rest.index(after: separator)...]
        guard secret.utf8.count == 43 else { return nil }
        self.init(id: id, secret: String(secret))
    }

    /// A fresh secret: 32 random bytes, base64url without padding.
    public static func generateSecret() -> String {
        Base64URL.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    /// Lowercase hex SHA-256 of a secret: what the store keeps.
    public static func hash(secret: String) -> String {
        Hex.encode(SHA256.hash(data: Array(secret.utf8)))
    }

    /// Whether this token's secret hashes to `storedHash`, compared in constant time.
    public func matches(storedHash: String) -> Bool {
        ConstantTime.equals(Array(Self.hash(secret: secret).utf8), Array(storedHash.utf8))
    }

    /// How a key is shown once issued: `<prefix><id>_` and the secret's first `secretCharacters`
    /// characters (none for keys issued before prefixes were stored), enough to tell keys apart.
    public static func displayPrefix(id: Int64, secretStart: String = "") -> String {
        "\(prefix)\(id)_\(secretStart.prefix(secretCharacters))"
    }

    /// This key's ``displayPrefix(id:secretStart:)``.
    public var displayPrefix: String { Self.displayPrefix(id: id, secretStart: secret) }

    /// How many characters of the secret a display prefix shows.
    public static var secretCharacters: Int { 4 }
}

/// A tenant's API key: `posk_<apiKeyId>_<secret>`.
public struct APIKeyToken: PrefixedKeyToken {
    public static let prefix = "posk_"

    public let apiKeyId: Int64
    public let secret: String

    public init(apiKeyId: Int64, secret: String) {
        self.apiKeyId = apiKeyId
        self.secret = secret
    }

    public init(id: Int64, secret: String) { self.init(apiKeyId: id, secret: secret) }

    public var id: Int64 { apiKeyId }
}

/// A platform operator's key: `posop_<operatorKeyId>_<secret>`. It belongs to no tenant, so the
/// tenant API refuses it (it never parses as an ``APIKeyToken``).
public struct OperatorKeyToken: PrefixedKeyToken {
    public static let prefix = "posop_"

    public let id: Int64
    public let secret: String

    public init(id: Int64, secret: String) {
        self.id = id
        self.secret = secret
    }
}

public enum APIScope: String, Sendable, CaseIterable, Codable {
    /// Internal platform services such as kds-management-service (dispatch).
    case `internal`
    /// POS partners calling host-to-host.
    case partner
    /// Platform operators.
    case admin
}

enum Base64URL {
    static func encode<D: Sequence<UInt8>>(_ bytes: D) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

public enum Hex {
    public static func encode<D: Sequence<UInt8>>(_ bytes: D) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
