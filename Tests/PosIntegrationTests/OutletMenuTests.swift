import Foundation
import PosDomain
import Testing

@Suite("Outlet menu sync body")
struct OutletMenuTests {
    /// Two menus in the menu-push shape: delivery all week at lunch, pickup on Friday night past midnight.
    static let fixture = """
        [{"menuId":"m-delivery","menu":"Delivery","menuType":1,
          "availabilities":[{"dayOfWeek":1,"startTime":"11:00","endTime":"15:00"},{"dayOfWeek":5,"startTime":"11:00","endTime":"15:00"}],
          "categories":[{"name":"Burgers","products":["p-burger","p-fries"]}],
          "products":{"p-burger":{"_id":"p-burger","plu":"SKU-BURGER-01","name":"Classic Burger","price":1250,"productType":1,"subProducts":["g-cheese"]},
                      "p-fries":{"_id":"p-fries","plu":"SKU-FRIES-01","name":"Fries","price":490,"productType":1}},
          "modifierGroups":{"g-cheese":{"_id":"g-cheese","name":"Cheese","min":0,"max":2,"subProducts":["mo-cheese"]}},
          "modifiers":{"mo-cheese":{"_id":"mo-cheese","plu":"mo-extra-cheese","name":"Extra Cheese","price":150}},
          "snoozedProducts":{"s-1":{"plu":"SKU-FRIES-01","snoozeStart":"2026-03-13 10:00:00.000000+0000","snoozeEnd":"2026-03-13 22:00:00.000000+0000"}}},
         {"menuId":"m-pickup","menu":"Pickup late","menuType":2,"decimalDigits":0,
          "availabilities":[{"dayOfWeek":5,"startTime":"22:00","endTime":"02:00"}],
          "categories":[{"name":"All","products":["p-burger"]}],
          "products":{"p-burger":{"plu":"SKU-BURGER-01","name":"Classic Burger","price":12}},
          "modifierGroups":{},"modifiers":{},"snoozedProducts":{}}]
        """

    static func parse(_ text: String) throws(ValidationError) -> [OutletMenu] {
        guard let json = JSONValue(parsing: text) else { throw ValidationError(field: "", message: "not JSON") }
        return try OutletMenu.menus(from: json)
    }

    @Test("the fixture reads into menus, windows, categories, entries and snoozes")
    func fixtureReads() throws {
        let menus = try Self.parse(Self.fixture)
        #expect(menus.map(\.menuId) == ["m-delivery", "m-pickup"])
        let delivery = menus[0]
        #expect(delivery.name == "Delivery" && delivery.menuType == 1 && delivery.availabilities.count == 2)
        #expect(delivery.categories == [OutletMenu.Category(name: "Burgers", productIds: ["p-burger", "p-fries"])])
        let burger = try #require(delivery.products["p-burger"])
        #expect(burger.plu == "SKU-BURGER-01" && burger.priceMinor == 1250 && burger.children == ["g-cheese"])
        #expect(delivery.decimalText(try #require(burger.priceMinor)) == "12.50")
        #expect(delivery.decimalText(5) == "0.05")
        #expect(delivery.modifierGroups["g-cheese"]?.max == 2 && delivery.modifiers["mo-cheese"]?.plu == "mo-extra-cheese")
        #expect(delivery.snoozed == ["SKU-FRIES-01": RFC3339.parseMilliseconds("2026-03-13T22:00:00Z")!])
        #expect(menus[1].decimalText(12) == "12" && menus[1].availabilities == [AvailabilityWindow(dayOfWeek: 5, startMinute: 1320, endMinute: 120)])
    }

