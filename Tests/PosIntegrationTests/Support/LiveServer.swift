import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Runs a Hummingbird application on an ephemeral loopback port for the length of a test.
final class LiveServer: Sendable {
    let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.task = task
    }

    static func start<Responder: HTTPResponderBuilder>(router: Responder, services: [any Service] = []) async throws -> LiveServer
    where Responder.Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
        try await start { onServerRunning in
            Application(
                router: router,
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                services: services,
                onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? -1) },
                logger: testLogger
            )
        }
    }

    /// Runs the application `make` builds; it must listen on port 0 and report the port it got.
    static func start(_ make: (_ onServerRunning: @escaping @Sendable (Int) async -> Void) -> some Service) async throws -> LiveServer {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = make { port in
            continuation.yield(port)
            continuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: testLogger))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            throw TestFailure("server did not start")
        }
        return LiveServer(port: port, group: group, task: task)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}


struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
