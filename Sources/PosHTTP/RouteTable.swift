import Synchronization
import Hummingbird
import PosDomain
import PosServices

/// The routes the service serves, recorded as they are registered so the OpenAPI document, 405
/// answers and who may call what can be checked against them.
public final class RouteTable: Sendable {
    public struct Route: Sendable, Hashable {
        public let method: HTTPRequest.Method
        /// OpenAPI style: `/api/v1/orders/{orderId}`.
        public let path: String
        public let access: Access
    }

    /// Who may call a route.
    public enum Access: Sendable, Hashable {
        /// Anyone: no key is read.
        case `public`
        /// A valid key of the tenant the request names, with any of `scopes` (any key when nil).
        case apiKey(scopes: Set<APIScope>?)
    }

    public let maxBodyBytes: Int
    private let storage: Mutex<[Route]>

    init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
        self.storage = Mutex([])
    }

    public var routes: [Route] { storage.withLock { $0 } }

    func record(_ method: HTTPRequest.Method, _ path: String, access: Access) -> RouterPath {
        storage.withLock { $0.append(Route(method: method, path: path, access: access)) }
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

/// Registers routes on one route group and records each in the table with the group's access,
/// so the table says what the group's middleware enforces.
struct RouteRegistrar<Context: RequestContext> {
    let group: RouterGroup<Context>
    let table: RouteTable
    let access: RouteTable.Access

    func get<Output: ResponseGenerator>(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Output) {
        on(.get, path, handler)
    }

    func post<Output: ResponseGenerator>(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Output) {
        on(.post, path, handler)
    }

    func put<Output: ResponseGenerator>(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Output) {
        on(.put, path, handler)
    }

    func patch<Output: ResponseGenerator>(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Output) {
        on(.patch, path, handler)
    }

    func delete<Output: ResponseGenerator>(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Output) {
        on(.delete, path, handler)
    }

    private func on<Output: ResponseGenerator>(_ method: HTTPRequest.Method, _ path: String,
                                               _ handler: @escaping @Sendable (Request, Context) async throws -> Output) {
        group.on(table.record(method, path, access: access), method: method, use: handler)
    }
}
