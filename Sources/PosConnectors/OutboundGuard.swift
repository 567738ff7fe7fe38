import Foundation
import NIOCore
import NIOPosix
import PosDomain

/// The SSRF guard on every outbound URL: only http(s), and — after DNS resolution — no loopback,
/// private, link-local, multicast or unspecified address unless the operator allows it
/// (`POS_ALLOW_PRIVATE_TARGETS=true`, or `POS_OUTBOUND_ALLOWLIST` hosts and CIDRs).
public struct OutboundGuard: Sendable {
    public let allowPrivateTargets: Bool
    public let allowlist: [OutboundAllowance]

    public init(allowPrivateTargets: Bool = false, allowlist: [OutboundAllowance] = []) {
        self.allowPrivateTargets = allowPrivateTargets
        self.allowlist = allowlist
    }

    /// Parses `POS_OUTBOUND_ALLOWLIST` (comma-separated hosts and CIDRs); nil names the bad entry.
    public static func parseAllowlist(_ text: String) -> Result<[OutboundAllowance], ParseFailure> {
        var entries: [OutboundAllowance] = []
        for part in text.split(separator: ",") where !part.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let entry = OutboundAllowance(parsing: String(part), parseAddress: Self.addressBytes) else {
                return .failure(ParseFailure(entry: String(part)))
            }
            entries.append(entry)
        }
        return .success(entries)
    }

    public struct ParseFailure: Error, Equatable { public let entry: String }

    public enum Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        case invalidURL(String)
        case unresolvable(host: String)
        case forbidden(host: String, address: String, kind: IPAddressClass)

        public var description: String {
            switch self {
            case .invalidURL(let reason):
                reason
            case .unresolvable(let host):
                "host \(host) does not resolve"
            case .forbidden(let host, let address, let kind):
                "\(host) resolves to \(address), a \(kind.rawValue) address, which webhooks may not target; "
                    + "to allow it (for example when running on localhost) set POS_ALLOW_PRIVATE_TARGETS=true "
                    + "or add \(host) to POS_OUTBOUND_ALLOWLIST"
            }
        }
    }

    /// Checks a URL: scheme, host, and every address the host resolves to.
    public func check(_ urlString: String) async throws(Refusal) {
        guard let url = URL(string: urlString), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw .invalidURL("only absolute http and https URLs are allowed")
        }
        guard var host = url.host, !host.isEmpty else { throw .invalidURL("the URL has no host") }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        // Resolution only serves the address check: nothing to check, nothing to resolve.
        guard !allowPrivateTargets, !allowlist.contains(.host(host.lowercased())) else { return }
        let addresses: [[UInt8]]
        if let literal = Self.addressBytes(host) {
            addresses = [literal]
        } else {
            addresses = await Self.resolve(host)
            guard !addresses.isEmpty else { throw .unresolvable(host: host) }
        }
        for address in addresses {
            let kind = IPAddressClass(bytes: address)
            guard kind.isForbiddenByDefault, !allowlist.contains(where: { $0.allows(host: host, address: address) }) else { continue }
            throw .forbidden(host: host, address: Self.format(address), kind: kind)
        }
    }

    /// IPv4 or IPv6 literal to bytes.
    public static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func format(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) } != nil
        return ok ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
    }

    /// getaddrinfo on NIO's blocking pool, so no event loop waits on DNS.
    static func resolve(_ host: String) async -> [[UInt8]] {
        (try? await NIOThreadPool.singleton.runIfActive { () -> [[UInt8]] in
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &result) == 0 else { return [] }
            defer { freeaddrinfo(result) }
            var addresses: [[UInt8]] = []
            var cursor = result
            while let info = cursor {
                if info.pointee.ai_family == AF_INET, let address = info.pointee.ai_addr {
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                        var raw = pointer.pointee.sin_addr
                        addresses.append(withUnsafeBytes(of: &raw) { Array($0) })
                    }
                } else if info.pointee.ai_family == AF_INET6, let address = info.pointee.ai_addr {
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                        var raw = pointer.pointee.sin6_addr
                        addresses.append(withUnsafeBytes(of: &raw) { Array($0) })
                    }
                }
                cursor = info.pointee.ai_next
            }
            return addresses
        }) ?? []
    }
}
