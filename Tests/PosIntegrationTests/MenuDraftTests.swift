import CompressNIO
import Foundation
import NIOCore
import PosDomain
import PosStorage
import Testing

@Suite("Menu drafts and publishing over HTTP")
struct MenuDraftTests {
    static func body(_ text: String) -> [UInt8] { Array(text.utf8) }

    static let products = body("""
        {"products":[
          {"itemCode":"BURGER","name":"Burger","price":12.5,"type":"single",
           "modifierGroups":[{"code":"extras","name":"Extras","min":0,"max":2,"options":[{"itemCode":"CHEESE","name":"Cheese","price":1}]}]},
          {"itemCode":"FRIES","name":"Fries","price":4,"type":"single","outletPrices":[{"outletId":"OUTLET_A","price":3.5}]},
          {"itemCode":"COKE","name":"Coke","price":2,"type":"single"}
        ]}
        """)

    /// Every item the read shows; only `menuId`'s when given.
    static func items(_ reply: TestService.Reply, menu: String? = nil) -> [[String: Any]] {
        ((reply.json["menus"] as? [[String: Any]]) ?? []).filter { menu == nil || $0["menuId"] as? String == menu }.flatMap { ($0["categories"] as? [[String: Any]]) ?? [] }.flatMap { ($0["items"] as? [[String: Any]]) ?? [] }
    }

    static func price(_ reply: TestService.Reply, _ code: String, menu: String? = nil) -> Decimal? {
        (items(reply, menu: menu).first { $0["itemCode"] as? String == code }?["price"] as? NSNumber)?.decimalValue
    }

