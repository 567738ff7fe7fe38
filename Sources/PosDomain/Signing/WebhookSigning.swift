import Crypto
import Foundation

/// A webhook signing secret: `whsec_<base64 of 32 random bytes>`; the HMAC key is the decoded bytes.
public struct WebhookSecret: Sendable, Equatable {
    public static let prefix = "whsec_"
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public static func generate() -> WebhookSecret {
        WebhookSecret(bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    public init?(encoded: String) {
        guard encoded.hasPrefix(Self.prefix),
              let data = Data(base64Encoded: String(encoded.dropFirst(Self.prefix.count))),
              (24...64).contains(data.count)
        else { return nil }
        self.bytes = Array(data)
    }

    public var encoded: String { Self.prefix + Data(bytes).base64EncodedString() }
}

/// Signs a delivery the two ways receivers check: Cata's `X-Cata-Signature` (HMAC-SHA256 of the
/// body, hex) and Standard Webhooks' `webhook-signature` (HMAC-SHA256 of `id.timestamp.body`, base64).
public enum WebhookSigning {
    public static func cataSignature(body: [UInt8], secret: WebhookSecret) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret.bytes))
        return "sha256=" + Hex.encode(mac)
    }

    public static func standardSignature(id: String, timestamp: Int64, body: [UInt8], secret: WebhookSecret) -> String {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: secret.bytes))
        hmac.update(data: Array("\(id).\(timestamp).".utf8))
        hmac.update(data: body)
        return "v1," + Data(hmac.finalize()).base64EncodedString()
    }

    /// Headers for one attempt. `secrets` is newest first: the Cata header carries the newest
    /// signature, `webhook-signature` one per secret (rotation overlap).
    public static func headers(
        event: String,
        deliveryId: String,
        timestamp: Int64,
        body: [UInt8],
        secrets: [WebhookSecret]
    ) -> [(name: String, value: String)] {
        precondition(!secrets.isEmpty, "a webhook always has a signing secret")
        return [
            ("Content-Type", "application/json"),
            ("X-Cata-Event", event),
            ("X-Cata-Delivery-ID", deliveryId),
            ("X-Cata-Timestamp", String(timestamp)),
            ("X-Cata-Signature", cataSignature(body: body, secret: secrets[0])),
            ("webhook-id", deliveryId),
            ("webhook-timestamp", String(timestamp)),
            ("webhook-signature", secrets.map { standardSignature(id: deliveryId, timestamp: timestamp, body: body, secret: $0) }.joined(separator: " ")),
        ]
    }
}
