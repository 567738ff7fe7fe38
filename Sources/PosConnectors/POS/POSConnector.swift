import Foundation
import NIOHTTP1
import PosDomain

/// One order for a POS: the order, where it goes, and what earlier attempts already finished.
public struct POSDispatch: Sendable {
    public var deliveryId: String
    public var attemptNumber: Int
    public var order: CataOrder
    /// Where the POS is and where the call's credential comes from.
    public var access: ProviderAccess
    /// The outlet's id in the POS (`outlet-providers.externalId`).
    public var externalOutletId: String
    /// The outlet's mapping settings, already accepted by ``POSConnector/validate(settings:)``.
    public var settings: JSONValue
    /// The steps earlier attempts finished, as the connector recorded them; nil on a first attempt.
    public var progress: JSONValue?
    /// Stores finished steps at once, so a retry after a crash resumes instead of repeating them.
    /// Throws when the store cannot take it; the connector then stops this attempt.
    public var checkpoint: @Sendable (JSONValue) async throws -> Void

    public init(deliveryId: String, attemptNumber: Int, order: CataOrder, access: ProviderAccess, externalOutletId: String,
                settings: JSONValue, progress: JSONValue?, checkpoint: @escaping @Sendable (JSONValue) async throws -> Void) {
        self.deliveryId = deliveryId
        self.attemptNumber = attemptNumber
        self.order = order
        self.access = access
        self.externalOutletId = externalOutletId
        self.settings = settings
        self.progress = progress
        self.checkpoint = checkpoint
    }
}

/// Why a connector call other than dispatch failed, in words for the operator.
public struct ConnectorFailure: Error, Sendable, Equatable {
    public var message: String
    /// The POS answered 401/403: the credentials are wrong.
    public var isAuthFailure: Bool

    public init(_ message: String, isAuthFailure: Bool = false) {
        self.message = message
        self.isAuthFailure = isAuthFailure
    }
}

/// A built-in transformer: one POS, what every POS has — its slug, the settings and config it
/// takes, how it authenticates. What it can do is the capability protocols it adopts
/// (``OrderDispatching``, ``ConnectionTesting``, ``RemoteOutletListing``… in `Capabilities.swift`):
/// pure mapping plus HTTP exchanges; persistence, retries and the dead letter live in the outbox.
///
/// Adding a POS touches only its connector file, its sandbox double and one line in
/// ``ConnectorRegistry``.
public protocol POSConnector: Sendable {
    /// The provider slug (`builtInTransformer`, `/provider-connections/{slug}`).
    var slug: String { get }
    /// Checks an outlet's `settings` object; the error names the key as `settings.<key>`.
    func validate(settings: JSONValue) throws(ValidationError)
    /// Checks a connection's `config` object; the error names the key as `config.<key>`.
    func validate(config: JSONValue) throws(ValidationError)
    /// How the POS authenticates a connection with this `config` and `baseUrl`.
    func credentialScheme(config: JSONValue, baseUrl: String) -> CredentialScheme
}

extension POSConnector {
    public func validate(config: JSONValue) throws(ValidationError) {
        try SettingsReader(config, path: "config").rejectUnknownKeys(allowed: [])
    }

    /// A static key and secret, as the operator entered them.
    public func credentialScheme(config: JSONValue, baseUrl: String) -> CredentialScheme { .staticKey }
}

/// A mapping that cannot be made from this order and these settings (an unmapped PLU). Not
/// retryable: the operator fixes the settings and replays the delivery.
extension ConnectorOutcome {
    public static func mappingFailed(_ error: ValidationError) -> ConnectorOutcome {
        .failed(.mapping, "\(error.field) \(error.message)", retryable: false)
    }

    /// The attempt's progress could not be stored; the steps already done are not repeated next time
    /// only if they were recorded, so stop here and retry.
    static func checkpointFailed(_ error: any Error, durationMs: Int64) -> ConnectorOutcome {
        .failed(.storage, "could not record progress: \(HTTPTransport.describe(error))", retryable: true, durationMs: durationMs)
    }
}

/// Reads an outlet's `settings` (or a connection's `config`, or a request body at path ""), naming
/// bad keys by path.
public struct SettingsReader: Sendable {
    public let value: JSONValue
    public let path: String

    public init(_ value: JSONValue, path: String = "settings") {
        self.value = value
        self.path = path
    }

    private func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// `kind` says what the keys are, for the message (`a field of this request`).
    public func rejectUnknownKeys(allowed: Set<String>, kind: String = "a setting this connector knows") throws(ValidationError) {
        guard case .object(let members) = value else {
            throw ValidationError(field: path, message: "must be an object")
        }
        try UnknownKeys.reject(members.map(\.0), allowed: allowed, kind: kind, path: field)
    }

    public func integer(_ key: String, required: Bool) throws(ValidationError) -> Int64? {
        guard let node = value[key], node != .null else {
            if required { throw ValidationError(field: field(key), message: "is required") }
            return nil
        }
        guard let number = node.integerValue else { throw ValidationError(field: field(key), message: "must be an integer") }
        return number
    }

    public func string(_ key: String, required: Bool) throws(ValidationError) -> String? {
        guard let node = value[key], node != .null else {
            if required { throw ValidationError(field: field(key), message: "is required") }
            return nil
        }
        guard let text = node.stringValue, !text.allSatisfy(\.isWhitespace) else {
            throw ValidationError(field: field(key), message: "must be a non-empty string")
        }
        return text
    }

