import Foundation
import Hummingbird
import PosConnectors
import PosDomain
import PosSandbox
import PosServices
import Synchronization
import Testing

/// Importing a POS's menu at the connector level: each connector reads its double's catalogue over
/// loopback HTTP (following the POS's paging, refused with bad credentials), and each pure mapping is
/// pinned by a golden file (`Golden/<pos>-menu-input.json` → `Golden/<pos>-menu.json`).
@Suite("Menu import: connectors and doubles")
struct MenuImportConnectorTests {
    static let transport = HTTPTransport(timeout: .seconds(10), outboundGuard: nil)
    static let exchange = POSExchange(transport: transport, clock: SystemClock.now)
    static let revel = RevelConnector(exchange: exchange)
    static let oktopos = OktoPOSConnector(exchange: exchange)
    static let desibits = DesibitsConnector(exchange: exchange)
    static let sgd = Currency(code: "SGD")!

    static func money(_ text: String) -> Money { try! Money.parse(text, currency: sgd) }

    /// Prices in SGD as a menu lists them, nil for none.
    static func prices(_ texts: String?...) -> [Money?] { texts.map { $0.map(money) } }

    /// The doubles on a loopback port.
    struct Rig {
        let sandboxes: PosSandboxes
        let origin: String

        func request(_ slug: String, settings: String? = nil, externalOutletId: String = "456", key: String? = nil, secret: String? = nil) -> POSMenuRequest {
            let keys = ["oktopos": OktoPOSSandbox.defaultToken, "desibits": DesibitsSandbox.defaultToken, "revel": RevelSandbox.defaultAPIKey]
            let access = ProviderAccess(baseUrl: "\(origin)/\(slug)", webhookUrl: "", config: .object([]),
                                        credentials: StaticCredentialSource(key: key ?? keys[slug]!, secret: secret ?? (slug == "revel" ? RevelSandbox.defaultAPISecret : "")))
            return POSMenuRequest(externalOutletId: externalOutletId, settings: JSONValue(parsing: settings ?? Fixtures.connectorSettings[slug]!)!,
                                  access: access, currency: MenuImportConnectorTests.sgd)
        }
    }

    static func withRig(_ sandboxes: PosSandboxes = PosSandboxes(), _ body: (Rig) async throws -> Void) async throws {
        try await withSandboxServer(sandboxes) { origin in try await body(Rig(sandboxes: sandboxes, origin: origin)) }
    }

    /// The failure `importMenu` threw; a recorded issue when it returned a menu instead.
    static func failure(_ body: () async throws(ConnectorFailure) -> ImportedMenu) async -> ConnectorFailure? {
        do {
            let menu = try await body()
            Issue.record("expected a failure, got \(menu.products.count) product(s)")
            return nil
        } catch {
            return error
        }
    }

    /// Every id the fixture settings map a PLU to is imported with that PLU: an import gives dispatch what it needs.
    static func expectCoversFixtureMapping(_ menu: ImportedMenu, _ slug: String) {
        let settings = JSONValue(parsing: Fixtures.connectorSettings[slug]!)!
        guard case .object(let products)? = settings["productMap"] else { Issue.record("no productMap"); return }
        for (plu, id) in products {
            let product = menu.products.first { $0.externalId == id.idText }
            #expect(product?.plu == plu, "\(slug): productMap \(plu) → \(id.serialized) is not imported with that PLU")
        }
    }

    // MARK: Revel

