import Foundation

/// A parsed JSON value that remembers where it sits in the source bytes.
///
/// Dispatch must forward the `order` value byte-for-byte (HMAC parity with the sender), so the
/// parser keeps each value's byte span instead of re-encoding. Numbers keep their source text so
/// money is read exactly, never through `Double`.
public struct JSONNode: Sendable {
    public enum Kind: Sendable {
        case object([Member])
        case array([JSONNode])
        case string(String)
        case number(String)
        case bool(Bool)
        case null
    }

    public struct Member: Sendable {
        public let key: String
        public let value: JSONNode
    }

    public let kind: Kind
    /// Byte offsets of this value (without surrounding whitespace) in the parsed buffer.
    public let span: Range<Int>

    public subscript(key: String) -> JSONNode? {
        guard case .object(let members) = kind else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The JSON type name used in validation messages.
    public var typeName: String {
        switch kind {
        case .object: "object"
        case .array: "array"
        case .string: "string"
        case .number: "number"
        case .bool: "boolean"
        case .null: "null"
        }
    }
}

/// Writing small JSON by hand, safely.
public enum JSONText {
    /// `text` as a JSON string literal, escaped per RFC 8259.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            // U+2028/2029 too: valid JSON, but they end a line for some readers of log lines.
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
