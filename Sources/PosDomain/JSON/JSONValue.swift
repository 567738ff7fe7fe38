/// JSON we write: what connectors send to a POS and what we store as settings.
///
/// Object members keep their order and numbers keep their exact text, so a mapping serialises the
/// same bytes every time (golden files) and money never passes through `Double`.
public indirect enum JSONValue: Sendable, Equatable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    /// The number's JSON text, exactly as it goes on the wire (`12.50`, `3`).
    case number(String)
    case bool(Bool)
    case null

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.array(let a), .array(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        default: false
        }
    }

    public static func integer<I: BinaryInteger>(_ value: I) -> JSONValue { .number(String(value)) }

    /// An amount as a JSON number in major units with the currency's digits (`12.50`).
    public static func decimal(_ money: Money) -> JSONValue { .number(money.decimalString) }

    /// The member named `key`, for objects.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// An integer number's value.
    public var integerValue: Int64? {
        guard case .number(let text) = self, let number = try? ExactDecimal(text) else { return nil }
        return number.integerValue
    }

    /// Compact JSON text.
    public var serialized: String {
        var out = ""
        write(to: &out, indent: nil, level: 0)
        return out
    }

    /// Indented JSON text, for golden files people read.
    public var pretty: String {
        var out = ""
        write(to: &out, indent: "  ", level: 0)
        return out + "\n"
    }

    public var bytes: [UInt8] { Array(serialized.utf8) }

    private func write(to out: inout String, indent: String?, level: Int) {
        let newline = indent.map { "\n" + String(repeating: $0, count: level + 1) } ?? ""
        let closing = indent.map { "\n" + String(repeating: $0, count: level) } ?? ""
        let colon = indent == nil ? ":" : ": "
        switch self {
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            out += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out += "," }
                out += newline + JSONText.quoted(key) + colon
                value.write(to: &out, indent: indent, level: level + 1)
            }
            out += closing + "}"
        case .array(let elements):
            guard !elements.isEmpty else { out += "[]"; return }
            out += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { out += "," }
                out += newline
                element.write(to: &out, indent: indent, level: level + 1)
            }
            out += closing + "]"
        case .string(let text): out += JSONText.quoted(text)
        case .number(let text): out += text
        case .bool(let flag): out += flag ? "true" : "false"
        case .null: out += "null"
        }
    }
}

extension JSONValue {
    /// The value of a parsed node, numbers kept as their source text.
    public init(_ node: JSONNode) {
        switch node.kind {
        case .object(let members): self = .object(members.map { ($0.key, JSONValue($0.value)) })
        case .array(let elements): self = .array(elements.map(JSONValue.init))
        case .string(let text): self = .string(text)
        case .number(let text): self = .number(text)
        case .bool(let flag): self = .bool(flag)
        case .null: self = .null
        }
    }

    /// Parses JSON text; nil when it is not JSON.
    public init?(parsing text: String) {
        guard let node = try? JSONParser.parse(Array(text.utf8)) else { return nil }
        self.init(node)
    }
}

extension JSONValue: Encodable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Numbers go out as integers when they are, otherwise as `Double` — only for display (API
    /// responses), never for money on its way to a POS (that uses ``serialized``).
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .object(let members):
            var container = encoder.container(keyedBy: Key.self)
            for (key, value) in members { try container.encode(value, forKey: Key(key)) }
        case .array(let elements):
            var container = encoder.unkeyedContainer()
            for element in elements { try container.encode(element) }
        case .string(let text):
            var container = encoder.singleValueContainer()
            try container.encode(text)
        case .number(let text):
            var container = encoder.singleValueContainer()
            if let integer = integerValue { try container.encode(integer) } else { try container.encode(Double(text) ?? 0) }
        case .bool(let flag):
            var container = encoder.singleValueContainer()
            try container.encode(flag)
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        }
    }
}
