import Foundation
import PosDomain
import PosStorage
import Testing

/// The loyalty half of the store contract: configuration, refCode records and the call log. Runs on
/// every engine, like ``StoreContractTests``.
@Suite("Store contract: loyalty")
struct LoyaltyStoreContractTests {
    static let tenant = StoreContractTests.tenant
    static let other = Tenant(id: "00000000-0000-0000-0000-00000000000b", subdomain: "other", name: "Other")
    static let customer = "3f2b8c1e-6d0a-4c5e-9f7b-2a1d4e6c8b90"

    static func claim(_ refCode: String = "r-1", points: Int64 = 10, owner: String = "a", now: Int64 = 1_000, leaseUntil: Int64 = 2_000,
                      expiresAt: Int64 = 100_000, tenantId: String = tenant.id) -> LoyaltyMoveClaim {
        LoyaltyMoveClaim(tenantId: tenantId, operation: .earnPoints, move: LoyaltyPointsMove(customerUuid: customer, points: points, refCode: refCode),
                         owner: owner, leaseUntil: leaseUntil, expiresAt: expiresAt, now: now)
    }

    static func call(_ at: Int64, customerUuid: String? = customer, tenantId: String = tenant.id, outcome: String = "answered") -> LoyaltyCall {
        LoyaltyCall(tenantId: tenantId, operation: .balance, customerUuid: customerUuid, points: nil, refCode: nil, upstreamStatus: 200,
                    latencyMs: 5, status: 200, outcome: outcome, at: at)
    }

