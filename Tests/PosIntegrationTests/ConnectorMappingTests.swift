import Foundation
import PosConnectors
import PosDomain
import Testing

/// Each connector's pure mapping of one rich Cata order, pinned by a golden file under `Golden/`.
/// Set `POS_UPDATE_GOLDEN=1` to rewrite the files after an intended change, then review the diff.
@Suite("Connector mappings")
struct ConnectorMappingTests {
    static let order = try! DispatchValidator.order(bytes: Array(Fixtures.richOrder.utf8))

    static func settings(_ slug: String) -> JSONValue {
        JSONValue(parsing: Fixtures.connectorSettings[slug]!)!
    }

    static func matchesGolden(_ value: JSONValue, _ name: String) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/\(name).json")
        if ProcessInfo.processInfo.environment["POS_UPDATE_GOLDEN"] == "1" {
            try value.pretty.write(to: url, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(value.pretty == expected, "mapping differs from Golden/\(name).json")
    }

    @Test("oktopos: decimal-string money, modifiers as sub-lines, tip transaction, named time zone")
    func oktopos() throws {
        let body = try OktoPOSConnector.orderBody(Self.order, settings: try OktoPOSConnector.Settings(Self.settings("oktopos")))
        try Self.matchesGolden(body, "oktopos-order-create")
        guard case .array(let items)? = body["items"] else { throw TestFailure("no items") }
        #expect(items.count == 4, "burger, its cheese, fries, delivery fee; the free 'No onions' is a comment")
        #expect(items[1]["mainBasketItemId"] == .number("1") && items[1]["quantity"] == .number("2"))
        #expect(items[0]["comment"] == .string("No onions"))
        #expect(body["payment"]?["price"]?["value"] == .string("36.40"))
        #expect(body["pickup"]?["pickupToken"] == .string("B07"))
        #expect(body["purchaseTime"]?["timestamp"] == .string("2024-12-01T14:30:00Z"))
    }

    @Test("desibits: decimal numbers, priced modifiers as lines, payment with the order uuid and the tip apart")
    func desibits() throws {
        let settings = try DesibitsConnector.Settings(Self.settings("desibits"))
        try Self.matchesGolden(try DesibitsConnector.orderBody(Self.order, settings: settings, orderTypeId: 3), "desibits-order")
        try Self.matchesGolden(DesibitsConnector.paymentBody(Self.order, method: "card"), "desibits-payment")
    }

    @Test("revel: establishment, decimal prices, modifieritems, dining option, payment info")
    func revel() throws {
        let body = try RevelConnector.cartBody(Self.order, settings: try RevelConnector.Settings(Self.settings("revel")))
        try Self.matchesGolden(body, "revel-cart-submit")
        #expect(body["items"].flatMap { if case .array(let items) = $0 { items.first?["price"] } else { nil } } == .number("12.50"))
    }

    @Test("an unmapped PLU or priced modifier is a mapping error naming the order field")
    func unmapped() throws {
        var settings = try RevelConnector.Settings(Self.settings("revel"))
        settings.mapping.products["SKU-FRIES-01"] = nil
        #expect(throws: ValidationError(field: "order.items[1].plu", message: "\"SKU-FRIES-01\" has no entry in settings.productMap")) {
            try RevelConnector.cartBody(Self.order, settings: settings)
        }
        settings = try RevelConnector.Settings(Self.settings("revel"))
        settings.mapping.modifiers = [:]
        let error = #expect(throws: ValidationError.self) { try RevelConnector.cartBody(Self.order, settings: settings) }
        #expect(error?.field == "order.items[0].modifiers[0].modifierOptionId")
    }

    @Test("settings are validated per connector and bad keys are named", arguments: [
        ("oktopos", #"{"taxRateId":23,"timezone":"Asia/Singapore"}"#, "settings.distributionChannelId"),
        ("oktopos", #"{"distributionChannelId":35,"taxRateId":23,"timezone":"Mars/Olympus"}"#, "settings.timezone"),
        ("oktopos", #"{"distributionChannelId":35,"taxRateId":23,"timezone":"UTC","intermediary":"a/b"}"#, "settings.intermediary"),
        ("revel", #"{"establishmentId":456,"diningOption":2,"productMap":{"SKU-1":"abc"}}"#, "settings.productMap.SKU-1"),
        ("revel", #"{"establishmentId":456}"#, "settings.diningOption"),
        ("desibits", #"{"orderTypeId":"one"}"#, "settings.orderTypeId"),
        ("desibits", #"{"productmap":{}}"#, "settings.productmap"),
        ("desibits", #"{"productMap":[1,2]}"#, "settings.productMap"),
    ])
    func settingsValidation(_ slug: String, _ settings: String, _ field: String) {
        let registry = ConnectorRegistry.builtIn(exchange: POSExchange(transport: Self.unusedTransport, clock: { 0 }))
        let error = #expect(throws: ValidationError.self) { try registry.connector(slug)!.validate(settings: JSONValue(parsing: settings)!) }
        #expect(error?.field == field, "\(error?.message ?? "")")
    }

    static let unusedTransport = HTTPTransport(timeout: .seconds(1), outboundGuard: nil)
}
