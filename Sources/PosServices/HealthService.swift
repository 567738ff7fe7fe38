import PosStorage

/// Whether this instance can serve: its database answers.
public struct HealthService: Sendable {
    private let store: any StoreHealth

    public init(store: any StoreHealth) {
        self.store = store
    }

    /// Returns when the database answers; throws the store's error when it does not.
    public func checkReady() async throws {
        try await store.ping()
    }
}
