import Crypto
import Foundation

/// Encrypts secrets at rest (webhook signing secrets, POS credentials) with AES-256-GCM under the
/// service's master key. Stored form: `v1:<base64 of nonce ‖ ciphertext ‖ tag>`.
public struct SecretBox: Sendable {
    public enum Failure: Error, Equatable, Sendable {
        case invalidMasterKey
        case unreadableCiphertext
    }

    private let key: SymmetricKey

    public init(masterKey: SymmetricKey) {
        self.key = masterKey
    }

    /// Accepts the master key as base64 (44 chars) or hex (64 chars) of 32 bytes.
    public init(encodedMasterKey: String) throws(Failure) {
        let trimmed = encodedMasterKey.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.utf8.count == 64, let bytes = Self.decodeHex(trimmed) {
            self.init(masterKey: SymmetricKey(data: bytes))
        } else if let data = Data(base64Encoded: trimmed), data.count == 32 {
            self.init(masterKey: SymmetricKey(data: data))
        } else {
            throw .invalidMasterKey
        }
    }

    public static func generateEncodedMasterKey() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    public func seal(_ plaintext: String) throws -> String {
        let box = try AES.GCM.seal(Array(plaintext.utf8), using: key)
        guard let combined = box.combined else { throw Failure.unreadableCiphertext }
        return "v1:" + combined.base64EncodedString()
    }

    public func open(_ stored: String) throws(Failure) -> String {
        guard stored.hasPrefix("v1:"), let data = Data(base64Encoded: String(stored.dropFirst(3))) else {
            throw .unreadableCiphertext
        }
        do {
            let box = try AES.GCM.SealedBox(combined: data)
            let plain = try AES.GCM.open(box, using: key)
            guard let text = String(validating: plain, as: UTF8.self) else { throw Failure.unreadableCiphertext }
            return text
        } catch {
            // Wrong master key or tampered data; never echo the ciphertext.
            throw .unreadableCiphertext
        }
    }

    /// A sealed credential for display: `****` and the last four characters of a key of 12 or more,
    /// nothing of a shorter one (or of one this master key cannot open).
    public func masked(_ stored: String) -> String {
        guard let key = try? open(stored) else { return "****" }
        return key.count >= 12 ? "****" + String(key.suffix(4)) : "****"
    }

    private static func decodeHex(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let h = nibble(high), let l = nibble(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        return bytes
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
}