    /// An IANA time zone name (`Europe/Berlin`).
    public func timeZone(_ key: String, required: Bool) throws(ValidationError) -> TimeZone? {
        guard let name = try string(key, required: required) else { return nil }
        guard name.contains("/") || name == "UTC", let zone = TimeZone(identifier: name) else {
            throw ValidationError(field: field(key), message: "must be an IANA time zone name such as \"Europe/Berlin\"")
        }
        return zone
    }

    /// `productMap` / `modifierMap`: our id → the POS's id, a number or a string as the POS types it.
    public func idMap(_ key: String) throws(ValidationError) -> [String: JSONValue] {
        guard let node = value[key], node != .null else { return [:] }
        guard case .object(let members) = node else {
            throw ValidationError(field: field(key), message: "must be an object of our id → the POS's id")
        }
        var map: [String: JSONValue] = [:]
        for (id, target) in members {
            switch target {
            case .number where target.integerValue != nil, .string:
                if case .string(let text) = target, text.isEmpty {
                    throw ValidationError(field: "\(field(key)).\(id)", message: "must not be empty")
                }
                map[id] = target
            default:
                throw ValidationError(field: "\(field(key)).\(id)", message: "must be the POS's id: an integer or a string")
            }
        }
        return map
    }
}

/// The ids every connector maps by: PLU → POS product, modifier option → POS modifier.
public struct ProductMapping: Sendable {
    public static let keys: Set<String> = ["productMap", "modifierMap", "deliveryFeeProductId"]

    public var products: [String: JSONValue]
    public var modifiers: [String: JSONValue]
    /// The POS product that carries the delivery fee as a line; without it the fee is only in the payment.
    public var deliveryFeeProduct: JSONValue?

    public init(_ reader: SettingsReader) throws(ValidationError) {
        products = try reader.idMap("productMap")
        modifiers = try reader.idMap("modifierMap")
        if let node = reader.value["deliveryFeeProductId"], node != .null {
            guard node.integerValue != nil || node.stringValue.map({ !$0.isEmpty }) == true else {
                throw ValidationError(field: "\(reader.path).deliveryFeeProductId", message: "must be the POS's id: an integer or a string")
            }
            deliveryFeeProduct = node
        }
    }

    /// Every `productMap` and `modifierMap` value must be the POS's kind of id (`isValid`); the first
    /// that is not is named by path, with `what` the POS's id is (`a Revel id: an integer`).
    public func requireIds(_ what: String, _ isValid: (JSONValue) -> Bool) throws(ValidationError) {
        for (key, map) in [("productMap", products), ("modifierMap", modifiers)] {
            if let bad = map.sorted(by: { $0.key < $1.key }).first(where: { !isValid($0.value) }) {
                throw ValidationError(field: "settings.\(key).\(bad.key)", message: "must be \(what)")
            }
        }
    }

    public func product(for item: CataOrder.Item, at index: Int) throws(ValidationError) -> JSONValue {
        guard let id = products[item.plu] else {
            throw ValidationError(field: "order.items[\(index)].plu", message: "\"\(item.plu)\" has no entry in settings.productMap")
        }
        return id
    }

    /// The POS modifier for a modifier option; nil for a free option without one (it becomes a note).
    public func modifier(for modifier: CataOrder.Modifier, item: Int, index: Int) throws(ValidationError) -> JSONValue? {
        if let id = modifiers[modifier.modifierOptionId] { return id }
        guard modifier.price.minorUnits == 0 else {
            throw ValidationError(field: "order.items[\(item)].modifiers[\(index)].modifierOptionId",
                                  message: "\"\(modifier.modifierOptionId)\" has no entry in settings.modifierMap and costs \(modifier.price)")
        }
        return nil
    }

    /// The names of free, unmapped modifiers, for the line's note.
    public func note(for item: CataOrder.Item) -> String? {
        let free = item.modifiers.filter { modifiers[$0.modifierOptionId] == nil }.map { modifier in
            modifier.quantity > 1 ? "\(modifier.quantity)x \(modifier.modifierOptionName)" : modifier.modifierOptionName
        }
        return free.isEmpty ? nil : free.joined(separator: ", ")
    }
}

// Checked arithmetic inside a mapping: an amount or count the POS needs that does not fit is a
// mapping error naming the order field (not retried, so the delivery is dead-lettered with that
// reason) — never a trap that takes the process, and every replica that retries it, down.
extension Money {
    /// `self × factor`; an overflow names `field`.
    public func times(_ factor: Int, for field: String) throws(ValidationError) -> Money {
        do {
            return try times(factor)
        } catch {
            throw ValidationError(field: field, message: "makes \(decimalString) × \(factor) larger than the largest amount this service can represent")
        }
    }
}

extension Quantity {
    /// `lhs × rhs`; an overflow names `field`.
    public static func product(_ lhs: Int, _ rhs: Int, for field: String) throws(ValidationError) -> Int {
        do {
            return try product(lhs, rhs)
        } catch {
            throw ValidationError(field: field, message: "makes the quantity \(lhs) × \(rhs) larger than the largest count this service can represent")
        }
    }
}
