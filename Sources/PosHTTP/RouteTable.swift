import Synchronization
import Hummingbird
import PosDomain
import PosServices

/// The routes the service serves, recorded as they are registered so the OpenAPI document and
/// 405 answers can be checked against them.
public final class RouteTable: Sendable {
    public struct Route: Sendable, Hashable {
        public let method: HTTPRequest.Method
        /// OpenAPI style: `/api/v1/orders/{orderId}`.
        public let path: String
    }

    public let maxBodyBytes: Int
    private let storage: Mutex<[Route]>

    init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
        self.storage = Mutex([])
    }

    public var routes: [Route] { storage.withLock { $0 } }

    func record(_ method: HTTPRequest.Method, _ path: String) -> RouterPath {
        storage.withLock { $0.append(Route(method: method, path: path)) }
        let hummingbirdPath = path.split(separator: "/").map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : segment
        }.joined(separator: "/")
        return RouterPath("/" + hummingbirdPath)
    }

    /// The methods served on paths matching `path`, for 405's `Allow`.
    func methods(matching path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        return routes.filter { route in
            let pattern = route.path.split(separator: "/", omittingEmptySubsequences: true)
            guard pattern.count == segments.count else { return false }
            return zip(pattern, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }.map(\.method)
    }
}
