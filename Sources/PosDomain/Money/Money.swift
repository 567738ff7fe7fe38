/// An exact amount of money in integer minor units (cents, fils, yen).
///
/// The Cata order carries money as JSON numbers in major units; ``Money/parse(_:currency:)``
/// reads the number's source text so `12.10` is 1210 cents exactly, never a `Double`.
public struct Money: Hashable, Sendable, CustomStringConvertible {
    public let minorUnits: Int64
    public let currency: Currency

    public init(minorUnits: Int64, currency: Currency) {
        self.minorUnits = minorUnits
        self.currency = currency
    }

    public enum ParseError: Error, Equatable, Sendable {
        case notANumber
        case negative
        case tooManyFractionDigits(allowed: Int)
        case outOfRange
    }

    /// Parses JSON number text (`35`, `12.5`, `1.25e1`) into minor units of `currency`.
    public static func parse(_ text: String, currency: Currency) throws(ParseError) -> Money {
        let number = try ExactDecimal(text)
        guard !number.isNegative || number.significand == 0 else { throw .negative }
        return Money(minorUnits: try number.scaled(by: currency.exponent), currency: currency)
    }

    /// The amount in major units as a decimal string with exactly the currency's digits (`"12.50"`).
    public var decimalString: String {
        let exponent = currency.exponent
        let sign = minorUnits < 0 ? "-" : ""
        let magnitude = minorUnits.magnitude
        guard exponent > 0 else { return sign + String(magnitude) }
        var divisor: UInt64 = 1
        for _ in 0..<exponent { divisor *= 10 }
        let fraction = String(magnitude % divisor)
        let padded = String(repeating: "0", count: exponent - fraction.count) + fraction
        return "\(sign)\(magnitude / divisor).\(padded)"
    }

    public var description: String { "\(decimalString) \(currency.code)" }
}

/// A JSON number held as `significand × 10^exponent`, exactly.
public struct ExactDecimal: Sendable, Equatable {
    public let isNegative: Bool
    public let significand: UInt64
    public let exponent: Int

    /// Parses RFC 8259 number text. Significands beyond 19 digits are out of range.
    public init(_ text: String) throws(Money.ParseError) {
        var utf8 = Substring(text).utf8[...]
        var negative = false
        if utf8.first == UInt8(ascii: "-") { negative = true; utf8 = utf8.dropFirst() }
        var significand: UInt64 = 0
        var exponent = 0
        var sawDigit = false
        var inFraction = false
        var significantDigits = 0
        while let byte = utf8.first {
            if byte == UInt8(ascii: ".") {
                guard !inFraction else { throw .notANumber }
                inFraction = true
            } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                sawDigit = true
                let digit = UInt64(byte - UInt8(ascii: "0"))
                if significand != 0 || digit != 0 { significantDigits += 1 }
                guard significantDigits <= 19 else { throw .outOfRange }
                significand = significand * 10 + digit
                if inFraction { exponent -= 1 }
            } else {
                break
            }
            utf8 = utf8.dropFirst()
        }
        guard sawDigit else { throw .notANumber }
        if let marker = utf8.first, marker == UInt8(ascii: "e") || marker == UInt8(ascii: "E") {
            utf8 = utf8.dropFirst()
            var exponentNegative = false
            if utf8.first == UInt8(ascii: "+") { utf8 = utf8.dropFirst() }
            else if utf8.first == UInt8(ascii: "-") { exponentNegative = true; utf8 = utf8.dropFirst() }
            guard !utf8.isEmpty, utf8.count <= 4 else { throw utf8.isEmpty ? .notANumber : .outOfRange }
            var value = 0
            for byte in utf8 {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw .notANumber }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            exponent += exponentNegative ? -value : value
            utf8 = utf8.dropFirst(utf8.count)
        }
        guard utf8.isEmpty else { throw .notANumber }
        self.isNegative = negative
        self.significand = significand
        self.exponent = exponent
    }

    /// `self × 10^digits` as an integer; throws when that is not a whole number or overflows `Int64`.
    public func scaled(by digits: Int) throws(Money.ParseError) -> Int64 {
        var value = significand
        let shift = exponent + digits
        if shift >= 0 {
            guard value == 0 || shift <= 19 else { throw .outOfRange }
            for _ in 0..<shift {
                let (product, overflow) = value.multipliedReportingOverflow(by: 10)
                guard !overflow else { throw .outOfRange }
                value = product
            }
        } else {
            for _ in 0..<(-shift) {
                guard value % 10 == 0 else { throw .tooManyFractionDigits(allowed: digits) }
                value /= 10
            }
        }
        guard value <= UInt64(Int64.max) else { throw .outOfRange }
        return isNegative ? -Int64(value) : Int64(value)
    }

    /// The value when it is a whole number that fits `Int64`.
    public var integerValue: Int64? { try? scaled(by: 0) }
}

/// An amount or count that does not fit: the result of checked money or quantity arithmetic that
/// would overflow `Int64` minor units (or `Int`). Values come from requests and POS answers, so
/// arithmetic on them reports this instead of trapping.
public struct ArithmeticOverflow: Error, Equatable, Sendable {
    public init() {}
}

extension Money {
    public static func zero(_ currency: Currency) -> Money { Money(minorUnits: 0, currency: currency) }

    /// `self × factor`, exact, or ``ArithmeticOverflow``.
    public func times(_ factor: Int) throws(ArithmeticOverflow) -> Money {
        guard let factor = Int64(exactly: factor) else { throw ArithmeticOverflow() }
        let (product, overflow) = minorUnits.multipliedReportingOverflow(by: factor)
        guard !overflow else { throw ArithmeticOverflow() }
        return Money(minorUnits: product, currency: currency)
    }

    /// `self + other` (same currency), exact, or ``ArithmeticOverflow``.
    public func plus(_ other: Money) throws(ArithmeticOverflow) -> Money {
        precondition(currency == other.currency, "adding \(other.currency) to \(currency)")
        let (sum, overflow) = minorUnits.addingReportingOverflow(other.minorUnits)
        guard !overflow else { throw ArithmeticOverflow() }
        return Money(minorUnits: sum, currency: currency)
    }
}

/// Checked arithmetic on counts (an item's quantity × its modifier's).
public enum Quantity {
    public static func product(_ lhs: Int, _ rhs: Int) throws(ArithmeticOverflow) -> Int {
        let (product, overflow) = lhs.multipliedReportingOverflow(by: rhs)
        guard !overflow else { throw ArithmeticOverflow() }
        return product
    }
}
