import Foundation
import PosDomain
import PosServices
import PosStorage
import Testing

/// The console's webhook, key, outlet, POS connection and loyalty pages, through a signed-in
/// browser's requests: pages render, forms without the CSRF token change nothing, one-time secrets
/// are shown once, third-party text is escaped, and another tenant's things are 404.
@Suite("Console pages")
struct ConsolePagesTests {
    /// A browser signed in to the console: its session cookie and the page's CSRF token.
    struct Browser {
        let service: TestService
        let cookie: String
        let csrf: String

        static func signIn(_ service: TestService, key: String) async throws -> Browser {
            let reply = try await service.call("POST", "/console/sign-in", json: Array(form([("key", key)]).utf8),
                                               contentType: "application/x-www-form-urlencoded")
            #expect(reply.status == 303, "\(reply.text)")
            let setCookie = try #require(reply.header("Set-Cookie"), "no session cookie")
            let cookie = String(setCookie.prefix { $0 != ";" })
            // A tenant admin lands on the overview, an operator on the platform view.
            var page = try await service.call("GET", "/console", headers: [("Cookie", cookie)])
            if page.status == 303, let location = page.header("Location") {
                page = try await service.call("GET", location, headers: [("Cookie", cookie)])
            }
            #expect(page.status == 200, "\(page.text)")
            return Browser(service: service, cookie: cookie, csrf: try #require(csrfToken(page.text), "no CSRF token on the first page"))
        }

        func get(_ path: String) async throws -> TestService.Reply {
            try await service.call("GET", path, headers: [("Cookie", cookie)])
        }

        /// Posts a form, with the session's CSRF token unless `csrf` is false.
        func post(_ path: String, _ fields: [(String, String)] = [], csrf: Bool = true) async throws -> TestService.Reply {
            let all = csrf ? [("_csrf", self.csrf)] + fields : fields
            return try await service.call("POST", path, headers: [("Cookie", cookie)], json: Array(form(all).utf8),
                                          contentType: "application/x-www-form-urlencoded")
        }
    }

    static func form(_ fields: [(String, String)]) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        return fields.map { "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
            .joined(separator: "&")
    }

