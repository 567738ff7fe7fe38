import Foundation
import PosDomain
import PosServices
import PosStorage
import Testing

/// `/api/v1/api-keys`, the rules of APIKeyService behind it, `lastUsedAt`, and operator keys.
@Suite("API key management")
struct APIKeyTests {
    /// A service without the auth cache (a revocation shows at once) on `clock`.
    static func withKeyService<T>(clock: @escaping ServiceClock = SystemClock.now, _ body: (TestService) async throws -> T) async throws -> T {
        try await withTestService(authCacheTTLMs: 0, clock: clock, body)
    }

    /// An admin key of `tenant` holding every scope, and its id.
    static func bossKey(_ service: TestService, tenant: String = "acme") async throws -> (key: String, id: Int64) {
        let issued = try await service.admin.createKey(tenant: tenant, scopes: [.internal, .partner, .admin], expiresInDays: nil, name: "boss")
        return (issued.key, issued.record.apiKeyId)
    }

    static func listed(_ service: TestService, key: String) async throws -> [[String: Any]] {
        let reply = try await service.call("GET", "/api/v1/api-keys", key: key)
        guard reply.status == 200, let keys = reply.json["apiKeys"] as? [[String: Any]] else {
            throw TestFailure("list failed: \(reply.status) \(reply.text)")
        }
        return keys
    }

