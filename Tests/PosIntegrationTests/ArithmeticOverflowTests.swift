import Foundation
import PosConnectors
import PosDomain
@testable import PosHTTP
import PosServices
import PosStorage
import Testing

/// No order can crash the process: amounts that do not fit are a 400 at dispatch, and a connector's
/// own arithmetic that overflows is a mapping failure of the delivery — never a trap.
@Suite("Arithmetic overflow")
struct ArithmeticOverflowTests {
    /// The issue's order: 1 000 000 × 9 000 000 000 000.00 SGD is 9 × 10^20 cents, beyond `Int64`.
    static let crafted = Fixtures.richOrder
        .replacingOccurrences(of: #""quantity":2,"itemOnlyPrice":12.5"#, with: #""quantity":1000000,"itemOnlyPrice":9000000000000.0"#)

    @Test("the crafted oktopos order is a 400 naming order.items[0].quantity; nothing is stored, nothing reaches the POS")
    func dispatchRejectsOverflow() async throws {
        #expect(Self.crafted != Fixtures.richOrder)
        try await ConnectorDispatchTests.withRig { rig in
            try await rig.connect("oktopos")
            let reply = try await rig.dispatch("oktopos", order: Self.crafted)
            #expect(reply.status == 400, "\(reply.text)")
            #expect(reply.error["field"] as? String == "order.items[0].quantity", "\(reply.text)")
            #expect((reply.error["message"] as? String)?.contains("larger than the largest amount") == true, "\(reply.text)")
            #expect(try await rig.service.stores.orderCount(tenantId: rig.keys.tenant.id) == 0)
            #expect(rig.sandboxes.oktopos.orders.isEmpty)
            // The service is still up and takes the next order.
            let next = try await rig.dispatch("oktopos")
            #expect(next.json["dispatched"] as? Bool == true, "\(next.text)")
        }
    }

    @Test("a poison order already in the outbox (stored before the checks) is dead-lettered naming the field; the worker lives on")
    func storedPoisonOrderGoesDead() async throws {
        try await ConnectorDispatchTests.withRig { rig in
            try await rig.connect("oktopos")
            // What an older release left behind: the crafted order accepted, its first attempt's process killed.
            let now = SystemClock.now()
            let order = NewOrder(
                id: UUID().uuidString, tenantId: rig.keys.tenant.id, outletId: "store-uuid-123", event: "order.paid",
                orderUUID: "ord-poison", orderRefNo: "R", builtInTransformer: "oktopos", currency: "SGD", totalPayMinor: 3640,
                payload: Array(Self.crafted.utf8), payloadSHA256: "x", receivedAt: now,
                firstAttemptLease: DeliveryLease(owner: "killed-process", expiresAt: now + 100))
            let completion = DispatchCompletion(orderId: order.id, status: .noTarget, reason: nil, response: nil, at: now)
            _ = try await rig.service.stores.acceptOrder(order, completionWithoutTargets: completion, makeDeliveryId: { UUID().uuidString })

            let dead = await rig.service.events.first { $0.transition.status == .dead }
            #expect(dead?.attempt.attemptNumber == 2, "not retried: attempt 1 was the killed process's")
            #expect(dead?.attempt.errorClass == "mapping")
            #expect(dead?.attempt.error?.contains("order.items[0].quantity") == true, "\(dead?.attempt.error ?? "")")
            #expect(rig.sandboxes.oktopos.orders.isEmpty)
            let next = try await rig.dispatch("oktopos")
            #expect(next.json["dispatched"] as? Bool == true, "the process is alive: \(next.text)")
        }
    }

    @Test("checked money and count arithmetic: exact up to the edge, an error past it")
    func checkedArithmetic() throws {
        let sgd = Currency(code: "SGD")!
        let largest = Money(minorUnits: Int64.max, currency: sgd)
        #expect(try Money(minorUnits: Int64.max - 1, currency: sgd).plus(Money(minorUnits: 1, currency: sgd)) == largest)
        #expect(throws: ArithmeticOverflow.self) { try largest.plus(Money(minorUnits: 1, currency: sgd)) }
        #expect(try Money(minorUnits: Int64.max / 2, currency: sgd).times(2).minorUnits == Int64.max - 1)
        #expect(throws: ArithmeticOverflow.self) { try Money(minorUnits: Int64.max / 2 + 1, currency: sgd).times(2) }
        #expect(try Quantity.product(1_000_000, 1_000_000) == 1_000_000_000_000)
        #expect(throws: ArithmeticOverflow.self) { try Quantity.product(Int.max, 2) }
    }

    @Test("every derived amount is checked and blamed on its field", arguments: [
        // A modifier line: price × its quantity × the item's quantity.
        (#""price":1.5,"quantity":1}"#, #""price":90000000000000,"quantity":1000}"#, "order.items[0].modifiers[0].quantity"),
        // Two item subtotals that fit alone but not together.
        (#""itemSubTotal":28"#, #""itemSubTotal":90000000000000000"#, "order.items[1].itemSubTotal"),
        (#""serviceCharge":0"#, #""serviceCharge":92233720368547758"#, "order.serviceCharge"),
        (#""deliveryFee":3.5"#, #""deliveryFee":92233720368547758"#, "order.deliveryFee"),
        (#""tip":2"#, #""tip":92233720368547758"#, "order.payment.tip"),
    ])
    func derivedAmounts(_ original: String, _ replacement: String, _ field: String) throws {
        var order = Fixtures.richOrder.replacingOccurrences(of: original, with: replacement)
        if field == "order.items[1].itemSubTotal" {
            order = order.replacingOccurrences(of: #""itemSubTotal":4.9"#, with: #""itemSubTotal":90000000000000000"#)
        }
        #expect(order != Fixtures.richOrder)
        do throws(ServiceError) {
            _ = try JSONBodyDecoder.command(DispatchRequest.self, from: Array(#"{"outletId":"o","event":"order.paid","order":\#(order)}"#.utf8))
            Issue.record("accepted an order whose \(field) overflows")
        } catch {
            guard case .invalid(let reported, let message, _) = error else {
                Issue.record("expected invalid, got \(error)")
                return
            }
            #expect(reported == field, "\(message)")
        }
    }

    /// An order the validator accepted under its rules, whose line OktoPOS must total does not fit:
    /// 2 burgers × 1 cheese × 46 116 860 184 273 879.04 SGD.
    static var oktoposOverflow: CataOrder {
        var order = ConnectorMappingTests.order
        order.items[0].modifiers[0].price = Money(minorUnits: Int64.max / 2 + 1, currency: order.currency)
        return order
    }

    @Test("oktopos: a line total that overflows is a mapping error naming the field")
    func oktoposMappingOverflow() throws {
        let settings = try OktoPOSConnector.Settings(ConnectorMappingTests.settings("oktopos"))
        let error = #expect(throws: ValidationError.self) { try OktoPOSConnector.orderBody(Self.oktoposOverflow, settings: settings) }
        #expect(error?.field == "order.items[0].modifiers[0].quantity", "\(error?.message ?? "")")
    }

    @Test("desibits: a modifier quantity × item quantity that overflows is a mapping error naming the field")
    func desibitsMappingOverflow() throws {
        var order = ConnectorMappingTests.order
        order.items[0].quantity = Int.max
        order.items[0].modifiers[0].quantity = 2
        let settings = try DesibitsConnector.Settings(ConnectorMappingTests.settings("desibits"))
        let error = #expect(throws: ValidationError.self) { try DesibitsConnector.orderBody(order, settings: settings, orderTypeId: 3) }
        #expect(error?.field == "order.items[0].modifiers[0].quantity", "\(error?.message ?? "")")
    }

    @Test("a connector's dispatch of such an order is a non-retryable mapping failure (dead-lettered), sent nowhere")
    func dispatchOutcomeIsMappingFailure() async throws {
        let connector = OktoPOSConnector(exchange: POSExchange(transport: ConnectorMappingTests.unusedTransport, clock: { 0 }))
        let outcome = await connector.dispatch(OverflowRig.dispatch(Self.oktoposOverflow, settings: ConnectorMappingTests.settings("oktopos")))
        #expect(outcome.failureClass == .mapping)
        #expect(outcome.errorClass == "mapping", "stored as before")
        #expect(!outcome.retryable, "a mapping failure is not retried: the delivery goes to the dead letter")
        #expect(outcome.statusCode == nil, "no request was made")
        #expect(outcome.reason.hasPrefix("order.items[0].modifiers[0].quantity"), "\(outcome.reason)")
    }
}

enum OverflowRig {
    /// A first attempt of `order` with credentials no request may use (the mapping must fail first).
    static func dispatch(_ order: CataOrder, settings: JSONValue) -> POSDispatch {
        POSDispatch(deliveryId: "d-overflow", attemptNumber: 1, order: order,
                    access: ProviderAccess(baseUrl: "http://127.0.0.1:9", webhookUrl: "", config: .object([]),
                                           credentials: StaticCredentialSource(key: "unused", secret: "")),
                    externalOutletId: "456", settings: settings, progress: nil, checkpoint: { _ in })
    }
}
