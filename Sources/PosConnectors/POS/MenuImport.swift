import Foundation
import NIOHTTP1
import PosDomain

// What the three menu importers share: exact prices from POS JSON, a bound on paging, one
// authorized call that answers JSON or a `ConnectorFailure`, and the JSON form of an imported menu
// (golden files pin it; the products sync can show it as is).

/// Helpers for reading a POS's menu.
public enum MenuImport {
    /// Pages followed per listing at most: a POS whose `next` never ends fails the import instead of
    /// looping (100 pages of the smallest page size any of our POSes uses is far beyond a real menu).
    public static let maxPages = 100

    /// A price from POS JSON, exactly: a JSON number's text or a decimal string, never through
    /// `Double`. Absent or `null` is nil (the POS has no price for it); anything that is not an exact,
    /// non-negative amount in `currency` fails the import, naming `field`.
    public static func price(_ node: JSONValue?, currency: Currency, field: String) throws(ConnectorFailure) -> Money? {
        let text: String
        switch node {
        case nil, .null?: return nil
        case .number(let number)?: text = number
        case .string(let string)?:
            let trimmed = string.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return nil }
            text = trimmed
        case let other?:
            throw ConnectorFailure("\(field) must be a decimal amount, not \(other.serialized.prefix(40))")
        }
        do throws(Money.ParseError) {
            return try Money.parse(text, currency: currency)
        } catch {
            let why = switch error {
            case .notANumber: "is not a decimal amount"
            case .negative: "is negative"
            case .tooManyFractionDigits: "has more decimal places than \(currency.code) has (\(currency.exponent))"
            case .outOfRange: "is larger than the largest amount this service can represent"
            }
            throw ConnectorFailure("\(field) \"\(text.prefix(40))\" \(why)")
        }
    }

    /// A non-empty text from a string or a number (`"SKU-1"`, `1001` → `"1001"`); nil otherwise.
    public static func text(_ node: JSONValue?) -> String? {
        switch node {
        case .string(let text)?:
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty ? nil : trimmed
        case .number(let text)?: return text
        default: return nil
        }
    }

    /// The first of `keys` that `object` has with a non-null value.
    static func first(_ object: JSONValue, _ keys: String...) -> JSONValue? {
        keys.lazy.compactMap { key in object[key].flatMap { $0 == .null ? nil : $0 } }.first
    }

    /// A whole number ≥ 0 that fits `Int`; nil when absent or anything else.
    static func count(_ node: JSONValue?) -> Int? {
        guard let value = integer(node), value >= 0 else { return nil }
        return Int(exactly: value)
    }

    /// An integer given as a JSON number or as digits in a string (settings typed by hand).
    static func integer(_ node: JSONValue?) -> Int64? {
        if let number = node?.integerValue { return number }
        guard let text = node?.stringValue else { return nil }
        return Int64(text.trimmingCharacters(in: .whitespaces))
    }

    /// The elements of an array node; a failure naming `field` for anything else.
    static func array(_ node: JSONValue?, field: String) throws(ConnectorFailure) -> [JSONValue] {
        guard case .array(let elements)? = node else { throw ConnectorFailure("\(field) must be an array") }
        return elements
    }

    /// Like ``array(_:field:)``, but absent or `null` is an empty list.
    static func optionalArray(_ node: JSONValue?, field: String) throws(ConnectorFailure) -> [JSONValue] {
        if node == nil || node == .null { return [] }
        return try array(node, field: field)
    }
}

extension POSExchange {
    /// One authorized call of a menu import: its JSON answer, or a failure in the operator's words —
    /// 401/403 an auth failure, any other non-2xx or a non-JSON body a plain one. `errorText` digs the
    /// POS's own message out of an error body.
    func menuCall(_ method: HTTPMethod, _ url: String, access: ProviderAccess, authorize: (Credential) -> [(String, String)],
                  json body: JSONValue? = nil, step: String,
                  errorText: (POSExchange.Answer) -> String? = { _ in nil }) async throws(ConnectorFailure) -> JSONValue {
        let answer: Answer
        switch await send(method, url, access: access, authorize: authorize, json: body) {
        case .failure(let failure): throw ConnectorFailure(failure.outcome.reason, isAuthFailure: failure.outcome.failureClass == .auth)
        case .success(let value): answer = value
        }
        guard answer.succeeded else {
            let outcome = ConnectorOutcome.refused(answer, step: step, message: errorText(answer), durationMs: answer.durationMs)
            throw ConnectorFailure(outcome.reason, isAuthFailure: outcome.failureClass == .auth)
        }
        guard let json = answer.json else { throw ConnectorFailure("\(step) answered HTTP \(answer.response.status) without JSON") }
        return json
    }
}

extension ImportedMenu {
    /// The menu as JSON, members in a fixed order and prices as exact decimal strings with their
    /// currency, so the same menu always serialises to the same text.
    public var json: JSONValue {
        func money(_ price: Money?) -> JSONValue {
            price.map { .object([("value", .string($0.decimalString)), ("currency", .string($0.currency.code))]) } ?? .null
        }
        func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
        func optional(_ number: Int?) -> JSONValue { number.map(JSONValue.integer) ?? .null }
        return .object([
            ("products", .array(products.map { product in
                .object([
                    ("externalId", .string(product.externalId)), ("plu", optional(product.plu)), ("name", .string(product.name)),
                    ("price", money(product.price)), ("category", optional(product.category)),
                    ("modifierGroupIds", .array(product.modifierGroupIds.map(JSONValue.string))),
                ])
            })),
            ("modifierGroups", .array(modifierGroups.map { group in
                .object([
                    ("externalId", .string(group.externalId)), ("name", .string(group.name)),
                    ("minSelections", optional(group.minSelections)), ("maxSelections", optional(group.maxSelections)),
                    ("options", .array(group.options.map { option in
                        .object([
                            ("externalId", .string(option.externalId)), ("plu", optional(option.plu)), ("name", .string(option.name)),
                            ("price", money(option.price)),
                        ])
                    })),
                ])
            })),
        ])
    }
}
