import Hummingbird
import PosSandbox

/// Runs `body` with the POS doubles served on a loopback port (`origin` is its base URL); the
/// server always stops.
func withSandboxServer<T>(_ sandboxes: PosSandboxes = PosSandboxes(), _ body: (_ origin: String) async throws -> T) async throws -> T {
    let router = Router()
    sandboxes.addRoutes(to: router)
    let server = try await LiveServer.start(router: router)
    do {
        let result = try await body("http://127.0.0.1:\(server.port)")
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}
