import Crypto
import Foundation

/// An API key as handed to a caller: `posk_<apiKeyId>_<secret>`.
///
/// The id lets the server find the key's row without scanning; only SHA-256 of the 256-bit
/// secret is stored, and the comparison is constant-time.
public struct APIKeyToken: Sendable, Equatable {
    public static let prefix = "posk_"

    public let apiKeyId: Int64
    public let secret: String

    public init(apiKeyId: Int64, secret: String) {
        self.apiKeyId = apiKeyId
        self.secret = secret
    }

    /// A fresh secret: 32 random bytes, base64url without padding.
    public static func generateSecret() -> String {
        Base64URL.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    public var rawValue: String { "\(Self.prefix)\(apiKeyId)_\(secret)" }

    /// Parses a presented key; nil for anything not shaped like one of ours.
    public init?(rawValue: String) {
        guard rawValue.hasPrefix(Self.prefix), rawValue.utf8.count <= 128 else { return nil }
        let rest = rawValue.dropFirst(Self.prefix.count)
        guard let separator = rest.firstIndex(of: "_"),
              let id = Int64(rest[..<separator]), id > 0
        else { return nil }
        let secret = rest[rest.index(after: separator)...]
        guard secret.utf8.count == 43 else { return nil }
        self.apiKeyId = id
        self.secret = String(secret)
    }

    /// Lowercase hex SHA-256 of a secret: what the store keeps.
    public static func hash(secret: String) -> String {
        Hex.encode(SHA256.hash(data: Array(secret.utf8)))
    }

    /// Whether this token's secret hashes to `storedHash`, compared in constant time.
    public func matches(storedHash: String) -> Bool {
        ConstantTime.equals(Array(Self.hash(secret: secret).utf8), Array(storedHash.utf8))
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