    @Test("a key is shown once, when created; the list shows prefixes, never a key or its hash")
    func showOnce() async throws {
        try await Self.withKeyService { service in
            let acme = try await service.tenant("acme")
            let created = try await service.call("POST", "/api/v1/api-keys", key: acme.adminKey,
                                                 json: Fixtures.encode(["name": "  Ops dashboard ", "scopes": ["admin", "admin"], "expiresInDays": 30]))
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json["code"] as? Int == 201 && created.json["isSuccess"] as? Bool == true)
            let key = try #require(created.json["key"] as? String)
            let id = try #require(created.json["id"] as? Int)
            let token = try #require(APIKeyToken(rawValue: key))
            #expect(token.apiKeyId == Int64(id))
            #expect(created.json["name"] as? String == "Ops dashboard")
            #expect(created.json["scopes"] as? [String] == ["admin"])
            #expect(created.json["prefix"] as? String == "posk_\(id)_\(token.secret.prefix(4))")
            let expiresAt = try #require(RFC3339.parseMilliseconds(created.json["expiresAt"] as? String ?? ""))
            let createdAt = try #require(RFC3339.parseMilliseconds(created.json["createdAt"] as? String ?? ""))
            #expect(expiresAt - createdAt == 30 * 86_400_000)
            #expect(try await service.call("GET", "/api/v1/auth/whoami", key: key).status == 200)

            let list = try await service.call("GET", "/api/v1/api-keys", key: acme.adminKey)
            #expect(list.status == 200)
            let keys = try #require(list.json["apiKeys"] as? [[String: Any]])
            #expect(keys.map { $0["id"] as? Int } == [1, 2, 3, id])
            for entry in keys {
                #expect(Set(entry.keys) == ["id", "name", "prefix", "scopes", "createdAt", "expiresAt", "lastUsedAt", "revokedAt"])
            }
            let stored = try #require(try await service.stores.key(id: Int64(id), tenantId: acme.tenant.id))
            for secret in [key, token.secret, stored.secretHash, acme.adminKey, acme.partnerKey, acme.internalKey] {
                #expect(!list.text.contains(secret))
            }
            #expect(keys.last?["prefix"] as? String == stored.prefix)
        }
    }

    @Test("a key grants only scopes it holds; bad bodies are 400s naming the field")
    func validation() async throws {
        try await Self.withKeyService { service in
            let acme = try await service.tenant("acme")
            let cases: [(String, [String: Any], String)] = [
                ("scope not held", ["name": "x", "scopes": ["admin", "internal"]], "scopes[1]"),
                ("scope not held first", ["name": "x", "scopes": ["partner", "nope"]], "scopes[0]"),
                ("unknown scope", ["name": "x", "scopes": ["admin", "root"]], "scopes[1]"),
                ("scope not a string", ["name": "x", "scopes": [1]], "scopes[0]"),
                ("empty scopes", ["name": "x", "scopes": [String]()], "scopes"),
                ("scopes not an array", ["name": "x", "scopes": "admin"], "scopes"),
                ("scopes missing", ["name": "x"], "scopes"),
                ("name missing", ["scopes": ["admin"]], "name"),
                ("name blank", ["name": "  \n ", "scopes": ["admin"]], "name"),
                ("name too long", ["name": String(repeating: "n", count: 101), "scopes": ["admin"]], "name"),
                ("name not a string", ["name": 5, "scopes": ["admin"]], "name"),
                ("expiry zero", ["name": "x", "scopes": ["admin"], "expiresInDays": 0], "expiresInDays"),
                ("expiry negative", ["name": "x", "scopes": ["admin"], "expiresInDays": -3], "expiresInDays"),
                ("expiry too far", ["name": "x", "scopes": ["admin"], "expiresInDays": 3651], "expiresInDays"),
                ("expiry fraction", ["name": "x", "scopes": ["admin"], "expiresInDays": 1.5], "expiresInDays"),
                ("expiry text", ["name": "x", "scopes": ["admin"], "expiresInDays": "7"], "expiresInDays"),
                ("unknown field", ["name": "x", "scopes": ["admin"], "tenantId": "other"], "tenantId"),
            ]
            for (label, body, field) in cases {
                let reply = try await service.call("POST", "/api/v1/api-keys", key: acme.adminKey, json: Fixtures.encode(body))
                #expect(reply.status == 400, "\(label): \(reply.text)")
                #expect(reply.error["field"] as? String == field, "\(label): \(reply.text)")
            }
            #expect(try await service.stores.keys(tenantId: acme.tenant.id).count == 3, "nothing was issued")

            let longest = try await service.call("POST", "/api/v1/api-keys", key: acme.adminKey,
                                                 json: Fixtures.encode(["name": String(repeating: "n", count: 100), "scopes": ["admin"], "expiresInDays": 3650]))
            #expect(longest.status == 201, "\(longest.text)")
            let boss = try await Self.bossKey(service)
            let granted = try await service.call("POST", "/api/v1/api-keys", key: boss.key,
                                                 json: Fixtures.encode(["name": "kds", "scopes": ["internal", "partner"], "expiresInDays": NSNull()]))
            #expect(granted.status == 201, "\(granted.text)")
            #expect(granted.json["scopes"] as? [String] == ["internal", "partner"])
            #expect(granted.json["expiresAt"] is NSNull)
            // Only admin keys manage keys.
            #expect(try await service.call("GET", "/api/v1/api-keys", key: acme.partnerKey).status == 403)
        }
    }

    @Test("rotation: a new key with the same name and scopes; the old one works through the overlap, not after")
    func rotation() async throws {
        let clock = ManualClock(now: SystemClock.now())
        try await Self.withKeyService(clock: clock.read) { service in
            let acme = try await service.tenant("acme")
            let boss = try await Self.bossKey(service)
            let rotated = try await service.call("POST", "/api/v1/api-keys/2/rotate", key: boss.key, json: Fixtures.encode(["overlapHours": 2]))
            #expect(rotated.status == 201, "\(rotated.text)")
            let newKey = try #require(rotated.json["key"] as? String)
            #expect(rotated.json["name"] as? String == "cli")
            #expect(rotated.json["scopes"] as? [String] == ["partner"])
            #expect(rotated.json["expiresAt"] is NSNull)
            #expect(Set(rotated.json.keys) == ["code", "isSuccess", "message", "id", "key", "name", "prefix", "scopes", "createdAt", "expiresAt"])
            let old = try #require(try await service.stores.key(id: 2, tenantId: acme.tenant.id))
            #expect(old.expiresAt == clock.read() + 2 * 3_600_000)

            func whoami(_ key: String) async throws -> Int { try await service.call("GET", "/api/v1/auth/whoami", key: key).status }
            #expect(try await whoami(newKey) == 200)
            #expect(try await whoami(acme.partnerKey) == 200)
            clock.advance(by: 2 * 3_600_000 - 1_000)
            #expect(try await whoami(acme.partnerKey) == 200, "still in the overlap")
            clock.advance(by: 2_000)
            #expect(try await whoami(acme.partnerKey) == 401, "the overlap is over")
            #expect(try await whoami(newKey) == 200)

            // An old key expiring before the overlap ends keeps its expiry; the new one gets its lifetime.
            let short = try await service.admin.createKey(tenant: "acme", scopes: [.partner], expiresInDays: 1, name: "short")
            let lifetime = try #require(short.record.expiresAt) - short.record.createdAt
            let again = try await service.call("POST", "/api/v1/api-keys/\(short.record.apiKeyId)/rotate", key: boss.key,
                                               json: Fixtures.encode(["overlapHours": 168]))
            #expect(again.status == 201, "\(again.text)")
            #expect(try await service.stores.key(id: short.record.apiKeyId, tenantId: acme.tenant.id)?.expiresAt == short.record.expiresAt)
            #expect(again.json["name"] as? String == "short")
            #expect(RFC3339.parseMilliseconds(again.json["expiresAt"] as? String ?? "") == clock.read() + lifetime)

            // Refusals.
            for (overlap, label) in [(169, "too long"), (-1, "negative")] as [(Any, String)] {
                let reply = try await service.call("POST", "/api/v1/api-keys/\(boss.id)/rotate", key: boss.key, json: Fixtures.encode(["overlapHours": overlap]))
                #expect(reply.status == 400 && reply.error["field"] as? String == "overlapHours", "\(label): \(reply.text)")
            }
            let notANumber = try await service.call("POST", "/api/v1/api-keys/\(boss.id)/rotate", key: boss.key,
                                                    json: Fixtures.encode(["overlapHours": "1"]))
            #expect(notANumber.status == 400 && notANumber.error["field"] as? String == "overlapHours")
            let selfNoOverlap = try await service.call("POST", "/api/v1/api-keys/\(boss.id)/rotate", key: boss.key,
                                                       json: Fixtures.encode(["overlapHours": 0]))
            #expect(selfNoOverlap.status == 409, "\(selfNoOverlap.text)")
            #expect(try await whoami(boss.key) == 200)
            let expired = try await service.call("POST", "/api/v1/api-keys/2/rotate", key: boss.key, json: Fixtures.encode([String: Any]()))
            #expect(expired.status == 409, "an expired key cannot be rotated: \(expired.text)")
            // The admin-only key cannot rotate a key holding scopes it lacks (it would grant them).
            let escalation = try await service.call("POST", "/api/v1/api-keys/1/rotate", key: acme.adminKey, json: Fixtures.encode(["overlapHours": 1]))
            #expect(escalation.status == 403, "\(escalation.text)")

            // Without a body: the default overlap of 24 h; a key may rotate itself with overlap.
            let bare = try await service.call("POST", "/api/v1/api-keys/\(boss.id)/rotate", key: boss.key)
            #expect(bare.status == 201, "\(bare.text)")
            #expect(try await service.stores.key(id: boss.id, tenantId: acme.tenant.id)?.expiresAt == clock.read() + 24 * 3_600_000)
            #expect(try await whoami(boss.key) == 200)
        }
    }

    @Test("revocation: at once without the cache, idempotent, never of the key itself")
    func revocation() async throws {
        try await Self.withKeyService { service in
            let acme = try await service.tenant("acme")
            let revoked = try await service.call("DELETE", "/api/v1/api-keys/2", key: acme.adminKey)
            #expect(revoked.status == 200, "\(revoked.text)")
            #expect(revoked.json["isSuccess"] as? Bool == true)
            let view = try #require(revoked.json["apiKey"] as? [String: Any])
            let revokedAt = try #require(view["revokedAt"] as? String)
            #expect(view["id"] as? Int == 2 && view["key"] == nil)
            #expect(try await service.call("GET", "/api/v1/auth/whoami", key: acme.partnerKey).status == 401)

            let again = try await service.call("DELETE", "/api/v1/api-keys/2", key: acme.adminKey)
            #expect(again.status == 200)
            #expect((again.json["apiKey"] as? [String: Any])?["revokedAt"] as? String == revokedAt, "the first revocation stands")

            let itself = try await service.call("DELETE", "/api/v1/api-keys/3", key: acme.adminKey)
            #expect(itself.status == 409, "\(itself.text)")
            #expect(try await service.call("GET", "/api/v1/auth/whoami", key: acme.adminKey).status == 200)
            #expect(try await service.call("DELETE", "/api/v1/api-keys/999", key: acme.adminKey).status == 404)
            #expect(try await service.call("DELETE", "/api/v1/api-keys/abc", key: acme.adminKey).status == 404)
            let rotateRevoked = try await service.call("POST", "/api/v1/api-keys/2/rotate", key: acme.adminKey)
            #expect(rotateRevoked.status == 409, "a revoked key cannot be rotated: \(rotateRevoked.text)")
        }
    }

    @Test("another tenant's key ids are 404s, as missing ones")
    func tenantIsolation() async throws {
        try await Self.withKeyService { service in
            let acme = try await service.tenant("acme")
            let globex = try await service.tenant("globex")
            let missing = try await service.call("DELETE", "/api/v1/api-keys/999", key: globex.adminKey)
            for id in [1, 2, 3] {
                let revoke = try await service.call("DELETE", "/api/v1/api-keys/\(id)", key: globex.adminKey)
                #expect(revoke.status == 404)
                #expect(revoke.error["message"] as? String == (missing.error["message"] as? String)?.replacingOccurrences(of: "999", with: "\(id)"))
                let rotate = try await service.call("POST", "/api/v1/api-keys/\(id)/rotate", key: globex.adminKey, json: Fixtures.encode(["overlapHours": 1]))
                #expect(rotate.status == 404)
            }
            #expect(try await Self.listed(service, key: globex.adminKey).map { $0["id"] as? Int } == [4, 5, 6])
            #expect(try await service.call("GET", "/api/v1/auth/whoami", key: acme.partnerKey).status == 200)
            #expect(try await service.stores.keys(tenantId: acme.tenant.id).allSatisfy { $0.revokedAt == nil && $0.expiresAt == nil })
        }
    }

    @Test("lastUsedAt is written on use, then at most once a minute")
    func lastUsed() async throws {
        let clock = ManualClock(now: SystemClock.now())
        try await Self.withKeyService(clock: clock.read) { service in
            let acme = try await service.tenant("acme")
            func lastUsed() async throws -> Int64? { try await service.stores.key(id: 2, tenantId: acme.tenant.id)?.lastUsedAt }
            #expect(try await lastUsed() == nil)
            let first = clock.read()
            #expect(try await service.call("GET", "/api/v1/auth/whoami", key: acme.partnerKey).status == 200)
            #expect(try await lastUsed() == first)
            let listedPartner = try await Self.listed(service, key: acme.adminKey).first { $0["id"] as? Int == 2 }
            #expect(RFC3339.parseMilliseconds(listedPartner?["lastUsedAt"] as? String ?? "") == first)

            clock.advance(by: 59_000)
            #expect(try await service.call("GET", "/api/v1/auth/whoami", key: acme.partnerKey).status == 200)
            #expect(try await lastUsed() == first, "not rewritten within a minute")
            // Another replica (its own memory of writes) does not rewrite it either.
            let replica = AuthService(keys: service.stores, clock: clock.read, cacheTTLMs: 0)
            _ = try await replica.authenticate(apiKey: acme.partnerKey, claim: TenantClaim(host: nil, tenantHeader: nil, baseDomain: nil))
            #expect(try await lastUsed() == first)

            clock.advance(by: 2_000)
            #expect(try await service.call("GET", "/api/v1/auth/whoami", key: acme.partnerKey).status == 200)
            #expect(try await lastUsed() == clock.read())
        }
    }

    @Test("operator keys: issued by the administration, authenticated on their own, refused by the tenant API")
    func operatorKeys() async throws {
        try await Self.withKeyService { service in
            let acme = try await service.tenant("acme")
            let issued = try await service.admin.createOperatorKey(name: " Console ", expiresInDays: 7)
            #expect(issued.key.hasPrefix("posop_\(issued.record.operatorKeyId)_"))
            #expect(issued.record.name == "Console")
            #expect(issued.record.prefix == String(issued.key.prefix(issued.record.prefix.count)))
            #expect(issued.record.prefix.count == "posop_\(issued.record.operatorKeyId)_".count + 4)
            #expect(try await service.admin.operatorKeys().map(\.operatorKeyId) == [issued.record.operatorKeyId])

            let auth = service.services.auth
            let principal = try await auth.authenticateOperator(key: issued.key)
            #expect(principal.key.operatorKeyId == issued.record.operatorKeyId)
            #expect(try await auth.operatorPrincipal(forKeyId: issued.record.operatorKeyId)?.key.name == "Console")
            // Used: lastUsedAt is kept as for tenant keys.
            #expect(try await service.stores.operatorKey(id: issued.record.operatorKeyId)?.lastUsedAt != nil)

            // The tenant API refuses it with the one 401; an operator key never passes as a tenant's, nor the reverse.
            let refused = try await service.call("GET", "/api/v1/auth/whoami", key: issued.key)
            let unknown = try await service.call("GET", "/api/v1/auth/whoami", key: "nonsense")
            #expect(refused.status == 401 && refused.text == unknown.text)
            #expect(try await service.call("GET", "/api/v1/api-keys", key: issued.key).status == 401)
            await #expect(throws: ServiceError.unauthorized) { try await auth.authenticateOperator(key: acme.adminKey) }
            await #expect(throws: ServiceError.unauthorized) { try await auth.authenticateOperator(key: nil) }
            let forged = OperatorKeyToken(id: issued.record.operatorKeyId, secret: OperatorKeyToken.generateSecret()).rawValue
            await #expect(throws: ServiceError.unauthorized) { try await auth.authenticateOperator(key: forged) }

            #expect(try await service.admin.revokeOperatorKey(id: issued.record.operatorKeyId))
            #expect(try await !service.admin.revokeOperatorKey(id: issued.record.operatorKeyId))
            await #expect(throws: ServiceError.unauthorized) { try await auth.authenticateOperator(key: issued.key) }
            #expect(try await auth.operatorPrincipal(forKeyId: issued.record.operatorKeyId) == nil)
            #expect(try await auth.operatorPrincipal(forKeyId: 999) == nil)
            await #expect(throws: ServiceError.self) { try await service.admin.createOperatorKey(name: "", expiresInDays: nil) }
            await #expect(throws: ServiceError.self) { try await service.admin.createOperatorKey(expiresInDays: 0) }
        }
    }

    @Test("a console re-checks a tenant key by id: nil once revoked, expired or its tenant inactive")
    func principalForKeyId() async throws {
        try await Self.withKeyService { service in
            let acme = try await service.tenant("acme")
            let auth = service.services.auth
            let principal = try #require(try await auth.principal(forKeyId: 3))
            #expect(principal.tenant.id == acme.tenant.id && principal.has(anyOf: [.admin]))
            #expect(try await auth.principal(forKeyId: 999) == nil)
            #expect(try await service.admin.revokeKey(id: 3))
            #expect(try await auth.principal(forKeyId: 3) == nil)

            // The service the console calls: the same rules with a principal in hand.
            let keys = service.services.apiKeys
            let boss = try #require(try await auth.principal(forKeyId: try await Self.bossKey(service).id))
            let issued = try await keys.create(CreateAPIKey(name: "console", scopes: ["partner"]), by: boss)
            #expect(issued.record.scopes == [.partner] && issued.record.expiresAt == nil)
            await #expect(throws: ServiceError.conflict("a key cannot revoke itself", details: "revoke it with another admin key")) {
                try await keys.revoke(id: boss.key.apiKeyId, by: boss)
            }
            let partner = try #require(try await auth.principal(forKeyId: 2))
            await #expect(throws: ServiceError.self) { try await keys.list(by: partner) }
            #expect(try await keys.revoke(id: issued.record.apiKeyId, by: boss).revokedAt != nil)

            // A tenant that is no longer active: its keys lead nowhere.
            let sql = try #require(service.stores as? SQLStores)
            _ = try await sql.engine.write { db in try db.execute("UPDATE tenants SET status = 'suspended' WHERE id = ?", [acme.tenant.id]) }
            #expect(try await auth.principal(forKeyId: boss.key.apiKeyId) == nil)
        }
    }
}