    @Test("bad bodies are refused naming the field", arguments: [
        (#"{"menuId":"x"}"#, ""),
        ("[]", ""),
        (#"[{"menu":"M","menuType":1}]"#, "[0].menuId"),
        (#"[{"menuId":"a","menu":"M","menuType":7}]"#, "[0].menuType"),
        (#"[{"menuId":"a","menu":"M","menuType":1},{"menuId":"a","menu":"N","menuType":2}]"#, "[1].menuId"),
        (#"[{"menuId":"a","menu":"M","menuType":1,"availabilities":[{"dayOfWeek":9,"startTime":"10:00","endTime":"11:00"}]}]"#, "[0].availabilities[0].dayOfWeek"),
        (#"[{"menuId":"a","menu":"M","menuType":1,"products":{"p":{"name":"P","price":12.5}}}]"#, "[0].products.p.price"),
        (#"[{"menuId":"a","menu":"M","menuType":1,"products":{"p":{"name":"P","price":-1}}}]"#, "[0].products.p.price"),
        (#"[{"menuId":"a","menu":"M","menuType":1,"categories":[{"name":"C","products":["ghost"]}]}]"#, "[0].categories[0].products[0]"),
        (#"[{"menuId":"a","menu":"M","menuType":1,"products":{"p":{"name":"P","subProducts":["g"]}}}]"#, "[0].products.p.subProducts"),
        (#"[{"menuId":"a","menu":"M","menuType":1,"modifierGroups":{"g":{"name":"G","min":3,"max":1}}}]"#, "[0].modifierGroups.g.min"),
        (#"[{"menuId":"a","menu":"M","menuType":1,"snoozedProducts":{"s":{"plu":"X","snoozeEnd":"soon"}}}]"#, "[0].snoozedProducts.s.snoozeEnd"),
    ])
    func refusals(_ body: String, _ field: String) {
        do {
            _ = try Self.parse(body)
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.field == field, "\(body): \(error.message)")
        }
    }

    static func outlet(timezone: String = "Asia/Singapore", status: OutletStatus = .open, busyUntil: Int64? = nil) -> Outlet {
        Outlet(id: "outlet-1", tenantId: "t", name: "Downtown", status: status, externalId: nil, provider: "cata", internalName: nil, slug: "downtown",
               refCode: nil, imageUrl: nil, address: nil, contact: nil, isBusy: busyUntil != nil, busyUntil: busyUntil, visible: true,
               timezone: timezone, openingHours: nil, capabilities: nil, locationId: nil, channelLinkId: nil, createdAt: 0, updatedAt: 0)
    }

    static func at(_ text: String) -> Int64 { RFC3339.parseMilliseconds(text)! }

    @Test("the read model at several instants: which menus are served, prices, snoozes that end by themselves, open and busy")
    func readModel() throws {
        let menus = try Self.parse(Self.fixture)
        let snoozeEnd = Self.at("2026-03-16T04:00:00Z")
        let inputs = OutletMenuReadModel.Inputs(outlet: Self.outlet(busyUntil: Self.at("2026-03-16T03:30:00Z")), menus: menus,
                                                snoozes: ["mo-extra-cheese": snoozeEnd], prices: ["SKU-FRIES-01": "5.20"])
        // Monday 2026-03-16 11:30 in Singapore (03:30Z): the delivery menu only.
        let lunch = OutletMenuReadModel.view(inputs, at: Self.at("2026-03-16T03:30:00Z"))
        #expect(lunch["menus"].map { if case .array(let items) = $0 { items.compactMap { $0["menuId"]?.stringValue } } else { [] } } == ["m-delivery"])
        #expect(lunch["isOpen"] == .bool(true) && lunch["isBusy"] == .bool(false), "busy until 03:30Z, exclusive")
        let items = try #require(Self.items(lunch))
        #expect(items.map { $0["itemCode"]?.stringValue } == ["SKU-BURGER-01", "SKU-FRIES-01"])
        #expect(items[0]["price"] == .number("12.50") && items[1]["price"] == .number("5.20"), "the outlet's price wins over the menu's")
        #expect(items[1]["available"] == .bool(true), "the menu's own snooze of the fries ended on the 13th")
        let cheese = try #require(Self.options(items[0]).first)
        #expect(cheese["available"] == .bool(false) && cheese["snoozeEnd"] == .string("2026-03-16T04:00:00.000Z") && cheese["price"] == .number("1.50"))
        // Half an hour later the snooze has ended by itself.
        let later = OutletMenuReadModel.view(inputs, at: Self.at("2026-03-16T04:00:00Z"))
        let laterItems = try #require(Self.items(later))
        #expect(Self.options(laterItems[0]).first?["available"] == .bool(true))
        // Monday 16:00 local: nothing is served.
        #expect(OutletMenuReadModel.view(inputs, at: Self.at("2026-03-16T08:00:00Z"))["menus"] == .array([]))
        // Friday 23:30 and Saturday 01:30 local (across the outlet's midnight): the late pickup menu.
        for instant in ["2026-03-20T15:30:00Z", "2026-03-20T17:30:00Z"] {
            let late = OutletMenuReadModel.view(inputs, at: Self.at(instant))
            let lateItems = try #require(Self.items(late))
            #expect(lateItems[0]["price"] == .number("12"), "\(instant)")
        }
        let closed = OutletMenuReadModel.view(OutletMenuReadModel.Inputs(outlet: Self.outlet(status: .closed), menus: menus), at: 0)
        #expect(closed["isOpen"] == .bool(false))
    }

    static func items(_ view: JSONValue) -> [JSONValue]? {
        guard case .array(let menus)? = view["menus"], case .array(let categories)? = menus.first?["categories"],
              case .array(let items)? = categories.first?["items"] else { return nil }
        return items
    }

    static func options(_ item: JSONValue) -> [JSONValue] {
        guard case .array(let groups)? = item["modifierGroups"], case .array(let options)? = groups.first?["options"] else { return [] }
        return options
    }
}
