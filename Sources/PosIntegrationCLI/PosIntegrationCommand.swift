import ArgumentParser
import NIOCore
import NIOPosix

@main
struct PosIntegrationCommand: AsyncParsableCommand {
    static func main() async {
        // Run Swift concurrency on NIO's event loops: a request then stays on one thread instead of
        // hopping between the event loop and the cooperative pool (two context switches saved).
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "pos-integration",
        abstract: "One API in front of many restaurant POS systems.",
        subcommands: [ServeCommand.self, MigrateCommand.self, ConfigCommand.self, TenantCommand.self, KeyCommand.self, SandboxCommand.self]
    )
}