    @Test("Revel: products, modifier classes and categories of the establishment, with SKUs as PLUs and exact prices")
    func revelDefaultCatalogue() async throws {
        try await Self.withRig { rig in
            let menu = try await Self.revel.importMenu(rig.request("revel"))
            #expect(menu.products.map(\.externalId) == ["501", "502", "503", "590"])
            let burger = try #require(menu.products.first)
            #expect(burger == ImportedMenu.Product(externalId: "501", plu: "SKU-BURGER-01", name: "Classic Burger", price: Self.money("12.50"),
                                                  modifierGroupIds: ["3100", "3101", "3102"], category: "Burgers"))
            #expect(menu.products.map(\.price) == Self.prices("12.50", "4.90", "2.80", "3.50"))
            #expect(menu.products.map(\.category) == ["Burgers", "Sides", "Soft drinks", "Fees"])
            #expect(menu.modifierGroups.map(\.externalId) == ["3100", "3101", "3102"])
            let cheese = try #require(menu.modifierGroups.first)
            #expect(cheese == ImportedMenu.ModifierGroup(
                externalId: "3100", name: "Cheese",
                options: [.init(externalId: "3001", name: "Extra Cheese", price: Self.money("1.50"), plu: "mo-extra-cheese")],
                minSelections: 0, maxSelections: 1))
            #expect(menu.modifierGroups[1].maxSelections == nil, "Revel's max 0 is no maximum")
            #expect(menu.modifierGroups[2].options.first?.price == Self.money("0.00"))
            Self.expectCoversFixtureMapping(menu, "revel")
            for route in ["/weborders/products", "/weborders/modifiers", "/weborders/product_categories"] {
                #expect(rig.sandboxes.revel.requestCount(route) == 1, "\(route)")
            }

            // Without establishmentId in the settings, the outlet's Revel id is the establishment.
            let byOutlet = try await Self.revel.importMenu(rig.request("revel", settings: "{}", externalOutletId: "456"))
            #expect(byOutlet == menu)
            // An establishment Revel does not know is Revel's 400, not an auth failure.
            let unknown = await Self.failure { () async throws(ConnectorFailure) in
                try await Self.revel.importMenu(rig.request("revel", settings: #"{"establishmentId":999}"#))
            }
            #expect(unknown?.isAuthFailure == false && unknown?.message.contains("unknown establishment 999") == true, "\(unknown?.message ?? "")")
            let none = await Self.failure { () async throws(ConnectorFailure) in
                try await Self.revel.importMenu(rig.request("revel", settings: "{}", externalOutletId: "store-uuid-123"))
            }
            #expect(none?.message.contains("settings.establishmentId") == true, "\(none?.message ?? "")")
        }
    }

    @Test("Revel: every listing is followed through meta.next when the double pages by two")
    func revelPaging() async throws {
        try await Self.withRig(PosSandboxes(revel: RevelSandbox(maxPageSize: 2))) { rig in
            let menu = try await Self.revel.importMenu(rig.request("revel"))
            #expect(menu.products.map(\.externalId) == ["501", "502", "503", "590"])
            #expect(menu.modifierGroups.map(\.externalId) == ["3100", "3101", "3102"])
            #expect(menu.products.last?.category == "Fees", "the category is on the last of four category pages")
            #expect(rig.sandboxes.revel.requestCount("/weborders/products") == 2)
            #expect(rig.sandboxes.revel.requestCount("/weborders/modifiers") == 2)
            #expect(rig.sandboxes.revel.requestCount("/weborders/product_categories") == 4)
        }
    }

    @Test("Revel: a wrong key/secret is an auth failure; a catalogue replaced in the double is what is imported")
    func revelAuthAndReplacedMenu() async throws {
        try await Self.withRig { rig in
            let refused = await Self.failure { () async throws(ConnectorFailure) in
                try await Self.revel.importMenu(rig.request("revel", secret: "wrong"))
            }
            #expect(refused?.isAuthFailure == true, "\(refused?.message ?? "")")
            #expect(rig.sandboxes.revel.requestCount("/weborders/modifiers") == 0, "the import stops at the first refusal")

            rig.sandboxes.revel.replaceMenu(RevelSandbox.Menu(
                products: [RevelSandbox.Product(id: 700, name: "Kaya Toast", sku: "SKU-KAYA", price: "3.05", categoryId: 1)],
                modifiers: [], categories: [RevelSandbox.Category(id: 1, name: "Breakfast")]))
            let menu = try await Self.revel.importMenu(rig.request("revel"))
            #expect(menu == ImportedMenu(products: [.init(externalId: "700", plu: "SKU-KAYA", name: "Kaya Toast", price: Self.money("3.05"),
                                                          modifierGroupIds: [], category: "Breakfast")], modifierGroups: []))

            // A price that does not fit the currency fails the import with the product named; it never traps.
            rig.sandboxes.revel.replaceMenu(RevelSandbox.Menu(products: [RevelSandbox.Product(id: 701, name: "Odd", price: "1.005")], modifiers: []))
            let odd = await Self.failure { () async throws(ConnectorFailure) in try await Self.revel.importMenu(rig.request("revel")) }
            #expect(odd?.message == #"Revel products[0].price "1.005" has more decimal places than SGD has (2)"#, "\(odd?.message ?? "")")
            #expect(odd?.isAuthFailure == false)
        }
    }

    @Test("Revel: a next page that never ends fails after the page bound")
    func revelEndlessPaging() async throws {
        let router = Router()
        let calls = Counter()
        router.get("/loop/weborders/products/") { _, _ -> Response in
            calls.increment()
            let body = #"{"status":"OK","data":[{"id":1,"name":"Loop","price":1.00}],"meta":{"next":"/loop/weborders/products/?establishment=456&limit=250&offset=250"}}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        let server = try await LiveServer.start(router: router)
        let access = ProviderAccess(baseUrl: "http://127.0.0.1:\(server.port)/loop", webhookUrl: "", config: .object([]),
                                    credentials: StaticCredentialSource(key: "k", secret: "s"))
        let failure = await Self.failure { () async throws(ConnectorFailure) in
            try await Self.revel.importMenu(POSMenuRequest(externalOutletId: "456", settings: .object([]), access: access, currency: Self.sgd))
        }
        await server.stop()
        #expect(failure?.message.contains("after \(MenuImport.maxPages) pages") == true, "\(failure?.message ?? "")")
        #expect(calls.value == MenuImport.maxPages)
    }

    // MARK: OktoPOS

    @Test("OktoPOS: articles with their externalReferenceNumber as PLU, priced for the outlet's distribution channel")
    func oktoposDefaultCatalogue() async throws {
        try await Self.withRig { rig in
            let menu = try await Self.oktopos.importMenu(rig.request("oktopos"))
            #expect(menu.products.map(\.externalId) == ["101", "102", "103", "201", "202", "900"])
            #expect(menu.products.map(\.plu) == ["SKU-BURGER-01", "SKU-FRIES-01", "SKU-COLA-01", "mo-extra-cheese", "mo-bacon", "DELIVERY-FEE"])
            #expect(menu.products.map(\.price) == Self.prices("12.50", "4.90", "2.80", "1.50", "2.00", "3.50"), "channel 35 (DELIVERY)")
            #expect(menu.products.first?.category == "Burgers" && menu.products.first?.name == "Classic Burger")
            #expect(menu.modifierGroups.isEmpty, "the Article API has no modifier groups")
            Self.expectCoversFixtureMapping(menu, "oktopos")
            #expect(rig.sandboxes.oktopos.requestCount("POST /article/list") == 1)

            let inHouse = try await Self.oktopos.importMenu(rig.request("oktopos", settings: #"{"distributionChannelId":34}"#))
            #expect(inHouse.products.map(\.price) == Self.prices("11.90", "4.50", "2.50", "1.50", "2.00", nil), "the delivery fee has no in-house price")
            let noChannel = try await Self.oktopos.importMenu(rig.request("oktopos", settings: "{}"))
            #expect(noChannel.products.map(\.price) == Self.prices(nil, nil, nil, nil, nil, "3.50"), "only a single price is unambiguous")
        }
    }

    @Test("OktoPOS: pages are requested until the total is read when the instance pages by two")
    func oktoposPaging() async throws {
        try await Self.withRig(PosSandboxes(oktopos: OktoPOSSandbox(articlePageLimit: 2))) { rig in
            let menu = try await Self.oktopos.importMenu(rig.request("oktopos"))
            #expect(menu.products.map(\.externalId) == ["101", "102", "103", "201", "202", "900"])
            #expect(rig.sandboxes.oktopos.requestCount("/article/list") == 3)
        }
    }

    @Test("OktoPOS: a wrong token is an auth failure; the double refuses a page size over 500 and unknown filters")
    func oktoposAuthAndContract() async throws {
        try await Self.withRig { rig in
            let refused = await Self.failure { () async throws(ConnectorFailure) in
                try await Self.oktopos.importMenu(rig.request("oktopos", key: "wrong-token"))
            }
            #expect(refused?.isAuthFailure == true, "\(refused?.message ?? "")")

            let call = { (body: String, token: String) async throws -> (Int, JSONValue?) in
                let response = try await Self.transport.send(method: .POST, url: "\(rig.origin)/oktopos/article/list",
                                                             headers: [("X-API-Key", token), ("Content-Type", "application/json")],
                                                             body: Array(body.utf8))
                return (response.status, JSONValue(parsing: String(decoding: response.body, as: UTF8.self)))
            }
            let token = OktoPOSSandbox.defaultToken
            let tooLarge = try await call(#"{"page":1,"pageSize":501}"#, token)
            #expect(tooLarge.0 == 400 && tooLarge.1?["messages"].map { $0.serialized.contains("pageSize must not be greater than 500") } == true)
            let badFilter = try await call(#"{"page":1,"pageSize":10,"filter":{"colour":"red"}}"#, token)
            #expect(badFilter.0 == 400)
            let pageZero = try await call(#"{"page":0}"#, token)
            #expect(pageZero.0 == 400)
            let filtered = try await call(#"{"page":1,"pageSize":10,"filter":{"externalReferenceNumber":"SKU-FRIES-01"}}"#, token)
            #expect(filtered.0 == 200 && filtered.1?["total"] == .number("1") && filtered.1?["items"].map { $0.serialized.contains(#""description":"Fries""#) } == true)

            rig.sandboxes.oktopos.replaceArticles([OktoPOSSandbox.Article(
                id: 7, uuid: "7f1c2a10-0000-4000-8000-000000000007", name: "Laksa", externalReferenceNumber: "SKU-LAKSA",
                prices: [.init(dcId: 35, price: "9.80")])])
            let menu = try await Self.oktopos.importMenu(rig.request("oktopos"))
            #expect(menu.products == [.init(externalId: "7", plu: "SKU-LAKSA", name: "Laksa", price: Self.money("9.80"), modifierGroupIds: [])])
        }
    }

    // MARK: desibits

    @Test("desibits: the menu items of every kitchen, once each, with their SKU as PLU and exact prices")
    func desibitsDefaultCatalogue() async throws {
        try await Self.withRig { rig in
            let menu = try await Self.desibits.importMenu(rig.request("desibits"))
            #expect(menu.products.map(\.externalId) == ["15", "16", "31", "32", "90", "40"], "fries are in two kitchens and imported once")
            #expect(menu.products.first == ImportedMenu.Product(externalId: "15", plu: "SKU-BURGER-01", name: "Classic Burger", price: Self.money("35.00"),
                                                 modifierGroupIds: [], category: "Burgers"))
            #expect(menu.products.map(\.price) == Self.prices("35.00", "8.00", "5.00", "6.00", "5.00", "4.50"))
            #expect(menu.modifierGroups.isEmpty)
            Self.expectCoversFixtureMapping(menu, "desibits")
            #expect(rig.sandboxes.desibits.requestCount("/api/v1/pos/kitchens") == 1)
        }
    }

    @Test("desibits: a paginated kitchens list is read page by page")
    func desibitsPaging() async throws {
        try await Self.withRig(PosSandboxes(desibits: DesibitsSandbox(kitchensPageSize: 1))) { rig in
            let menu = try await Self.desibits.importMenu(rig.request("desibits"))
            #expect(menu.products.map(\.externalId) == ["15", "16", "31", "32", "90", "40"])
            #expect(rig.sandboxes.desibits.requestCount("/api/v1/pos/kitchens") == 2)
        }
    }

    @Test("desibits: a wrong token is an auth failure; a replaced menu is imported")
    func desibitsAuthAndReplacedMenu() async throws {
        try await Self.withRig { rig in
            let refused = await Self.failure { () async throws(ConnectorFailure) in
                try await Self.desibits.importMenu(rig.request("desibits", key: "wrong-token"))
            }
            #expect(refused?.isAuthFailure == true, "\(refused?.message ?? "")")
            rig.sandboxes.desibits.replaceKitchens([DesibitsSandbox.Kitchen(id: 9, name: "Tandoor", menuItems: [
                DesibitsSandbox.MenuItem(id: 70, name: "Naan", priceCents: 250, sku: "SKU-NAAN"),
            ])])
            let menu = try await Self.desibits.importMenu(rig.request("desibits"))
            #expect(menu.products == [.init(externalId: "70", plu: "SKU-NAAN", name: "Naan", price: Self.money("2.50"), modifierGroupIds: [])])
        }
    }

    // MARK: Pure mappings

    static func golden(_ name: String) throws -> JSONValue {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/\(name).json")
        return try #require(JSONValue(parsing: try String(contentsOf: url, encoding: .utf8)), "Golden/\(name).json is not JSON")
    }

    @Test("revel mapping: SKU as PLU, category by id/URI/object, inactive and duplicate entries left out, max 0 is no maximum")
    func revelGolden() throws {
        let menu = try RevelConnector.importedMenu(try Self.golden("revel-menu-input"), currency: Self.sgd)
        try ConnectorMappingTests.matchesGolden(menu.json, "revel-menu")
        #expect(menu.products.first?.modifierGroupIds == ["3100", "3102"], "unknown class 9999 is dropped")
        #expect(menu.products.first { $0.externalId == "505" }?.price == Self.money("1.50"), "1.5e0 read exactly")
    }

    @Test("oktopos mapping: the channel's price by id, else by token; none when the channel has no price")
    func oktoposGolden() throws {
        let input = try Self.golden("oktopos-menu-input")
        let menu = try OktoPOSConnector.importedMenu(try #require(input["articles"]), settings: try #require(input["settings"]), currency: Self.sgd)
        try ConnectorMappingTests.matchesGolden(menu.json, "oktopos-menu")
        #expect(menu.products.map(\.plu) == ["SKU-BURGER-01", "SKU-FRIES-01", "1003", nil, "DELIVERY-FEE"])
    }

    @Test("desibits mapping: items of all kitchens once, sku else code as PLU, category as text or object")
    func desibitsGolden() throws {
        let menu = try DesibitsConnector.importedMenu(try Self.golden("desibits-menu-input"), currency: Self.sgd)
        try ConnectorMappingTests.matchesGolden(menu.json, "desibits-menu")
        #expect(menu.products.map(\.externalId) == ["15", "16", "31", "33", "40"])
    }

    @Test("prices are exact or the import fails naming the field; never a trap", arguments: [
        ("12.345", "has more decimal places than SGD has (2)"),
        ("-1.00", "is negative"),
        ("99999999999999999999", "is larger than the largest amount"),
        ("1e400", "is larger than the largest amount"),
        ("12,50", "is not a decimal amount"),
    ])
    func badPrices(_ price: String, _ why: String) throws {
        let listing = JSONValue(parsing: #"[{"id":1,"name":"Item","menu_items":[{"id":5,"name":"X","price":"\#(price)"}]}]"#)!
        let error = #expect(throws: ConnectorFailure.self) { try DesibitsConnector.importedMenu(listing, currency: Self.sgd) }
        #expect(error?.message.contains("kitchens[0].menu_items[0].price \"\(price)\" \(why)") == true, "\(error?.message ?? "")")
        #expect(throws: ConnectorFailure.self) {
            try OktoPOSConnector.importedMenu(.array([.object([("id", .number("1")), ("price", .array([.object([("price", .string(price))])]))])]),
                                              settings: .object([]), currency: Self.sgd)
        }
        #expect(try MenuImport.price(.number("12.10"), currency: Self.sgd, field: "p") == Money(minorUnits: 1210, currency: Self.sgd))
        #expect(try MenuImport.price(.string("1.250"), currency: Currency(code: "KWD")!, field: "p") == Money(minorUnits: 1250, currency: Currency(code: "KWD")!))
    }
}

/// A count shared with a route handler.
private final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
