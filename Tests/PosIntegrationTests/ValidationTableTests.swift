import Foundation
import PosDomain
@testable import PosHTTP
import PosServices
import Testing

/// One failing case per required field of seed 000 (and the usual wrong-type, empty and money
/// mistakes), each expecting the JSON path of the offending field.
@Suite("Dispatch validation")
struct ValidationTableTests {
    enum Edit: Sendable, CustomStringConvertible {
        case remove
        case set(@Sendable () -> Any)

        var description: String {
            switch self {
            case .remove: "remove"
            case .set(let value): "set \(value())"
            }
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let path: String
        let edit: Edit
        let expectedField: String
        var testDescription: String { "\(edit) \(path) → \(expectedField)" }
    }

    static let orderFields = ["uuid", "orderRefNo", "dailyQueueNo", "storeUuid", "storeName", "deliveryMethod", "status",
                              "currency", "isPreorder", "items", "subtotal", "discountTotal", "serviceCharge", "deliveryFee",
                              "totalPay", "payment", "createdAt"]
    static let itemFields = ["plu", "name", "quantity", "itemOnlyPrice", "modifierOnlyPrice", "itemPrice", "itemSubTotal", "modifiers"]
    static let modifierFields = ["modifierHeaderId", "modifierOptionId", "modifierHeaderName", "modifierOptionName", "price", "quantity"]
    static let paymentFields = ["amount", "tip", "method"]

    static let missingFieldCases: [Case] =
        ["outletId", "event", "order"].map { Case(path: $0, edit: .remove, expectedField: $0) }
        + orderFields.map { Case(path: "order.\($0)", edit: .remove, expectedField: "order.\($0)") }
        + itemFields.map { Case(path: "order.items[0].\($0)", edit: .remove, expectedField: "order.items[0].\($0)") }
        + modifierFields.map {
            Case(path: "order.items[0].modifiers[0].\($0)", edit: .remove, expectedField: "order.items[0].modifiers[0].\($0)")
        }
        + paymentFields.map { Case(path: "order.payment.\($0)", edit: .remove, expectedField: "order.payment.\($0)") }

    static let wrongValueCases: [Case] = [
        Case(path: "outletId", edit: .set { 42 }, expectedField: "outletId"),
        Case(path: "outletId", edit: .set { "   " }, expectedField: "outletId"),
        Case(path: "event", edit: .set { "order.eaten" }, expectedField: "event"),
        Case(path: "order", edit: .set { [1, 2] }, expectedField: "order"),
        Case(path: "order.uuid", edit: .set { NSNull() }, expectedField: "order.uuid"),
        Case(path: "order.uuid", edit: .set { "" }, expectedField: "order.uuid"),
        Case(path: "order.uuid", edit: .set { String(repeating: "u", count: 256) }, expectedField: "order.uuid"),
        Case(path: "order.isPreorder", edit: .set { "false" }, expectedField: "order.isPreorder"),
        Case(path: "order.currency", edit: .set { "XYZ" }, expectedField: "order.currency"),
        Case(path: "order.items", edit: .set { [Any]() }, expectedField: "order.items"),
        Case(path: "order.items", edit: .set { ["burger"] }, expectedField: "order.items[0]"),
        Case(path: "order.items[0].quantity", edit: .set { 0 }, expectedField: "order.items[0].quantity"),
        Case(path: "order.items[0].quantity", edit: .set { 1.5 }, expectedField: "order.items[0].quantity"),
        Case(path: "order.items[0].modifiers", edit: .set { "none" }, expectedField: "order.items[0].modifiers"),
        Case(path: "order.items[0].modifiers[0].price", edit: .set { -1 }, expectedField: "order.items[0].modifiers[0].price"),
        Case(path: "order.items[0].modifiers[0].price", edit: .set { "5" }, expectedField: "order.items[0].modifiers[0].price"),
        // AED has two fraction digits.
        Case(path: "order.items[0].itemPrice", edit: .set { Decimal(string: "40.005")! }, expectedField: "order.items[0].itemPrice"),
        Case(path: "order.totalPay", edit: .set { Decimal(string: "1e30")! }, expectedField: "order.totalPay"),
        Case(path: "order.payment", edit: .set { "CARD" }, expectedField: "order.payment"),
        Case(path: "order.payment.method", edit: .set { true }, expectedField: "order.payment.method"),
        Case(path: "order.createdAt", edit: .set { "2024-12-01 14:30:00" }, expectedField: "order.createdAt"),
        Case(path: "order.createdAt", edit: .set { "2024-02-30T14:30:00Z" }, expectedField: "order.createdAt"),
        Case(path: "order.createdAt", edit: .set { "2024-12-01T14:30:00" }, expectedField: "order.createdAt"),
        Case(path: "order.createdAt", edit: .set { 1_733_063_400 }, expectedField: "order.createdAt"),
        Case(path: "builtInTransformer", edit: .set { 7 }, expectedField: "builtInTransformer"),
    ]