    @Test("the configuration upserts keeping createdAt, per tenant, and deletes", arguments: StoreEngines.all)
    func configuration(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            try await stores.createTenant(Self.other, createdAt: 1)
            #expect(try await stores.loyaltyConfig(tenantId: Self.tenant.id) == nil)
            _ = try await stores.upsertLoyaltyConfig(LoyaltyConfig(tenantId: Self.tenant.id, baseUrl: "https://loyalty.test", sealedApiKey: "v1:a",
                                                                   timeoutMs: 2_000, createdAt: 10, updatedAt: 10))
            let updated = try await stores.upsertLoyaltyConfig(LoyaltyConfig(tenantId: Self.tenant.id, baseUrl: nil, sealedApiKey: "v1:b",
                                                                             timeoutMs: nil, createdAt: 20, updatedAt: 20))
            #expect(updated == LoyaltyConfig(tenantId: Self.tenant.id, baseUrl: nil, sealedApiKey: "v1:b", timeoutMs: nil, createdAt: 10, updatedAt: 20))
            #expect(try await stores.loyaltyConfig(tenantId: Self.tenant.id) == updated)
            #expect(try await stores.loyaltyConfig(tenantId: Self.other.id) == nil)
            #expect(try await stores.deleteLoyaltyConfig(tenantId: Self.tenant.id))
            #expect(try await !stores.deleteLoyaltyConfig(tenantId: Self.tenant.id))
        }
    }

    @Test("a refCode is claimed once; a live lease is in flight, another request a mismatch, a settled answer replayed",
          arguments: StoreEngines.all)
    func refCodes(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            try await stores.createTenant(Self.other, createdAt: 1)
            #expect(try await stores.claimLoyaltyMove(Self.claim()) == .claimed(attempt: 1))
            #expect(try await stores.claimLoyaltyMove(Self.claim(owner: "b", now: 1_500)) == .inFlight)
            #expect(try await stores.claimLoyaltyMove(Self.claim(points: 11, owner: "b", now: 1_500)) == .mismatch(customerUuid: Self.customer, points: 10))
            // Another tenant, or the other operation, has refCodes of its own.
            #expect(try await stores.claimLoyaltyMove(Self.claim(tenantId: Self.other.id)) == .claimed(attempt: 1))
            var useClaim = Self.claim()
            useClaim.operation = .usePoints
            #expect(try await stores.claimLoyaltyMove(useClaim) == .claimed(attempt: 1))

            // No definitive answer (a timeout): open again at once, for the next request with the refCode.
            try await stores.settleLoyaltyMove(tenantId: Self.tenant.id, operation: .earnPoints, refCode: "r-1", owner: "a", outcome: nil,
                                               call: Self.call(1_600, outcome: "timeout"))
            #expect(try await stores.claimLoyaltyMove(Self.claim(owner: "b", now: 1_700, leaseUntil: 2_700)) == .claimed(attempt: 2))
            // A settle by someone who no longer holds the lease changes nothing.
            let answer = LoyaltyStoredOutcome(status: 200, body: #"{"code":0,"isSuccess":true,"message":"OK"}"#)
            try await stores.settleLoyaltyMove(tenantId: Self.tenant.id, operation: .earnPoints, refCode: "r-1", owner: "a", outcome: answer,
                                               call: Self.call(1_800))
            #expect(try await stores.claimLoyaltyMove(Self.claim(owner: "c", now: 1_900)) == .inFlight)
            try await stores.settleLoyaltyMove(tenantId: Self.tenant.id, operation: .earnPoints, refCode: "r-1", owner: "b", outcome: answer,
                                               call: Self.call(2_000))
            #expect(try await stores.claimLoyaltyMove(Self.claim(owner: "c", now: 2_100)) == .completed(answer))

            // A lease that ran out (its holder died) is taken over.
            #expect(try await stores.claimLoyaltyMove(Self.claim("r-2", owner: "a", now: 3_000, leaseUntil: 3_500)) == .claimed(attempt: 1))
            #expect(try await stores.claimLoyaltyMove(Self.claim("r-2", owner: "b", now: 3_500, leaseUntil: 4_000)) == .claimed(attempt: 2))

            // Past its expiry a refCode starts afresh, for any request.
            #expect(try await stores.claimLoyaltyMove(Self.claim(points: 99, owner: "d", now: 100_000, leaseUntil: 101_000,
                                                                 expiresAt: 200_000)) == .claimed(attempt: 1))
            #expect(try await stores.claimLoyaltyMove(Self.claim(points: 10, owner: "e", now: 100_001)) == .mismatch(customerUuid: Self.customer, points: 99))
        }
    }

    @Test("calls are listed newest first, by customer and since, per tenant", arguments: StoreEngines.all)
    func callLog(_ engine: StoreEngines.Factory) async throws {
        try await StoreContractTests.withStores(engine) { stores in
            try await stores.createTenant(Self.tenant, createdAt: 1)
            try await stores.createTenant(Self.other, createdAt: 1)
            try await stores.recordLoyaltyCall(Self.call(10))
            try await stores.recordLoyaltyCall(Self.call(20, customerUuid: nil))
            try await stores.recordLoyaltyCall(Self.call(30))
            try await stores.recordLoyaltyCall(Self.call(40, tenantId: Self.other.id))
            try await stores.settleLoyaltyMove(tenantId: Self.tenant.id, operation: .earnPoints, refCode: "none", owner: "x", outcome: nil,
                                               call: Self.call(50, outcome: "timeout"))
            let all = try await stores.loyaltyCalls(tenantId: Self.tenant.id, filter: LoyaltyCallFilter())
            #expect(all.map(\.at) == [50, 30, 20, 10])
            #expect(all.first?.outcome == "timeout" && all.first?.upstreamStatus == 200 && all.first?.latencyMs == 5)
            #expect(try await stores.loyaltyCalls(tenantId: Self.tenant.id, filter: LoyaltyCallFilter(customerUuid: Self.customer, since: 20))
                .map(\.at) == [50, 30])
            #expect(try await stores.loyaltyCalls(tenantId: Self.tenant.id, filter: LoyaltyCallFilter(limit: 1)).map(\.at) == [50])
            #expect(try await stores.loyaltyCalls(tenantId: Self.other.id, filter: LoyaltyCallFilter()).map(\.at) == [40])
        }
    }
}
