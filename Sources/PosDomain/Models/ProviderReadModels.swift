// What a POS answers about itself (connection tests, its outlets): plain values the API and the console show.

/// What a connection test came to (adapter contract `{success, message}`).
public struct ConnectionTestResult: Sendable, Codable, Equatable {
    public var success: Bool
    public var message: String

    public init(success: Bool, message: String) {
        self.success = success
        self.message = message
    }
}

/// One of the POS's own outlets (adapter contract `[{id, name, address?}]`).
public struct RemoteOutlet: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var address: String?

    public init(id: String, name: String, address: String?) {
        self.id = id
        self.name = name
        self.address = address
    }
}
