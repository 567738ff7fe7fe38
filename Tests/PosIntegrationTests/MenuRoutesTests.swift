import Foundation
import PosDomain
import Testing

@Suite("Outlet menus over HTTP")
struct MenuRoutesTests {
    static let body = Array(OutletMenuTests.fixture.utf8)

    @Test("sync, re-sync unchanged, read at an instant with ETag and 304, snooze, menu.updated out, other tenants see nothing")
    func menus() async throws {
        let receiver = try await WebhookReceiver.start()
        try await withTestService { service in
            let acme = try await service.tenant("acme")
            let outletId = try await CatalogTests.createOutlet(service, key: acme.partnerKey)
            let hook = Array(#"{"outletId":"\#(outletId)","provider":"acme-pos","callbackUrl":"\#(receiver.url)","events":["menu.updated"]}"#.utf8)
            #expect(try await service.call("POST", "/api/v1/webhooks/register", key: acme.adminKey, json: hook).status == 201)
            let path = "/api/v1/outlets/\(outletId)/menu"

            let synced = try await service.call("POST", path, key: acme.partnerKey, json: Self.body)
            #expect(synced.status == 200, "\(synced.text)")
            #expect(synced.json["status"] as? String == "synced" && (synced.json["summary"] as? [String: Any])?["created"] as? Int == 2)
            let again = try await service.call("POST", path, key: acme.partnerKey, json: Self.body)
            #expect(again.json["status"] as? String == "unchanged" && (again.json["summary"] as? [String: Any])?["unchanged"] as? Int == 2)

            // Monday 11:30 in Singapore: the delivery menu.
            let read = try await service.call("GET", "\(path)?at=2026-03-16T03:30:00Z", key: acme.partnerKey)
            #expect(read.status == 200)
            let menus = try #require(read.json["menus"] as? [[String: Any]])
            #expect(menus.map { $0["menuId"] as? String } == ["m-delivery"])
            let etag = try #require(read.header("ETag"))
            let cached = try await service.call("GET", "\(path)?at=2026-03-16T03:31:00Z", key: acme.internalKey, headers: [("If-None-Match", etag)])
            #expect(cached.status == 304 && cached.body.isEmpty)

            let snoozed = try await service.call("POST", "/api/v1/outlets/\(outletId)/items/snooze", key: acme.partnerKey,
                                                 json: Array(#"{"items":[{"itemCode":"SKU-BURGER-01","snoozeEnd":"2026-03-16T04:00:00Z"},{"itemCode":"mo-extra-cheese","snoozeEnd":null}]}"#.utf8))
            #expect(snoozed.status == 200 && snoozed.json["itemsUpdated"] as? Int == 1 && snoozed.json["modifierOptionsUpdated"] as? Int == 1, "\(snoozed.text)")
            let afterSnooze = try await service.call("GET", "\(path)?at=2026-03-16T03:31:00Z", key: acme.internalKey, headers: [("If-None-Match", etag)])
            #expect(afterSnooze.status == 200, "a snooze changes what the outlet sells")
            let burger = try #require(((afterSnooze.json["menus"] as? [[String: Any]])?.first?["categories"] as? [[String: Any]])?.first?["items"] as? [[String: Any]]).first
            #expect(burger?["available"] as? Bool == false && burger?["snoozeEnd"] as? String == "2026-03-16T04:00:00.000Z")
            let woken = try await service.call("GET", "\(path)?at=2026-03-16T04:00:00Z", key: acme.internalKey)
            let burgerLater = try #require(((woken.json["menus"] as? [[String: Any]])?.first?["categories"] as? [[String: Any]])?.first?["items"] as? [[String: Any]]).first
            #expect(burgerLater?["available"] as? Bool == true, "the snooze ended by itself")

            // Two changes (the sync, the snooze) went out as menu.updated; the unchanged re-sync did not.
            #expect(await service.events.attempts(ofDifferentDeliveries: 2) { $0.transition.status == .delivered }.count == 2)
            #expect(receiver.received.count == 2)
            #expect(receiver.received.allSatisfy { $0.header("X-Cata-Event") == "menu.updated" })

            let bad = try await service.call("POST", path, key: acme.partnerKey, json: Array(#"[{"menuId":"a","menu":"M","menuType":9}]"#.utf8))
            #expect(bad.status == 400 && bad.error["field"] as? String == "[0].menuType")
            #expect(try await service.call("GET", "\(path)?at=yesterday", key: acme.partnerKey).error["field"] as? String == "at")
            #expect(try await service.call("GET", "/api/v1/outlets/nope/menu", key: acme.partnerKey).status == 404)

            let other = try await service.tenant("other")
            #expect(try await service.call("GET", path, key: other.partnerKey).status == 404)
            #expect(try await service.call("POST", path, key: other.partnerKey, json: Self.body).status == 404)
            #expect(try await service.call("POST", "/api/v1/outlets/\(outletId)/items/snooze", key: other.partnerKey,
                                           json: Array(#"{"items":[{"itemCode":"X","snoozeEnd":null}]}"#.utf8)).status == 404)
        }
        await receiver.stop()
    }

    @Test("a menu import from each POS double runs as a job and ends in its products and the outlet's menu", arguments: ["revel", "oktopos", "desibits"])
    func importMenu(_ slug: String) async throws {
        try await ConnectorDispatchTests.withRig { rig in
            let service = rig.service
            let outletId = try #require(try await service.call("POST", "/api/v1/outlets", key: rig.keys.adminKey, json: CatalogTests.outletBody(
                name: "Import \(slug)", extra: #","currency":"SGD""#)).json["id"] as? String)
            try await rig.connect(slug, outletId: outletId)
            let started = try await service.call("POST", "/api/v1/provider-connections/\(slug)/import", key: rig.keys.adminKey,
                                                 json: Array(#"{"outletId":"\#(outletId)"}"#.utf8))
            #expect(started.status == 202, "\(started.text)")
            let jobId = try #require(started.json["jobId"] as? String)
            let done = await service.events.first(timeoutSeconds: 20) { $0.attempt.deliveryId == jobId }
            #expect(done?.transition.status == .delivered, "\(String(describing: done))")
            let job = try await service.call("GET", "/api/v1/jobs/\(jobId)", key: rig.keys.adminKey)
            #expect(job.json["status"] as? String == "delivered" && job.json["event"] as? String == "pos.import_menu")

            let products = try await service.call("GET", "/api/v1/products?limit=200", key: rig.keys.adminKey, headers: [("X-Provider", slug)])
            let codes = Set(((products.json["products"] as? [[String: Any]]) ?? []).compactMap { $0["itemCode"] as? String })
            #expect(codes.contains("SKU-BURGER-01") && codes.contains("SKU-FRIES-01"), "\(products.text)")
            let menu = try await service.call("GET", "/api/v1/outlets/\(outletId)/menu", key: rig.keys.internalKey)
            let items = ((menu.json["menus"] as? [[String: Any]])?.first?["categories"] as? [[String: Any]] ?? []).flatMap { $0["items"] as? [[String: Any]] ?? [] }
            #expect(items.contains { $0["itemCode"] as? String == "SKU-BURGER-01" && $0["available"] as? Bool == true }, "\(menu.text)")

            // Importing again changes nothing.
            let again = try await service.call("POST", "/api/v1/provider-connections/\(slug)/import", key: rig.keys.adminKey,
                                               json: Array(#"{"outletId":"\#(outletId)"}"#.utf8))
            let secondId = try #require(again.json["jobId"] as? String)
            let second = await service.events.first(timeoutSeconds: 20) { $0.attempt.deliveryId == secondId }
            #expect(second?.attempt.responseExcerpt?.contains("menu unchanged") == true, "\(String(describing: second))")
        }
    }

    @Test("an import needs a provider that can import, an outlet mapped to it; other tenants' jobs are invisible")
    func importRefusals() async throws {
        try await ConnectorDispatchTests.withRig { rig in
            let service = rig.service
            let outletId = try #require(try await service.call("POST", "/api/v1/outlets", key: rig.keys.adminKey, json: CatalogTests.outletBody(
                name: "Unmapped", extra: #","currency":"SGD""#)).json["id"] as? String)
            let body = Array(#"{"outletId":"\#(outletId)"}"#.utf8)
            let unmapped = try await service.call("POST", "/api/v1/provider-connections/revel/import", key: rig.keys.adminKey, json: body)
            #expect(unmapped.status == 400 && unmapped.error["field"] as? String == "outletId")
            #expect(try await service.call("POST", "/api/v1/provider-connections/nobody/import", key: rig.keys.adminKey, json: body).status == 404)
            let missing = try await service.call("POST", "/api/v1/provider-connections/revel/import", key: rig.keys.adminKey,
                                                 json: Array(#"{"outletId":"ghost"}"#.utf8))
            #expect(missing.status == 400 && missing.error["field"] as? String == "outletId")
            #expect(try await service.call("GET", "/api/v1/jobs/unknown", key: rig.keys.adminKey).status == 404)
        }
    }
}