    @Test("drafts are edited piece by piece with field paths; a publish to three outlets commits where it can and keeps the others' menus; the read shows outlet prices")
    func draftAndPublish() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            func outlet(_ name: String, currency: String?) async throws -> String {
                let extra = currency.map { #","currency":"\#($0)""# } ?? ""
                let reply = try await service.call("POST", "/api/v1/outlets", key: acme.adminKey, json: CatalogTests.outletBody(name: name, extra: extra))
                return try #require(reply.json["id"] as? String, "\(reply.text)")
            }
            let a = try await outlet("A", currency: "SGD"), b = try await outlet("B", currency: "SGD"), c = try await outlet("C", currency: nil)
            let synced = try await service.call("POST", "/api/v1/products/sync", key: acme.partnerKey,
                                                json: Array(String(decoding: Self.products, as: UTF8.self).replacingOccurrences(of: "OUTLET_A", with: a).utf8))
            #expect(synced.status == 200, "\(synced.text)")

            // Bad drafts name their field; nothing is created.
            let refusals: [(String, String)] = [
                (#"{"name":"L","sections":[{"name":"Mains","items":[{"itemCode":"BURGER"},{"itemCode":"PIZZA"}]}]}"#, "sections[0].items[1].itemCode"),
                (#"{"name":"L","sections":[{"name":"Mains","items":[{"itemCode":"BURGER"},{"itemCode":"BURGER"}]}]}"#, "sections[0].items[1].itemCode"),
                (#"{"name":"L","sections":[{"name":"Mains","colour":"red"}]}"#, "sections[0].colour"),
                (#"{"name":"L","sections":[{"name":"Mains","items":[{"itemCode":"FRIES","price":-1}]}]}"#, "sections[0].items[0].price"),
                (#"{"name":"L","operatingHours":[{"dayOfWeek":1,"startTime":"11:00","endTime":"25:00"}]}"#, "operatingHours[0].endTime"),
                (#"{"name":"L","outletIds":["\#(a)","nowhere"]}"#, "outletIds[1]"),
                (#"{"name":"L","menuType":7}"#, "menuType"),
                (#"{"sections":[]}"#, "name"),
            ]
            for (text, field) in refusals {
                let reply = try await service.call("POST", "/api/v1/menus/drafts", key: acme.internalKey, json: Self.body(text))
                #expect(reply.status == 400 && reply.error["field"] as? String == field, "\(text) → \(reply.text)")
            }
            #expect((try await service.call("GET", "/api/v1/menus/drafts", key: acme.adminKey).json["drafts"] as? [Any])?.isEmpty == true)

            // Create, then add a section, fill it, set hours and outlets: each edit is a new version.
            let created = try await service.call("POST", "/api/v1/menus/drafts", key: acme.internalKey, json: Self.body(
                #"{"name":"Lunch","menuType":0,"sections":[{"name":"Mains","items":[{"itemCode":"BURGER"},{"itemCode":"FRIES","price":4.2}]}]}"#))
            #expect(created.status == 201 && created.header("ETag") == "\"1\"", "\(created.text)")
            let lunch = try #require(created.json["id"] as? String)
            let draftPath = "/api/v1/menus/drafts/\(lunch)"
            let section = try await service.call("POST", "\(draftPath)/sections", key: acme.internalKey, json: Self.body(#"{"name":"Drinks"}"#))
            #expect(section.status == 201 && section.header("ETag") == "\"2\"", "\(section.text)")
            let drinks = try #require((section.json["sections"] as? [[String: Any]])?.last?["id"] as? String)
            let filled = try await service.call("PUT", "\(draftPath)/sections/\(drinks)/items", key: acme.internalKey,
                                                json: Self.body(#"{"items":[{"itemCode":"COKE","price":2.5}]}"#))
            #expect(filled.status == 200 && filled.json["version"] as? Int == 3, "\(filled.text)")
            let badItem = try await service.call("PUT", "\(draftPath)/sections/\(drinks)/items", key: acme.internalKey,
                                                 json: Self.body(#"{"items":[{"itemCode":"TEA"}]}"#))
            #expect(badItem.status == 400 && badItem.error["field"] as? String == "sections[1].items[0].itemCode", "\(badItem.text)")
            #expect(try await service.call("PUT", "\(draftPath)/sections/nope/items", key: acme.internalKey, json: Self.body(#"{"items":[]}"#)).status == 404)
            // Monday 11:00–15:00 in each outlet's zone.
            let hours = try await service.call("PUT", "\(draftPath)/operating-hours", key: acme.internalKey,
                                               json: Self.body(#"{"operatingHours":[{"dayOfWeek":1,"startTime":"11:00","endTime":"15:00"}]}"#))
            #expect(hours.status == 200 && hours.json["version"] as? Int == 4)
            let targets = try await service.call("PUT", "\(draftPath)/outlets", key: acme.internalKey, json: Self.body(#"{"outletIds":["\#(a)","\#(b)"]}"#))
            #expect(targets.status == 200 && targets.json["outletIds"] as? [String] == [a, b] && targets.header("ETag") == "\"5\"")
            let stale = try await service.call("PUT", draftPath, key: acme.internalKey, headers: [("If-Match", "\"1\"")], json: Self.body(#"{"name":"Stale"}"#))
            #expect(stale.status == 412, "\(stale.text)")
            let read = try await service.call("GET", draftPath, key: acme.adminKey)
            #expect(read.json["name"] as? String == "Lunch" && (read.json["sections"] as? [Any])?.count == 2 && read.header("ETag") == "\"5\"")

            let allDay = try #require(try await service.call("POST", "/api/v1/menus/drafts", key: acme.internalKey, json: Self.body(
                #"{"name":"All day","sections":[{"name":"Drinks","items":[{"itemCode":"COKE"}]}]}"#)).json["id"] as? String)

            // B already sells a synced menu; its soft-delete is made to fail, after the new menus were written.
            let pushed = try await service.call("POST", "/api/v1/outlets/\(b)/menu", key: acme.partnerKey, json: MenuRoutesTests.body)
            #expect(pushed.status == 200)
            let before = try await service.stores.liveMenus(tenantId: acme.tenant.id, outletId: b).menus.map(\.menuId)
            let sqlStores = try #require(service.stores as? SQLStores)
            _ = try await sqlStores.engine.write { db in
                try db.execute("""
                    CREATE TRIGGER refuse_b BEFORE UPDATE ON outlet_menus WHEN NEW.outlet_id = '\(b)' AND NEW.deleted_at IS NOT NULL
                    BEGIN SELECT RAISE(ABORT, 'refused on purpose'); END
                    """, [])
            }

            let published = try await service.call("POST", "/api/v1/menus/publish", key: acme.internalKey,
                                                    json: Self.body(#"{"draftIds":["\#(lunch)","\#(allDay)"],"outletIds":["\#(a)","\#(b)","\#(c)"]}"#))
            #expect(published.status == 200 && published.json["status"] as? String == "partial", "\(published.text)")
            let outcomes = try #require(published.json["outlets"] as? [[String: Any]])
            #expect(outcomes.map { $0["status"] as? String } == ["published", "failed", "failed"])
            #expect(outcomes[0]["menuIds"] as? [String] == [lunch, allDay] && (outcomes[0]["summary"] as? [String: Any])?["created"] as? Int == 2)
            #expect((outcomes[1]["error"] as? String)?.contains("could not be written") == true && outcomes[1]["summary"] is NSNull)
            #expect((outcomes[2]["error"] as? String)?.contains("no currency") == true)
            #expect(try await service.stores.liveMenus(tenantId: acme.tenant.id, outletId: b).menus.map(\.menuId) == before,
                    "B's transaction rolled back whole: its old menus are live, the new ones are not")

            let log = try await service.call("GET", "/api/v1/menus/publications", key: acme.adminKey)
            let lines = try #require(log.json["publications"] as? [[String: Any]])
            #expect(Set(lines.map { "\($0["outletId"] as? String ?? "")=\($0["status"] as? String ?? "")" }) == ["\(a)=published", "\(b)=failed", "\(c)=failed"])
            #expect(Set(lines.compactMap { $0["publishId"] as? String }) == [published.json["publishId"] as? String])
            #expect((try await service.call("GET", "/api/v1/menus/publications?outletId=\(a)", key: acme.adminKey).json["publications"] as? [Any])?.count == 1)

            // A on Monday 12:00 in Singapore: both menus, in its currency; FRIES at A's own price from products sync.
            let monday = "/api/v1/outlets/\(a)/menu?at=2026-03-16T04:00:00Z"
            let menu = try await service.call("GET", monday, key: acme.partnerKey)
            #expect(Set((menu.json["menus"] as? [[String: Any]] ?? []).compactMap { $0["menuId"] as? String }) == [lunch, allDay], "\(menu.text)")
            #expect(Self.price(menu, "BURGER") == Decimal(string: "12.5") && Self.price(menu, "FRIES") == Decimal(string: "3.5"))
            #expect(Self.price(menu, "COKE", menu: lunch) == Decimal(string: "2.5") && Self.price(menu, "COKE", menu: allDay) == Decimal(string: "2"), "\(menu.text)")
            let burger = Self.items(menu).first { $0["itemCode"] as? String == "BURGER" }
            let options = ((burger?["modifierGroups"] as? [[String: Any]])?.first?["options"] as? [[String: Any]]) ?? []
            #expect(options.map { $0["itemCode"] as? String } == ["CHEESE"])
            // Tuesday: only the all-day menu.
            let tuesday = try await service.call("GET", "/api/v1/outlets/\(a)/menu?at=2026-03-17T04:00:00Z", key: acme.partnerKey)
            #expect((tuesday.json["menus"] as? [[String: Any]])?.map { $0["menuId"] as? String } == [allDay])

            // A new outlet price from products sync changes the read (and its ETag) without a publish.
            let etag = try #require(menu.header("ETag"))
            let repriced = String(decoding: Self.products, as: UTF8.self).replacingOccurrences(of: #""OUTLET_A","price":3.5"#, with: #""\#(a)","price":3.75"#)
            #expect(try await service.call("POST", "/api/v1/products/sync", key: acme.partnerKey, json: Array(repriced.utf8)).status == 200)
            let after = try await service.call("GET", monday, key: acme.partnerKey, headers: [("If-None-Match", etag)])
            #expect(after.status == 200 && Self.price(after, "FRIES") == Decimal(string: "3.75"), "\(after.text)")

            // Without outletIds each draft goes to its own targets: Lunch to A and B (B works again); A loses All day.
            _ = try await sqlStores.engine.write { db in try db.execute("DROP TRIGGER refuse_b", []) }
            let again = try await service.call("POST", "/api/v1/menus/publish", key: acme.internalKey, json: Self.body(#"{"draftIds":["\#(lunch)"]}"#))
            #expect(again.json["status"] as? String == "published", "\(again.text)")
            let second = try #require(again.json["outlets"] as? [[String: Any]])
            #expect(second.map { $0["outletId"] as? String } == [a, b])
            #expect((second[0]["summary"] as? [String: Any]).map { "\($0["unchanged"] ?? "")/\($0["deleted"] ?? "")" } == "1/1")
            #expect(try await service.stores.liveMenus(tenantId: acme.tenant.id, outletId: b).menus.map(\.menuId) == [lunch])

            // Other tenants: no drafts to see or publish, no outlet of acme's to publish to.
            let other = try await service.tenant("other")
            #expect(try await service.call("GET", draftPath, key: other.internalKey).status == 404)
            #expect(try await service.call("POST", "/api/v1/menus/publish", key: other.internalKey, json: Self.body(#"{"draftIds":["\#(lunch)"]}"#)).status == 404)
            let otherDraft = try #require(try await service.call("POST", "/api/v1/menus/drafts", key: other.internalKey,
                                                                 json: Self.body(#"{"name":"Theirs"}"#)).json["id"] as? String)
            let intoAcme = try await service.call("POST", "/api/v1/menus/publish", key: other.internalKey,
                                                  json: Self.body(#"{"draftIds":["\#(otherDraft)"],"outletIds":["\#(a)"]}"#))
            #expect(intoAcme.json["status"] as? String == "failed" && ((intoAcme.json["outlets"] as? [[String: Any]])?.first?["error"] as? String)?.contains("no outlet") == true)
            #expect(try await service.call("GET", "/api/v1/menus/publications", key: other.adminKey).json["publications"] as? [Any] != nil)

            // Deleting a draft leaves what it published live.
            #expect(try await service.call("DELETE", draftPath, key: acme.internalKey).status == 204)
            #expect(try await service.call("DELETE", draftPath, key: acme.internalKey).status == 404)
            #expect(try await service.stores.liveMenus(tenantId: acme.tenant.id, outletId: a).menus.map(\.menuId) == [lunch])
        }
    }

    @Test("a price its outlet's currency cannot charge fails that outlet only, naming the item")
    func currencyPrecision() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let yen = try #require(try await service.call("POST", "/api/v1/outlets", key: acme.adminKey,
                                                          json: CatalogTests.outletBody(name: "Tokyo", extra: #","currency":"JPY""#)).json["id"] as? String)
            let euro = try #require(try await service.call("POST", "/api/v1/outlets", key: acme.adminKey,
                                                           json: CatalogTests.outletBody(name: "Berlin", extra: #","currency":"EUR""#)).json["id"] as? String)
            #expect(try await service.call("POST", "/api/v1/products/sync", key: acme.partnerKey, json: Self.products).status == 200)
            let draft = try #require(try await service.call("POST", "/api/v1/menus/drafts", key: acme.internalKey, json: Self.body(
                #"{"name":"Lunch","sections":[{"name":"Mains","items":[{"itemCode":"BURGER"}]}]}"#)).json["id"] as? String)
            let reply = try await service.call("POST", "/api/v1/menus/publish", key: acme.internalKey,
                                               json: Self.body(#"{"draftIds":["\#(draft)"],"outletIds":["\#(yen)","\#(euro)"]}"#))
            let outcomes = try #require(reply.json["outlets"] as? [[String: Any]])
            #expect(outcomes.map { $0["status"] as? String } == ["failed", "published"], "\(reply.text)")
            #expect((outcomes[0]["error"] as? String)?.contains("BURGER costs 12.5, which JPY cannot charge") == true, "\(reply.text)")
        }
    }

    @Test("per-outlet menu calls on a provider's behalf need the outlet mapped to it")
    func providerGuard() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let outletId = try await CatalogTests.createOutlet(service, key: acme.partnerKey)
            let path = "/api/v1/outlets/\(outletId)/menu"
            for (method, route, body) in [("GET", path, nil), ("POST", path, MenuRoutesTests.body),
                                          ("POST", "/api/v1/outlets/\(outletId)/items/snooze", Self.body(#"{"items":[{"itemCode":"X","snoozeEnd":null}]}"#))] {
                let reply = try await service.call(method, route, key: acme.partnerKey, headers: [("X-Provider", "revel")], json: body)
                #expect(reply.status == 403 && reply.error["field"] as? String == "X-Provider", "\(method) \(route) → \(reply.text)")
                let asPlatform = try await service.call(method, route, key: acme.partnerKey, headers: [("X-Provider", "cata")], json: body)
                #expect(asPlatform.status == 200, "\(method) \(route) → \(asPlatform.text)")
            }
        }
    }

    @Test("the cached read follows the outlet: closing it or marking it busy shows at once, with a new ETag")
    func readFollowsOutletState() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let outletId = try await CatalogTests.createOutlet(service, key: acme.partnerKey)
            let path = "/api/v1/outlets/\(outletId)/menu"
            #expect(try await service.call("POST", path, key: acme.partnerKey, json: MenuRoutesTests.body).status == 200)
            let open = try await service.call("GET", path, key: acme.partnerKey)
            #expect(open.json["isOpen"] as? Bool == true && open.json["isBusy"] as? Bool == false)
            let etag = try #require(open.header("ETag"))
            #expect(try await service.call("PATCH", "/api/v1/outlets/\(outletId)/status", key: acme.partnerKey, json: Self.body(#"{"status":"CLOSED"}"#)).status == 200)
            let closed = try await service.call("GET", path, key: acme.partnerKey, headers: [("If-None-Match", etag)])
            #expect(closed.status == 200 && closed.json["isOpen"] as? Bool == false && closed.header("ETag") != etag, "\(closed.text)")
            #expect(try await service.call("PATCH", "/api/v1/outlets/\(outletId)/busy", key: acme.partnerKey, json: Self.body(#"{"isBusy":true}"#)).status == 200)
            #expect(try await service.call("GET", path, key: acme.partnerKey).json["isBusy"] as? Bool == true)
            #expect(try await service.call("GET", "/api/v1/outlets/ghost/menu", key: acme.partnerKey, headers: [("X-Provider", "revel")]).status == 404)
        }
    }

    @Test("a client that takes gzip gets the same answer compressed, the same bytes while the answer is the same; q=0 refuses it")
    func gzip() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let outletId = try await CatalogTests.createOutlet(service, key: acme.partnerKey)
            let path = "/api/v1/outlets/\(outletId)/menu?at=2026-03-16T03:30:00Z"
            #expect(try await service.call("POST", "/api/v1/outlets/\(outletId)/menu", key: acme.partnerKey, json: MenuRoutesTests.body).status == 200)
            let plain = try await service.call("GET", path, key: acme.partnerKey)
            let zipped = try await service.call("GET", path, key: acme.partnerKey, headers: [("Accept-Encoding", "br, gzip;q=0.8")])
            #expect(zipped.status == 200 && zipped.header("Content-Encoding") == "gzip" && zipped.header("Vary") == "Accept-Encoding")
            #expect(zipped.header("ETag") == plain.header("ETag") && zipped.body.count < plain.body.count)
            var buffer = ByteBuffer(bytes: zipped.body)
            let inflated = try buffer.decompress(with: .gzip())
            #expect(Array(buffer: inflated) == plain.body, "the same JSON, byte for byte")
            let again = try await service.call("GET", path, key: acme.partnerKey, headers: [("Accept-Encoding", "gzip")])
            #expect(again.body == zipped.body)
            let refused = try await service.call("GET", path, key: acme.partnerKey, headers: [("Accept-Encoding", "gzip;q=0, identity")])
            #expect(refused.header("Content-Encoding") == nil && refused.body == plain.body)
        }
    }
}
