/// A catalogue price: an exact, non-negative decimal in major units, kept as an integer count of
/// ten-thousandths. Products carry no currency (the outlet has it), so the rule is the widest any
/// ISO 4217 currency needs — four fraction digits — and the number's source text is read exactly,
/// never through `Double`.
public struct CatalogPrice: Sendable, Hashable, Comparable, CustomStringConvertible {
    public static let fractionDigits = 4

    /// The amount in 1/10 000 of a major unit (`12.5` is 125 000).
    public let tenThousandths: Int64

    public init(tenThousandths: Int64) {
        self.tenThousandths = tenThousandths
    }

    public enum Problem: Error, Equatable, Sendable {
        case notANumber
        case negative
        case tooManyFractionDigits
        case outOfRange
    }

    /// Parses JSON number text (`12.5`, `12.50`, `1.25e1`).
    public init(parsing text: String) throws(Problem) {
        let number: ExactDecimal
        do {
            number = try ExactDecimal(text)
        } catch .outOfRange {
            throw .outOfRange
        } catch {
            throw .notANumber
        }
        guard !number.isNegative || number.significand == 0 else { throw .negative }
        do {
            tenThousandths = try number.scaled(by: Self.fractionDigits)
        } catch .tooManyFractionDigits {
            throw .tooManyFractionDigits
        } catch {
            throw .outOfRange
        }
    }

    /// The shortest exact decimal text (`12.50` → `12.5`, `3.0` → `3`): one spelling per amount, so
    /// the same price always hashes the same.
    public var decimalText: String {
        let scale: Int64 = 10_000
        let whole = tenThousandths / scale
        var fraction = String(tenThousandths % scale)
        guard fraction != "0" else { return String(whole) }
        fraction = String(repeating: "0", count: Self.fractionDigits - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(whole).\(fraction)"
    }

    public var json: JSONValue { .number(decimalText) }

    public var description: String { decimalText }

    public static func < (lhs: CatalogPrice, rhs: CatalogPrice) -> Bool { lhs.tenThousandths < rhs.tenThousandths }
}

/// Field rules of catalogue bodies (outlets, products), on top of ``FieldReader``.
extension FieldReader {
    /// Refuses a key the object does not take, naming it by path.
    public func rejectUnknownKeys(allowed: Set<String>, kind: String = "a field of this request") throws(ValidationError) {
        guard case .object(let members) = node.kind else { return }
        try UnknownKeys.reject(members.map(\.key), allowed: allowed, kind: kind, path: path)
    }

    /// Whether `key` is absent or null.
    public func isAbsent(_ key: String) -> Bool {
        guard let value = node[key] else { return true }
        if case .null = value.kind { return true }
        return false
    }

    /// An optional string that is not blank when present, at most `maxLength` bytes.
    public func optionalText(_ key: String, maxLength: Int) throws(ValidationError) -> String? {
        isAbsent(key) ? nil : try string(key, maxLength: maxLength)
    }

    /// A required price (see ``CatalogPrice``).
    public func price(_ key: String) throws(ValidationError) -> CatalogPrice {
        let value = try required(key)
        guard case .number(let text) = value.kind else {
            throw ValidationError(field: path(key), message: "must be a number (a price in major units), not \(value.typeName)")
        }
        do {
            return try CatalogPrice(parsing: text)
        } catch .negative {
            throw ValidationError(field: path(key), message: "must not be negative")
        } catch .tooManyFractionDigits {
            throw ValidationError(field: path(key), message: "has more than \(CatalogPrice.fractionDigits) fraction digits")
        } catch {
            throw ValidationError(field: path(key), message: "is out of range")
        }
    }

    public func optionalPrice(_ key: String) throws(ValidationError) -> CatalogPrice? {
        isAbsent(key) ? nil : try price(key)
    }

    /// A required whole number within `range` (a group's `min`, `max`, a weekday).
    public func integer(_ key: String, in range: ClosedRange<Int>) throws(ValidationError) -> Int {
        let value = try required(key)
        guard case .number(let text) = value.kind, let number = try? ExactDecimal(text), let integer = number.integerValue else {
            throw ValidationError(field: path(key), message: "must be an integer")
        }
        guard integer >= range.lowerBound, integer <= range.upperBound else {
            throw ValidationError(field: path(key), message: "must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return Int(integer)
    }

    /// An optional array: absent or null is empty.
    public func optionalArray(_ key: String, maxCount: Int) throws(ValidationError) -> [Element] {
        guard !isAbsent(key) else { return [] }
        let elements = try array(key, minCount: 0)
        guard elements.count <= maxCount else {
            throw ValidationError(field: path(key), message: "must have at most \(maxCount) elements")
        }
        return elements
    }

    public func optionalBool(_ key: String) throws(ValidationError) -> Bool? {
        isAbsent(key) ? nil : try bool(key)
    }
}

/// The one rule for keys an object does not take, for request bodies (``FieldReader``) and stored
/// settings alike: the first unknown key is the error, named by path, with the known ones listed.
public enum UnknownKeys {
    public static func reject(_ keys: [String], allowed: Set<String>, kind: String, path: (String) -> String) throws(ValidationError) {
        guard let unknown = keys.first(where: { !allowed.contains($0) }) else { return }
        let known = allowed.sorted().joined(separator: ", ")
        throw ValidationError(field: path(unknown), message: "is not \(kind)" + (known.isEmpty ? "" : " (known: \(known))"))
    }
}
