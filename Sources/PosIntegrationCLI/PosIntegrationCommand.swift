import ArgumentParser

@main
struct PosIntegrationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pos-integration",
        abstract: "One API in front of many restaurant POS systems.",
        subcommands: [ServeCommand.self, MigrateCommand.self, TenantCommand.self, KeyCommand.self, SandboxCommand.self]
    )
}
