import Foundation
import PosDomain
import PosServices
import Testing

@Suite("Catalog: outlets and products")
struct CatalogTests {
    static func body(_ json: String) -> [UInt8] { Array(json.utf8) }

    static func outletBody(name: String, externalId: String? = nil, extra: String = "") -> [UInt8] {
        let external = externalId.map { #","externalId":"\#($0)""# } ?? ""
        return body(#"{"name":"\#(name)","timezone":"Asia/Singapore"\#(external)\#(extra)}"#)
    }

    /// Creates an outlet through the API; returns its id.
    static func createOutlet(_ service: TestService, key: String, name: String = "Downtown Branch", externalId: String? = nil) async throws -> String {
        let reply = try await service.call("POST", "/api/v1/outlets", key: key, json: outletBody(name: name, externalId: externalId))
        #expect(reply.status == 201, "\(reply.text)")
        return try #require(reply.json["id"] as? String, "\(reply.text)")
    }

    static func rfc3339(inSeconds seconds: Double) -> String {
        RFC3339.format(milliseconds: Int64((Date().timeIntervalSince1970 + seconds) * 1000))
    }

    // MARK: Outlets

    @Test("create answers 201 with the Outlet object; list pages with a cursor; get finds it; another tenant sees nothing")
    func createListGet() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let other = try await service.tenant("other")
            let created = try await service.call("POST", "/api/v1/outlets", key: acme.partnerKey, json: Self.outletBody(
                name: "Orchard Rd #2", externalId: "pos-1",
                extra: #","contact":"+65 6123 4567","visible":false,"openingHours":[{"dayOfWeek":1,"openTime":"08:00","closeTime":"22:00"}]"#))
            #expect(created.status == 201, "\(created.text)")
            let outlet = created.json
            #expect(outlet["status"] as? String == "OPEN" && outlet["isOpen"] as? Bool == true && outlet["isBusy"] as? Bool == false)
            #expect(outlet["slug"] as? String == "orchard-rd-2" && outlet["provider"] as? String == "cata" && outlet["externalId"] as? String == "pos-1")
            #expect(outlet["contact"] as? String == "+65 6123 4567" && outlet["visible"] as? Bool == false)
            #expect(outlet["timezone"] as? String == "Asia/Singapore" && (outlet["openingHours"] as? [Any])?.count == 1)
            #expect(outlet["createdAt"] as? String != nil && outlet.keys.contains("channelLinkId"))
            let id = try #require(outlet["id"] as? String)
            let second = try await Self.createOutlet(service, key: acme.adminKey, name: "Marina")

            let duplicate = try await service.call("POST", "/api/v1/outlets", key: acme.partnerKey, json: Self.outletBody(name: "Again", externalId: "pos-1"))
            #expect(duplicate.status == 409, "\(duplicate.text)")

            // Oldest first (two created in the same millisecond are ordered by id).
            let first = try await service.call("GET", "/api/v1/outlets?limit=1", key: acme.internalKey)
            #expect(first.status == 200)
            let firstIds = (first.json["outlets"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            let cursor = try #require(first.json["nextCursor"] as? String)
            let next = try await service.call("GET", "/api/v1/outlets?limit=1&cursor=\(cursor)", key: acme.internalKey)
            let nextIds = (next.json["outlets"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(firstIds.count == 1 && nextIds.count == 1 && Set(firstIds + nextIds) == [id, second])
            let last = try await service.call("GET", "/api/v1/outlets?limit=1&cursor=\(try #require(next.json["nextCursor"] as? String))", key: acme.internalKey)
            #expect((last.json["outlets"] as? [Any])?.isEmpty == true && last.json["nextCursor"] is NSNull)
            #expect(try await service.call("GET", "/api/v1/outlets?cursor=nonsense", key: acme.internalKey).error["field"] as? String == "cursor")

            let got = try await service.call("GET", "/api/v1/outlets/\(id)", key: acme.partnerKey)
            #expect(got.status == 200 && got.json["name"] as? String == "Orchard Rd #2")

            #expect((try await service.call("GET", "/api/v1/outlets", key: other.partnerKey).json["outlets"] as? [Any])?.isEmpty == true)
            #expect(try await service.call("GET", "/api/v1/outlets/\(id)", key: other.partnerKey).status == 404)
            #expect(try await service.call("PATCH", "/api/v1/outlets/\(id)/status", key: other.partnerKey,
                                           json: Self.body(#"{"status":"CLOSED"}"#)).status == 404)
            #expect(try await service.call("GET", "/api/v1/outlets/\(id)", key: acme.partnerKey).json["status"] as? String == "OPEN")
        }
    }

    @Test("outlet bodies: timezone must be an IANA name, contact a string or an object, address the known fields; paths name the field",
          arguments: [
              (#"{"name":"A","timezone":"SGT"}"#, "timezone"),
              (#"{"name":"A","timezone":"Mars/Olympus_Mons"}"#, "timezone"),
              (#"{"name":"A"}"#, "timezone"),
              (#"{"timezone":"UTC"}"#, "name"),
              (#"{"name":"A","timezone":"UTC","contact":42}"#, "contact"),
              (#"{"name":"A","timezone":"UTC","contact":{"phone":7}}"#, "contact.phone"),
              (#"{"name":"A","timezone":"UTC","address":{"street1":"1 Main St","floor":3}}"#, "address.floor"),
              (#"{"name":"A","timezone":"UTC","address":{"latitude":91.5}}"#, "address.latitude"),
              (#"{"name":"A","timezone":"UTC","openingHours":[{"dayOfWeek":8,"openTime":"08:00","closeTime":"10:00"}]}"#, "openingHours[0].dayOfWeek"),
              (#"{"name":"A","timezone":"UTC","openingHours":[{"dayOfWeek":1,"openTime":"8am","closeTime":"10:00"}]}"#, "openingHours[0].openTime"),
              (#"{"name":"A","timezone":"UTC","currency":"XYZ"}"#, "currency"),
              (#"{"name":"A","timezone":"UTC","imageUrl":"ftp://x"}"#, "imageUrl"),
              (#"{"name":"A","timezone":"UTC","colour":"red"}"#, "colour"),
          ])
    func outletValidation(_ json: String, _ field: String) async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let reply = try await service.call("POST", "/api/v1/outlets", key: acme.partnerKey, json: Self.body(json))
            #expect(reply.status == 400, "\(reply.text)")
            #expect(reply.error["field"] as? String == field, "\(reply.text)")
            #expect((try await service.call("GET", "/api/v1/outlets", key: acme.partnerKey).json["outlets"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("sync upserts by externalId (created, then updated), links a same-named outlet without one, keeps contact string or object and exact coordinates")
    func sync() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let address = #"{"street1":"1 Orchard Rd","street2":null,"city":"Singapore","stateProvince":"SG","postalCode":"238801","country":"SG","latitude":1.30412345678901234,"longitude":103.8318}"#
            let body = Self.body(#"{"externalId":"loc-77","name":"Orchard","timezone":"Asia/Singapore","address":\#(address),"contact":{"phone":"+65 1","email":"o@acme.test"},"channelLinkId":"cl-1","currency":"SGD"}"#)
            let created = try await service.call("POST", "/api/v1/outlets/sync", key: acme.partnerKey, json: body)
            #expect(created.status == 200, "\(created.text)")
            #expect(created.json["action"] as? String == "created")
            #expect(created.text.contains(#""latitude":1.30412345678901234"#), "coordinates keep their digits: \(created.text)")
            let outlet = try #require(created.json["outlet"] as? [String: Any])
            #expect((outlet["contact"] as? [String: Any])?["email"] as? String == "o@acme.test" && outlet["currency"] as? String == "SGD")

            let again = try await service.call("POST", "/api/v1/outlets/sync", key: acme.partnerKey, json: body)
            #expect(again.json["action"] as? String == "updated")
            let same = try #require(again.json["outlet"] as? [String: Any])
            #expect(same["id"] as? String == outlet["id"] as? String && same["updatedAt"] as? String == outlet["updatedAt"] as? String,
                    "the same body changes nothing")

            let renamed = try await service.call("POST", "/api/v1/outlets/sync", key: acme.partnerKey,
                                                 json: Self.body(#"{"externalId":"loc-77","name":"Orchard Central","timezone":"Asia/Singapore","contact":"o@acme.test"}"#))
            let changed = try #require(renamed.json["outlet"] as? [String: Any])
            #expect(renamed.json["action"] as? String == "updated" && changed["id"] as? String == outlet["id"] as? String)
            #expect(changed["name"] as? String == "Orchard Central" && changed["contact"] as? String == "o@acme.test")
            #expect((changed["address"] as? [String: Any])?["city"] as? String == "Singapore", "a field left out keeps its value")

            // Map mode: an outlet made by hand, then synced by name, is linked rather than duplicated.
            let manual = try await Self.createOutlet(service, key: acme.adminKey, name: "Marina Bay")
            let linked = try await service.call("POST", "/api/v1/outlets/sync", key: acme.partnerKey, json: Self.outletBody(name: "Marina Bay", externalId: "loc-88"))
            #expect(linked.json["action"] as? String == "updated", "\(linked.text)")
            let linkedOutlet = try #require(linked.json["outlet"] as? [String: Any])
            #expect(linkedOutlet["id"] as? String == manual && linkedOutlet["externalId"] as? String == "loc-88")
            let all = try #require(try await service.call("GET", "/api/v1/outlets", key: acme.partnerKey).json["outlets"] as? [[String: Any]])
            #expect(all.count == 2)

            let missing = try await service.call("POST", "/api/v1/outlets/sync", key: acme.partnerKey, json: Self.outletBody(name: "No id"))
            #expect(missing.status == 400 && missing.error["field"] as? String == "externalId")
            let numeric = try await service.call("POST", "/api/v1/outlets/sync", key: acme.partnerKey,
                                                 json: Self.body(#"{"externalId":456,"name":"Numbered","timezone":"UTC"}"#))
            #expect((numeric.json["outlet"] as? [String: Any])?["externalId"] as? String == "456", "\(numeric.text)")
        }
    }

    // MARK: Status and busy

    @Test("status and busy changes go out as outlet.updated to the outlet's subscribed webhook; the same state again sends nothing")
    func stateEventsDelivered() async throws {
        let receiver = try await WebhookReceiver.start()
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let outletId = try await Self.createOutlet(service, key: acme.partnerKey)
            let registered = try await service.call("POST", "/api/v1/webhooks/register", key: acme.partnerKey, json: Self.body(
                #"{"outletId":"\#(outletId)","provider":"acme-pos","callbackUrl":"\#(receiver.url)","events":["outlet.updated"]}"#))
            let secret = try #require((registered.json["webhook"] as? [String: Any])?["secret"] as? String, "\(registered.text)")
            let path = "/api/v1/outlets/\(outletId)"

            let closed = try await service.call("PATCH", "\(path)/status", key: acme.internalKey, json: Self.body(#"{"status":"CLOSED","reason":"storm"}"#))
            #expect(closed.status == 200, "\(closed.text)")
            #expect(closed.json["status"] as? String == "CLOSED" && closed.json["isOpen"] as? Bool == false)
            let repeated = try await service.call("PATCH", "\(path)/status", key: acme.partnerKey, json: Self.body(#"{"status":"CLOSED"}"#))
            #expect(repeated.status == 200 && repeated.json["status"] as? String == "CLOSED")
            let until = Self.rfc3339(inSeconds: 3_600)
            let busy = try await service.call("PATCH", "\(path)/busy", key: acme.adminKey, json: Self.body(#"{"isBusy":true,"busyUntil":"\#(until)"}"#))
            #expect(busy.status == 200 && busy.json["isBusy"] as? Bool == true && busy.json["busyUntil"] as? String != nil, "\(busy.text)")

            let past = try await service.call("PATCH", "\(path)/busy", key: acme.adminKey,
                                              json: Self.body(#"{"isBusy":true,"busyUntil":"\#(Self.rfc3339(inSeconds: -60))"}"#))
            #expect(past.status == 400 && past.error["field"] as? String == "busyUntil")
            let untilWhenFree = try await service.call("PATCH", "\(path)/busy", key: acme.adminKey, json: Self.body(#"{"isBusy":false,"busyUntil":"\#(until)"}"#))
            #expect(untilWhenFree.status == 400 && untilWhenFree.error["field"] as? String == "busyUntil")
            let badStatus = try await service.call("PATCH", "\(path)/status", key: acme.adminKey, json: Self.body(#"{"status":"SHUT"}"#))
            #expect(badStatus.status == 400 && badStatus.error["field"] as? String == "status")

            // Two changes, two deliveries: the repeat and the refused ones sent nothing.
            #expect(await service.events.attempts(ofDifferentDeliveries: 2) { $0.transition.status == .delivered }.count == 2)
            let received = receiver.received
            #expect(received.count == 2)
            #expect(received.allSatisfy { $0.header("X-Cata-Event") == "outlet.updated" })
            let webhookSecret = try #require(WebhookSecret(encoded: secret))
            for request in received {
                #expect(request.header("X-Cata-Signature") == WebhookSigning.cataSignature(body: request.body, secret: webhookSecret))
            }
            let bodies = received.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any] }
            let statusEvent = try #require(bodies.first { $0["change"] as? String == "status" })
            #expect(statusEvent["outletId"] as? String == outletId && statusEvent["reason"] as? String == "storm")
            #expect((statusEvent["outlet"] as? [String: Any])?["status"] as? String == "CLOSED")
            let busyEvent = try #require(bodies.first { $0["change"] as? String == "busy" })
            #expect((busyEvent["outlet"] as? [String: Any])?["isBusy"] as? Bool == true && busyEvent["reason"] is NSNull)
        }
        await receiver.stop()
    }

    @Test("a dispatch to a CLOSED outlet is accepted and says so in reason; once reopened it does not")
    func dispatchToClosedOutlet() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let outletId = try await Self.createOutlet(service, key: acme.partnerKey)
            _ = try await service.call("PATCH", "/api/v1/outlets/\(outletId)/status", key: acme.internalKey, json: Self.body(#"{"status":"CLOSED"}"#))
            let closed = try await service.dispatch(Fixtures.dispatchBody(order: Fixtures.order(uuid: "closed-1"), outletId: outletId), key: acme.internalKey)
            #expect(closed.status == 200 && closed.json["isSuccess"] as? Bool == true)
            #expect(closed.json["reason"] as? String == DispatchService.noTargetReason + DispatchService.closedOutletNote, "\(closed.text)")

            _ = try await service.call("PATCH", "/api/v1/outlets/\(outletId)/status", key: acme.internalKey, json: Self.body(#"{"status":"OPEN"}"#))
            let open = try await service.dispatch(Fixtures.dispatchBody(order: Fixtures.order(uuid: "open-1"), outletId: outletId), key: acme.internalKey)
            #expect(open.json["reason"] as? String == DispatchService.noTargetReason, "\(open.text)")
            // An outlet the catalogue does not know changes nothing either.
            let unknown = try await service.dispatch(Fixtures.dispatchBody(order: Fixtures.order(uuid: "unknown-1"), outletId: "not-in-catalogue"),
                                                     key: acme.internalKey)
            #expect(unknown.json["reason"] as? String == DispatchService.noTargetReason)
        }
    }

    // MARK: X-Provider

    @Test("X-Provider: a tenant-wide call needs the provider's connection, a per-outlet call the outlet's mapping; cata always passes")
    func providerGuard() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let revel = [("X-Provider", "revel")]
            let sync = try await service.call("POST", "/api/v1/outlets/sync", key: acme.partnerKey, headers: revel,
                                              json: Self.outletBody(name: "Revel One", externalId: "456"))
            #expect(sync.status == 403 && sync.error["field"] as? String == "X-Provider", "\(sync.text)")
            let products = try await service.call("POST", "/api/v1/products/sync", key: acme.partnerKey, headers: revel, json: Self.body(#"{"products":[]}"#))
            #expect(products.status == 403 && products.error["field"] as? String == "X-Provider")
            #expect(try await service.call("GET", "/api/v1/products", key: acme.partnerKey, headers: revel).status == 403)
            let cata = try await service.call("POST", "/api/v1/outlets/sync", key: acme.partnerKey, headers: [("X-Provider", "cata")],
                                              json: Self.outletBody(name: "Platform", externalId: "p-1"))
            #expect(cata.status == 200)
            let malformed = try await service.call("GET", "/api/v1/outlets", key: acme.partnerKey, headers: [("X-Provider", "Revel POS")])
            #expect(malformed.status == 400 && malformed.error["field"] as? String == "X-Provider")

            let connected = try await service.call("PUT", "/api/v1/provider-connections/revel", key: acme.adminKey, json: Self.body(
                #"{"apiKey":"k","apiSecret":"s","baseUrl":"https://acme.revelup.test"}"#))
            #expect(connected.status == 200, "\(connected.text)")
            let synced = try await service.call("POST", "/api/v1/outlets/sync", key: acme.partnerKey, headers: revel,
                                                json: Self.outletBody(name: "Revel One", externalId: "456"))
            #expect(synced.status == 200 && (synced.json["outlet"] as? [String: Any])?["provider"] as? String == "revel", "\(synced.text)")
            let outletId = try #require((synced.json["outlet"] as? [String: Any])?["id"] as? String)
            let listed = try #require(try await service.call("GET", "/api/v1/outlets", key: acme.partnerKey, headers: revel).json["outlets"] as? [[String: Any]])
            #expect(listed.map { $0["id"] as? String } == [outletId], "X-Provider lists that provider's outlets")

            // Per outlet: connected is not enough, the outlet must be mapped to the provider.
            let unmapped = try await service.call("PATCH", "/api/v1/outlets/\(outletId)/status", key: acme.partnerKey, headers: revel,
                                                  json: Self.body(#"{"status":"CLOSED"}"#))
            #expect(unmapped.status == 403 && unmapped.error["field"] as? String == "X-Provider", "\(unmapped.text)")
            let mapped = try await service.call("PUT", "/api/v1/outlet-providers/\(outletId)", key: acme.adminKey, json: Self.body(
                #"{"providerSlug":"revel","externalId":"456","settings":\#(Fixtures.connectorSettings["revel"]!)}"#))
            #expect(mapped.status == 200, "\(mapped.text)")
            let allowed = try await service.call("PATCH", "/api/v1/outlets/\(outletId)/status", key: acme.partnerKey, headers: revel,
                                                 json: Self.body(#"{"status":"CLOSED"}"#))
            #expect(allowed.status == 200 && allowed.json["status"] as? String == "CLOSED")
            #expect(try await service.call("GET", "/api/v1/outlets/\(outletId)", key: acme.partnerKey, headers: [("X-Provider", "oktopos")]).status == 403)
        }
    }

    // MARK: Products

    static let products = """
        {"products":[
          {"itemCode":"BURGER","name":"Classic Burger","price":12.50,"type":"single","category":"Mains",
           "outletPrices":[{"outletId":"outlet-1","price":13}],
           "modifierGroups":[{"code":"cheese","name":"Cheese","min":0,"max":2,"options":[
             {"itemCode":"CHEESE-X","name":"Extra cheese","price":1.5},{"itemCode":"CHEESE-B","name":"Blue cheese","price":2}]}]},
          {"itemCode":"MEAL","name":"Burger meal","price":18,"type":"bundle","sections":[
             {"name":"Main","min":1,"max":1,"items":[{"itemCode":"BURGER"}]},
             {"name":"Drink","min":1,"max":1,"items":[{"itemCode":"COLA","price":0.5},{"itemCode":"TEA"}]}]},
          {"itemCode":"COFFEE","name":"Coffee","description":"Fresh","price":3.2,"type":"variant","variants":[
             {"itemCode":"COFFEE-S","name":"Small","price":3.2},{"itemCode":"COFFEE-L","name":"Large","price":4.0}]}
        ]}
        """

    @Test("products sync is a full replace: create, update by itemCode, soft-delete the absent, un-delete the returning; the same payload again changes nothing")
    func productsFullReplace() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let sync = { (json: String) in try await service.call("POST", "/api/v1/products/sync", key: acme.partnerKey, json: Self.body(json)) }
            let summary = { (reply: TestService.Reply) in reply.json["summary"] as? [String: Int] ?? [:] }

            let first = try await sync(Self.products)
            #expect(first.status == 200, "\(first.text)")
            #expect(summary(first) == ["created": 3, "updated": 0, "deleted": 0, "unchanged": 0])
            let burger = try await service.call("GET", "/api/v1/products/BURGER", key: acme.internalKey)
            #expect(burger.status == 200 && burger.json["provider"] as? String == "cata" && burger.json["deletedAt"] is NSNull)
            #expect(burger.text.contains(#""price":12.5,"#) && burger.text.contains(#"{"itemCode":"CHEESE-X","name":"Extra cheese","price":1.5}"#),
                    "prices are exact, in their shortest form: \(burger.text)")

            // The same products, spelled differently (12.5 for 12.50, 4 for 4.0): nothing changes.
            let respelled = Self.products.replacingOccurrences(of: "12.50", with: "12.5").replacingOccurrences(of: "4.0}", with: "4}")
            let again = try await sync(respelled)
            #expect(summary(again) == ["created": 0, "updated": 0, "deleted": 0, "unchanged": 3], "\(again.text)")
            #expect(try await service.call("GET", "/api/v1/products/BURGER", key: acme.internalKey).json["updatedAt"] as? String
                == burger.json["updatedAt"] as? String)

            let replaced = try await sync("""
                {"products":[{"itemCode":"BURGER","name":"Classic Burger","price":12.9,"type":"single"},
                  {"itemCode":"COFFEE","name":"Coffee","description":"Fresh","price":3.2,"type":"variant","variants":[
                     {"itemCode":"COFFEE-S","name":"Small","price":3.2},{"itemCode":"COFFEE-L","name":"Large","price":4.0}]},
                  {"itemCode":"FRIES","name":"Fries","price":4,"type":"single"}]}
                """)
            #expect(summary(replaced) == ["created": 1, "updated": 1, "deleted": 1, "unchanged": 1], "\(replaced.text)")
            let actions = (replaced.json["products"] as? [[String: String]] ?? []).map { "\($0["itemCode"]!):\($0["action"]!)" }
            #expect(actions == ["BURGER:updated", "COFFEE:unchanged", "FRIES:created", "MEAL:deleted"])
            #expect(try await service.call("GET", "/api/v1/products/MEAL", key: acme.internalKey).status == 404)
            let live = try #require(try await service.call("GET", "/api/v1/products", key: acme.internalKey).json["products"] as? [[String: Any]])
            #expect(Set(live.compactMap { $0["itemCode"] as? String }) == ["BURGER", "COFFEE", "FRIES"])
            let withDeleted = try #require(try await service.call("GET", "/api/v1/products?includeDeleted=true", key: acme.internalKey)
                .json["products"] as? [[String: Any]])
            #expect(withDeleted.first { $0["itemCode"] as? String == "MEAL" }?["deletedAt"] as? String != nil)

            // Changed at or after the third sync, in pages of two: what it wrote (COFFEE was left alone, unless it all ran within one millisecond).
            let since = try #require(try await service.call("GET", "/api/v1/products/FRIES", key: acme.internalKey).json["updatedAt"] as? String)
            let expected = Set(withDeleted.filter { ($0["updatedAt"] as? String ?? "") >= since }.compactMap { $0["itemCode"] as? String })
            #expect(expected.isSuperset(of: ["BURGER", "FRIES", "MEAL"]))
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await service.call("GET", "/api/v1/products?includeDeleted=true&updatedSince=\(since)&limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""),
                                                  key: acme.internalKey)
                let items = try #require(page.json["products"] as? [[String: Any]], "\(page.text)")
                #expect(items.count <= 2)
                seen += items.compactMap { $0["itemCode"] as? String }
                cursor = page.json["nextCursor"] as? String
            } while cursor != nil && seen.count < 10
            #expect(seen.count == expected.count && Set(seen) == expected)

            let back = try await sync(Self.products)
            #expect(summary(back) == ["created": 1, "updated": 1, "deleted": 1, "unchanged": 1], "MEAL returns, FRIES goes: \(back.text)")
            #expect(try await service.call("GET", "/api/v1/products/MEAL", key: acme.internalKey).status == 200)
        }
    }

    @Test("an invalid product is refused naming its path, and nothing of the sync is stored",
          arguments: [
              (#"{"itemCode":"A","name":"A","price":1,"type":"single","modifierGroups":[{"code":"g","name":"G","min":0,"max":1,"options":[{"itemCode":"o1","name":"O","price":1},{"itemCode":"o2","name":"O","price":-1}]}]}"#,
               "products[1].modifierGroups[0].options[1].price"),
              (#"{"itemCode":"A","name":"A","price":1.23456,"type":"single"}"#, "products[1].price"),
              (#"{"itemCode":"A","name":"A","price":"1.50","type":"single"}"#, "products[1].price"),
              (#"{"itemCode":"OK","name":"Again","price":1,"type":"single"}"#, "products[1].itemCode"),
              (#"{"itemCode":"A","name":"A","price":1,"type":"single","modifierGroups":[{"code":"g","name":"G","min":2,"max":1,"options":[{"itemCode":"o","name":"O","price":1}]}]}"#,
               "products[1].modifierGroups[0].min"),
              (#"{"itemCode":"A","name":"A","price":1,"type":"single","modifierGroups":[{"code":"g","name":"G","min":2,"max":3,"options":[{"itemCode":"o","name":"O","price":1}]}]}"#,
               "products[1].modifierGroups[0].min"),
              (#"{"itemCode":"A","name":"A","price":1,"type":"bundle"}"#, "products[1].sections"),
              (#"{"itemCode":"A","name":"A","price":1,"type":"single","variants":[{"itemCode":"v","name":"V","price":1}]}"#, "products[1].variants"),
              (#"{"itemCode":"A","name":"A","price":1,"type":"combo"}"#, "products[1].type"),
              (#"{"itemCode":"A","name":"A","price":1,"type":"single","colour":"red"}"#, "products[1].colour"),
              (#"{"itemCode":"A","name":"A","price":1,"type":"bundle","sections":[{"name":"S","min":0,"max":1,"items":[{"itemCode":"x"},{"itemCode":"x"}]}]}"#,
               "products[1].sections[0].items[1].itemCode"),
              (#"{"itemCode":"A","name":"A","price":1,"type":"single","outletPrices":[{"outletId":"o","price":1.00001}]}"#, "products[1].outletPrices[0].price"),
          ])
    func productFieldPaths(_ second: String, _ field: String) async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let json = #"{"products":[{"itemCode":"OK","name":"Fine","price":1,"type":"single"},\#(second)]}"#
            let reply = try await service.call("POST", "/api/v1/products/sync", key: acme.partnerKey, json: Self.body(json))
            #expect(reply.status == 400, "\(reply.text)")
            #expect(reply.error["field"] as? String == field, "\(reply.text)")
            #expect((try await service.call("GET", "/api/v1/products", key: acme.partnerKey).json["products"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("products are per tenant and per provider: another tenant and another provider see none of them")
    func productIsolation() async throws {
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let other = try await service.tenant("other")
            #expect(try await service.call("POST", "/api/v1/products/sync", key: acme.partnerKey, json: Self.body(Self.products)).status == 200)
            #expect((try await service.call("GET", "/api/v1/products", key: other.partnerKey).json["products"] as? [Any])?.isEmpty == true)
            #expect(try await service.call("GET", "/api/v1/products/BURGER", key: other.partnerKey).status == 404)
            // The other tenant's full replace of its own (empty) catalogue deletes nothing of acme's.
            let empty = try await service.call("POST", "/api/v1/products/sync", key: other.partnerKey, json: Self.body(#"{"products":[]}"#))
            #expect((empty.json["summary"] as? [String: Int])?["deleted"] == 0)
            _ = try await service.call("PUT", "/api/v1/provider-connections/revel", key: acme.adminKey,
                                       json: Self.body(#"{"apiKey":"k","apiSecret":"s","baseUrl":"https://acme.revelup.test"}"#))
            let revel = try await service.call("GET", "/api/v1/products", key: acme.partnerKey, headers: [("X-Provider", "revel")])
            #expect(revel.status == 200 && (revel.json["products"] as? [Any])?.isEmpty == true && revel.json["provider"] as? String == "revel")
            #expect((try await service.call("GET", "/api/v1/products", key: acme.partnerKey).json["products"] as? [Any])?.count == 3)
        }
    }

    @Test("catalogue prices are exact: shortest spelling, four fraction digits at most, never negative")
    func prices() throws {
        #expect(try CatalogPrice(parsing: "12.50").decimalText == "12.5")
        #expect(try CatalogPrice(parsing: "1.25e1").decimalText == "12.5")
        #expect(try CatalogPrice(parsing: "3.0").decimalText == "3")
        #expect(try CatalogPrice(parsing: "0.0001").decimalText == "0.0001")
        #expect(try CatalogPrice(parsing: "-0").decimalText == "0")
        #expect(throws: CatalogPrice.Problem.negative) { try CatalogPrice(parsing: "-1") }
        #expect(throws: CatalogPrice.Problem.tooManyFractionDigits) { try CatalogPrice(parsing: "0.00001") }
        #expect(throws: CatalogPrice.Problem.outOfRange) { try CatalogPrice(parsing: "1e30") }
        let document = Product(itemCode: "A", name: "A", price: try CatalogPrice(parsing: "12.50")).document
        let respelled = Product(itemCode: "A", name: "A", price: try CatalogPrice(parsing: "12.5")).document
        #expect(document == respelled)
    }
}
