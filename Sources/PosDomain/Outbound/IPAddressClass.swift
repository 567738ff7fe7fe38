import Foundation

/// Which kind of network an IP address belongs to, for the outbound (SSRF) guard.
public enum IPAddressClass: String, Sendable, Equatable {
    case publicAddress = "public"
    case loopback
    case privateNetwork = "private"
    case linkLocal = "link-local"
    case multicast
    case unspecified

    /// Loopback, private (RFC 1918, ULA, CGNAT), link-local (169.254.169.254 included), multicast
    /// and unspecified addresses are not for webhooks unless an operator allows them.
    public var isForbiddenByDefault: Bool { self != .publicAddress }

    /// Classifies 4 (IPv4) or 16 (IPv6) address bytes; IPv4-mapped IPv6 is classified as its IPv4.
    public init(bytes: [UInt8]) {
        if bytes.count == 4 {
            self = Self.classifyIPv4(bytes)
        } else if bytes.count == 16 {
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                self = Self.classifyIPv4(Array(bytes[12..<16]))
            } else {
                self = Self.classifyIPv6(bytes)
            }
        } else {
            self = .unspecified
        }
    }

    private static func classifyIPv4(_ b: [UInt8]) -> IPAddressClass {
        switch (b[0], b[1]) {
        case (0, _): return .unspecified
        case (127, _): return .loopback
        case (10, _), (192, 168): return .privateNetwork
        case (172, 16...31): return .privateNetwork
        case (100, 64...127): return .privateNetwork  // carrier-grade NAT (RFC 6598)
        case (169, 254): return .linkLocal
        case (224...239, _): return .multicast
        case (240...255, _): return .unspecified  // reserved and broadcast
        default: return .publicAddress
        }
    }

    private static func classifyIPv6(_ b: [UInt8]) -> IPAddressClass {
        if b.allSatisfy({ $0 == 0 }) { return .unspecified }
        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return .loopback }
        if b[0] == 0xFF { return .multicast }
        if b[0] == 0xFE && (b[1] & 0xC0) == 0x80 { return .linkLocal }
        if (b[0] & 0xFE) == 0xFC { return .privateNetwork }
        return .publicAddress
    }
}

/// An allowlist entry of `POS_OUTBOUND_ALLOWLIST`: a host name or a CIDR block.
public enum OutboundAllowance: Sendable, Equatable {
    case host(String)
    case network(prefix: [UInt8], bits: Int)

    /// `hooks.example.com`, `10.0.0.0/8`, `127.0.0.1`, `fd00::/8`.
    public init?(parsing text: String, parseAddress: (String) -> [UInt8]?) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !trimmed.isEmpty else { return nil }
        let parts = trimmed.split(separator: "/", maxSplits: 1).map(String.init)
        if let address = parseAddress(parts[0]) {
            let bits = parts.count == 2 ? Int(parts[1]) : address.count * 8
            guard let bits, bits >= 0, bits <= address.count * 8 else { return nil }
            self = .network(prefix: address, bits: bits)
        } else {
            guard parts.count == 1 else { return nil }
            self = .host(trimmed)
        }
    }

    public func allows(host: String, address: [UInt8]) -> Bool {
        switch self {
        case .host(let name):
            return host.lowercased() == name
        case .network(let prefix, let bits):
            guard prefix.count == address.count else { return false }
            for bit in 0..<bits {
                let mask = UInt8(0x80) >> UInt8(bit % 8)
                if prefix[bit / 8] & mask != address[bit / 8] & mask { return false }
            }
            return true
        }
    }
}

