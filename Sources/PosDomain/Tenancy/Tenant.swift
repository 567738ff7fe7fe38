/// A customer of the platform. Its subdomain selects it on partner requests.
public struct Tenant: Sendable, Equatable, Codable {
    public var id: String
    public var subdomain: String
    public var name: String
    public var status: String

    public init(id: String, subdomain: String, name: String, status: String = "active") {
        self.id = id
        self.subdomain = subdomain
        self.name = name
        self.status = status
    }

    /// Lowercase DNS label: letters, digits and inner hyphens, 1–63 chars.
    public static func isValidSubdomain(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...63).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { return false }
        return bytes.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-") }
    }
}

/// Which tenant a request names, per decisions D4: the subdomain of `Host` under the base domain
/// and/or `X-Tenant-ID`. Both, when present, must name the API key's tenant.
public struct TenantClaim: Sendable, Equatable {
    public var hostSubdomain: String?
    public var headerTenant: String?

    public init(host: String?, tenantHeader: String?, baseDomain: String?) {
        self.hostSubdomain = Self.subdomain(host: host, baseDomain: baseDomain)
        let header = tenantHeader?.trimmingCharacters(in: .whitespaces)
        self.headerTenant = header?.isEmpty == false ? header : nil
    }

    /// `acme` for host `acme.pos.example.com[:port]` under base domain `pos.example.com`.
    static func subdomain(host: String?, baseDomain: String?) -> String? {
        guard var host = host?.lowercased(), let base = baseDomain?.lowercased(), !base.isEmpty else { return nil }
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") { host = String(host[..<colon]) }
        if host.hasSuffix(".") { host.removeLast() }
        guard host.hasSuffix("." + base) else { return nil }
        let label = host.dropLast(base.count + 1)
        return label.isEmpty ? nil : String(label)
    }

    /// Whether every tenant this request names is `tenant`.
    public func permits(_ tenant: Tenant) -> Bool {
        if let sub = hostSubdomain, sub != tenant.subdomain { return false }
        if let header = headerTenant, header != tenant.id, header.lowercased() != tenant.subdomain { return false }
        return true
    }
}