    static func csrfToken(_ html: String) -> String? {
        guard let start = html.range(of: #"name="_csrf" value=""#) else { return nil }
        let rest = html[start.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    /// The text of the one-time display element.
    static func secretOnce(_ html: String) -> String? {
        guard let start = html.range(of: #"id="secret-once"><code>"#), let end = html[start.upperBound...].range(of: "</code>") else { return nil }
        return String(html[start.upperBound..<end.lowerBound])
    }

    /// A service whose auth cache is off, so a revocation shows at once.
    static func withConsole<T>(_ body: (TestService) async throws -> T) async throws -> T {
        try await withTestService(authCacheTTLMs: 0, body)
    }

    /// A loopback address nothing listens on: pings fail fast, registration still succeeds.
    static let deadURL = "http://127.0.0.1:9/hook"

    // MARK: Webhooks

    @Test("webhooks: list and page render, a hostile provider is escaped, create shows the secret once, no CSRF changes nothing, another tenant's is 404")
    func webhooks() async throws {
        try await Self.withConsole { service in
            let acme = try await service.tenant("acme")
            let other = try await service.tenant("other")
            let hostile = try await service.registerWebhook(outletId: "store-1", url: Self.deadURL, key: acme.adminKey, provider: "<script>alert(1)</script>")
            let foreign = try await service.registerWebhook(outletId: "store-9", url: Self.deadURL, key: other.adminKey)
            let browser = try await Browser.signIn(service, key: acme.adminKey)

            let list = try await browser.get("/console/webhooks")
            #expect(list.status == 200)
            #expect(list.text.contains(#"id="webhooks""#))
            #expect(list.text.contains(#"class="webhook-row"#))
            #expect(list.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!list.text.contains("<script>alert"))
            #expect(!list.text.contains(hostile.secret))
            for event in EventCatalogue.names { #expect(list.text.contains(#"value="\#(event)""#), "event \(event) offered") }

            let page = try await browser.get("/console/webhooks/\(hostile.id)")
            #expect(page.status == 200, "\(page.text)")
            #expect(page.text.contains("&lt;script&gt;") && !page.text.contains("<script>alert"))
            #expect(page.text.contains(#"id="webhook-deliveries""#))
            #expect(try await browser.get("/console/webhooks/\(foreign.id)").status == 404)
            #expect(try await browser.post("/console/webhooks/\(foreign.id)/delete").status == 404)

            // Without the token: refused, nothing registered.
            let fields = [("outletId", "store-2"), ("provider", "acme-pos"), ("callbackUrl", Self.deadURL), ("events[]", "order.paid"),
                          ("events[]", "order.cancelled")]
            let refused = try await browser.post("/console/webhooks", fields, csrf: false)
            #expect(refused.status == 403)
            #expect(try await service.services.webhooks.webhooks(tenant: acme.tenant).count == 1)

            // A form the service cannot take comes back with the values entered.
            let invalid = try await browser.post("/console/webhooks", [("outletId", "store-2"), ("provider", "acme-pos"), ("callbackUrl", Self.deadURL)])
            #expect(invalid.status == 400)
            #expect(invalid.text.contains("events must have at least 1 element") && invalid.text.contains(#"value="store-2""#))

            let created = try await browser.post("/console/webhooks", fields)
            #expect(created.status == 201, "\(created.text)")
            let secret = try #require(Self.secretOnce(created.text))
            #expect(secret.hasPrefix("whsec_"))
            let webhooks = try await service.services.webhooks.webhooks(tenant: acme.tenant)
            let made = try #require(webhooks.first { $0.outletId == "store-2" })
            #expect(made.events == ["order.paid", "order.cancelled"])
            let after = try await browser.get("/console/webhooks")
            let madePage = try await browser.get("/console/webhooks/\(made.id)")
            #expect(!after.text.contains(secret) && !madePage.text.contains(secret))

            // Rotation shows a new secret once; a ping records what it got; edit and delete.
            let rotated = try await browser.post("/console/webhooks/\(made.id)/rotate-secret")
            let newSecret = try #require(Self.secretOnce(rotated.text))
            #expect(newSecret.hasPrefix("whsec_") && newSecret != secret)
            let pinged = try await browser.post("/console/webhooks/\(made.id)/ping")
            #expect(pinged.status == 303 && pinged.header("Location") == "/console/webhooks/\(made.id)?done=ping-failed")
            let edited = try await browser.post("/console/webhooks/\(made.id)", [("callbackUrl", Self.deadURL), ("events[]", "menu.updated"),
                                                                                ("isActive", "false")])
            #expect(edited.status == 303)
            let changed = try await service.services.webhooks.webhook(id: made.id, tenant: acme.tenant)
            #expect(changed.events == ["menu.updated"] && !changed.isActive)
            #expect(try await browser.post("/console/webhooks/\(made.id)/delete").status == 303)
            #expect(try await browser.get("/console/webhooks/\(made.id)").status == 404)
        }
    }

    // MARK: Keys

    @Test("keys: a created key is shown once and works; revoked in the console it stops working; self-revocation is refused with the service's 409")
    func keys() async throws {
        try await Self.withConsole { service in
            _ = try await service.tenant("acme")
            let boss = try await service.admin.createKey(tenant: "acme", scopes: [.internal, .partner, .admin], expiresInDays: nil, name: "boss")
            let browser = try await Browser.signIn(service, key: boss.key)

            let list = try await browser.get("/console/keys")
            #expect(list.status == 200)
            #expect(list.text.contains(#"id="keys""#) && list.text.contains(#"data-key-id="\#(boss.record.apiKeyId)""#))
            #expect(!list.text.contains(boss.key))

            let before = try await service.admin.keys(tenant: "acme").count
            let refused = try await browser.post("/console/keys", [("name", "till"), ("scopes[]", "partner")], csrf: false)
            #expect(refused.status == 403)
            #expect(try await service.admin.keys(tenant: "acme").count == before)

            let invalid = try await browser.post("/console/keys", [("name", "till")])
            #expect(invalid.status == 400 && invalid.text.contains("at least one scope") && invalid.text.contains(#"value="till""#))

            let created = try await browser.post("/console/keys", [("name", "till"), ("scopes[]", "partner"), ("expiresInDays", "30")])
            #expect(created.status == 201, "\(created.text)")
            let key = try #require(Self.secretOnce(created.text))
            #expect(key.hasPrefix("posk_"))
            #expect(created.text.contains("Copy it now"))
            #expect(try await service.call("GET", "/api/v1/auth/whoami", key: key).status == 200)
            let afterList = try await browser.get("/console/keys")
            #expect(!afterList.text.contains(key))
            let record = try #require(try await service.admin.keys(tenant: "acme").first { $0.name == "till" })
            #expect(afterList.text.contains(#"data-key-id="\#(record.apiKeyId)""#))

            let revoked = try await browser.post("/console/keys/\(record.apiKeyId)/revoke")
            #expect(revoked.status == 303)
            #expect(try await service.call("GET", "/api/v1/auth/whoami", key: key).status == 401)

            let itself = try await browser.post("/console/keys/\(boss.record.apiKeyId)/revoke")
            #expect(itself.status == 409)
            #expect(itself.text.contains("a key cannot revoke itself"))

            // Rotation: a new key shown once; the old one keeps working through the overlap.
            let rotated = try await browser.post("/console/keys/\(boss.record.apiKeyId)/rotate", [("overlapHours", "1")])
            #expect(rotated.status == 201, "\(rotated.text)")
            let rotatedKey = try #require(Self.secretOnce(rotated.text))
            #expect(try await service.call("GET", "/api/v1/auth/whoami", key: rotatedKey).status == 200)
            #expect(try await service.call("GET", "/api/v1/auth/whoami", key: boss.key).status == 200)
        }
    }

    @Test("keys: an operator acting in a tenant sees the list read-only and cannot issue a key there")
    func operatorKeys() async throws {
        try await Self.withConsole { service in
            _ = try await service.tenant("acme")
            let operatorKey = try await service.admin.createOperatorKey(name: "ops", expiresInDays: nil)
            let browser = try await Browser.signIn(service, key: operatorKey.key)
            #expect(try await browser.post("/console/act", [("tenant", "acme")]).status == 303)
            let list = try await browser.get("/console/keys")
            #expect(list.status == 200, "\(list.text)")
            #expect(list.text.contains(#"id="keys-read-only""#) && list.text.contains(#"class="key-row"#))
            #expect(!list.text.contains(#"id="create-key""#))
            let before = try await service.admin.keys(tenant: "acme").count
            let refused = try await browser.post("/console/keys", [("name", "sneaky"), ("scopes[]", "admin")])
            #expect(refused.status == 403)
            #expect(try await service.admin.keys(tenant: "acme").count == before)
        }
    }

    // MARK: Outlets

    @Test("outlets: list and page render; busy through the console changes the outlet through the service; no CSRF changes nothing; another tenant's is 404")
    func outlets() async throws {
        try await Self.withConsole { service in
            let acme = try await service.tenant("acme")
            let other = try await service.tenant("other")
            let outletId = try await CatalogTests.createOutlet(service, key: acme.partnerKey, name: "Downtown <b>Branch</b>")
            let foreignId = try await CatalogTests.createOutlet(service, key: other.partnerKey, name: "Elsewhere")
            let browser = try await Browser.signIn(service, key: acme.adminKey)

            let list = try await browser.get("/console/outlets")
            #expect(list.status == 200, "\(list.text)")
            #expect(list.text.contains(#"id="outlets""#) && list.text.contains(#"data-outlet-id="\#(outletId)""#))
            #expect(list.text.contains("Downtown &lt;b&gt;Branch&lt;/b&gt;") && list.text.contains(#"class="set-busy""#))
            #expect(!list.text.contains(foreignId))
            let page = try await browser.get("/console/outlets/\(outletId)")
            #expect(page.status == 200, "\(page.text)")
            #expect(page.text.contains(#"class="outlet-state""#))
            #expect(try await browser.get("/console/outlets/\(foreignId)").status == 404)
            #expect(try await browser.post("/console/outlets/\(foreignId)/busy", [("busy", "true")]).status == 404)

            let refused = try await browser.post("/console/outlets/\(outletId)/busy", [("busy", "true"), ("minutes", "30")], csrf: false)
            #expect(refused.status == 403)
            let untouched = try await service.services.catalog.outlet(id: outletId, provider: nil, tenant: acme.tenant)
            #expect(!untouched.isBusy)

            let busy = try await browser.post("/console/outlets/\(outletId)/busy", [("busy", "true"), ("minutes", "30"), ("back", "list")])
            #expect(busy.status == 303 && busy.header("Location") == "/console/outlets?done=state-changed")
            let marked = try await service.services.catalog.outlet(id: outletId, provider: nil, tenant: acme.tenant)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            #expect(marked.isBusy(at: now))
            let until = try #require(marked.busyUntil)
            #expect(until > now + 29 * 60_000 && until <= now + 30 * 60_000)

            let closed = try await browser.post("/console/outlets/\(outletId)/status", [("status", "CLOSED")])
            #expect(closed.status == 303)
            #expect(try await service.services.catalog.outlet(id: outletId, provider: nil, tenant: acme.tenant).status == .closed)
            #expect(try await browser.get("/console/outlets").text.contains(#"class="set-open""#))

            // With a menu synced and an item snoozed far ahead, the page still renders what partners read.
            let synced = try await service.call("POST", "/api/v1/outlets/\(outletId)/menu", key: acme.partnerKey, json: MenuRoutesTests.body)
            #expect(synced.status == 200, "\(synced.text)")
            let snoozed = try await service.call("POST", "/api/v1/outlets/\(outletId)/items/snooze", key: acme.partnerKey,
                                                 json: Array(#"{"items":[{"itemCode":"SKU-BURGER-01","snoozeEnd":"2099-01-01T00:00:00Z"}]}"#.utf8))
            #expect(snoozed.status == 200, "\(snoozed.text)")
            let withMenu = try await browser.get("/console/outlets/\(outletId)")
            #expect(withMenu.status == 200 && withMenu.text.contains("Menu as partners read it"), "\(withMenu.text)")
            #expect(try await browser.get("/console/outlets").status == 200)
        }
    }

    // MARK: POS connections

    @Test("connections: saved through the form with secrets write-only, listed masked with the inbound URL; no CSRF changes nothing")
    func connections() async throws {
        try await Self.withConsole { service in
            let acme = try await service.tenant("acme")
            let browser = try await Browser.signIn(service, key: acme.adminKey)
            let empty = try await browser.get("/console/connections")
            #expect(empty.status == 200 && empty.text.contains(#"id="connections""#) && empty.text.contains(#"value="atlas""#))

            let apiKey = "atlas-api-key-0123456789abcdef"
            let fields = [("slug", "atlas"), ("status", "active"), ("baseUrl", "http://127.0.0.1:9"), ("apiKey", apiKey),
                          ("webhookSecret", "atlas-hook-token-0123456789"), ("config", AtlasConnectorTests.config)]
            #expect(try await browser.post("/console/connections", fields, csrf: false).status == 403)
            #expect(try await service.services.providers.connections(tenant: acme.tenant).isEmpty)

            let invalid = try await browser.post("/console/connections", fields.map { $0.0 == "baseUrl" ? ($0.0, "not a url") : $0 })
            #expect(invalid.status == 400 && invalid.text.contains("baseUrl must be") && invalid.text.contains(#"value="not a url""#))
            #expect(!invalid.text.contains(apiKey))

            let saved = try await browser.post("/console/connections", fields)
            #expect(saved.status == 303 && saved.header("Location") == "/console/connections/atlas?done=saved", "\(saved.text)")
            let list = try await browser.get("/console/connections")
            #expect(list.text.contains(#"data-slug="atlas""#) && list.text.contains("/api/v1/inbound/atlas/order-status/"))
            #expect(!list.text.contains(apiKey) && !list.text.contains("atlas-hook-token"))
            let page = try await browser.get("/console/connections/atlas")
            #expect(page.status == 200 && !page.text.contains(apiKey))

            // A blank key keeps the stored one.
            let connection = try await service.services.providers.connection(slug: "atlas", tenant: acme.tenant)
            let edited = try await browser.post("/console/connections/atlas", [("status", "inactive"), ("baseUrl", "http://127.0.0.1:9"),
                                                                               ("apiKey", ""), ("config", AtlasConnectorTests.config)])
            #expect(edited.status == 303, "\(edited.text)")
            let after = try await service.services.providers.connection(slug: "atlas", tenant: acme.tenant)
            #expect(after.status == "inactive" && after.sealedApiKey == connection.sealedApiKey && after.sealedWebhookSecret != nil)
        }
    }

    // MARK: Loyalty

    @Test("loyalty: configuration saved with the key write-only and shown masked; the call and inbound logs render; no CSRF changes nothing")
    func loyalty() async throws {
        try await Self.withConsole { service in
            let acme = try await service.tenant("acme")
            let browser = try await Browser.signIn(service, key: acme.adminKey)
            let page = try await browser.get("/console/loyalty")
            #expect(page.status == 200)
            #expect(page.text.contains(#"id="loyalty-config""#) && page.text.contains(#"id="inbound-requests""#) && page.text.contains("not configured"))

            let apiKey = "loyalty-key-0123456789abcdef"
            let fields = [("baseUrl", "http://127.0.0.1:9"), ("apiKey", apiKey), ("timeout", "2s")]
            #expect(try await browser.post("/console/loyalty/config", fields, csrf: false).status == 403)
            await #expect(throws: ServiceError.self) { try await service.services.loyalty.config(tenant: acme.tenant) }

            let invalid = try await browser.post("/console/loyalty/config", [("baseUrl", "http://127.0.0.1:9"), ("apiKey", apiKey), ("timeout", "2h")])
            #expect(invalid.status == 400 && invalid.text.contains("timeout must be"))

            #expect(try await browser.post("/console/loyalty/config", fields).status == 303)
            let config = try await service.services.loyalty.config(tenant: acme.tenant)
            #expect(config.timeoutMs == 2_000)
            let shown = try await browser.get("/console/loyalty")
            #expect(shown.text.contains(config.maskedApiKey) && !shown.text.contains(apiKey))
            #expect(try await browser.post("/console/loyalty/delete").status == 303)
            await #expect(throws: ServiceError.self) { try await service.services.loyalty.config(tenant: acme.tenant) }
        }
    }
}