    @Test("a missing required field is named by its path", arguments: missingFieldCases)
    func missingField(_ testCase: Case) throws {
        try expectRejected(testCase)
    }

    @Test("a wrong value is named by its path", arguments: wrongValueCases)
    func wrongValue(_ testCase: Case) throws {
        try expectRejected(testCase)
    }

    private func expectRejected(_ testCase: Case) throws {
        let body = Fixtures.encode(Self.apply(testCase.edit, at: Self.parse(testCase.path), to: Fixtures.tree()))
        do throws(ServiceError) {
            _ = try JSONBodyDecoder.command(DispatchRequest.self, from: body)
            Issue.record("accepted an invalid body")
        } catch {
            guard case .invalid(let field, let message, _) = error else {
                Issue.record("expected invalid, got \(error)")
                return
            }
            #expect(field == testCase.expectedField, "\(message)")
            #expect(message.hasPrefix(testCase.expectedField), "message names the field: \(message)")
        }
    }

    @Test("the seed example is valid and money is exact")
    func seedExampleIsValid() throws {
        let request = try JSONBodyDecoder.command(DispatchRequest.self, from: Fixtures.dispatchBody())
        #expect(request.outletId == "store-uuid-123")
        #expect(request.order.totalPay.minorUnits == 8500)
        #expect(request.order.items[0].modifiers[0].price.minorUnits == 500)
        #expect(request.order.payment.tip.decimalString == "5.00")
        #expect(request.orderBytes == Array(Fixtures.seedOrder.utf8))
    }

    @Test("fractions within the currency's digits and zero-decimal currencies")
    func exactMoney() throws {
        var tree = Fixtures.tree()
        tree = Self.apply(.set { Decimal(string: "12.1")! }, at: Self.parse("order.totalPay"), to: tree)
        #expect(try JSONBodyDecoder.command(DispatchRequest.self, from: Fixtures.encode(tree)).order.totalPay.minorUnits == 1210)
        tree = Self.apply(.set { "JPY" }, at: Self.parse("order.currency"), to: tree)
        #expect(throws: ServiceError.self) { try JSONBodyDecoder.command(DispatchRequest.self, from: Fixtures.encode(tree)) }
    }

    @Test("malformed JSON, a non-object body and a bad date offset")
    func malformedBodies() throws {
        for body in ["{", "[]", "\"order\"", "{\"outletId\":\"a\",\"outletId\":\"b\"}", String(repeating: "[", count: 100_000)] {
            #expect(throws: ServiceError.self) { try JSONBodyDecoder.command(DispatchRequest.self, from: Array(body.utf8)) }
        }
    }

    // MARK: Editing the JSON tree

    enum Step { case key(String), index(Int) }

    static func parse(_ path: String) -> [Step] {
        var steps: [Step] = []
        for part in path.split(separator: ".") {
            var name = Substring(part)
            var indices: [Int] = []
            while let open = name.lastIndex(of: "[") {
                indices.insert(Int(name[name.index(after: open)..<name.index(before: name.endIndex)])!, at: 0)
                name = name[..<open]
            }
            steps.append(.key(String(name)))
            steps.append(contentsOf: indices.map(Step.index))
        }
        return steps
    }

    static func apply(_ edit: Edit, at steps: [Step], to node: Any) -> [String: Any] {
        update(node, steps[...], edit) as! [String: Any]
    }

    private static func update(_ node: Any, _ steps: ArraySlice<Step>, _ edit: Edit) -> Any? {
        guard let step = steps.first else {
            if case .set(let value) = edit { return value() }
            return nil
        }
        switch step {
        case .key(let key):
            var object = node as! [String: Any]
            object[key] = update(object[key] as Any, steps.dropFirst(), edit)
            return object
        case .index(let index):
            var array = node as! [Any]
            if let value = update(array[index], steps.dropFirst(), edit) { array[index] = value } else { array.remove(at: index) }
            return array
        }
    }
}
