import ArgumentParser
import Hummingbird
import Logging
import PosDomain
import PosSandbox

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run doubles of the third parties the service talks to (for now: a signed-webhook receiver).")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 9090
    @Option(name: .customLong("webhook-secret"), help: "whsec_ secret the receiver verifies (repeatable; none: accept unsigned).")
    var webhookSecrets: [String] = []

    func run() async throws {
        CLILogging.bootstrap()
        let logger = Logger(label: "pos-integration-sandbox")
        let secrets = try webhookSecrets.map { text in
            guard let secret = WebhookSecret(encoded: text) else { throw ValidationError("--webhook-secret must look like whsec_<base64>") }
            return secret
        }
        let router = Router()
        SignedWebhookReceiver(secrets: secrets).addRoutes(to: router)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "pos-integration-sandbox"),
            logger: logger)
        logger.info("sandbox listening", metadata: ["webhook": .string("http://\(host):\(port)/webhook/{name}")])
        try await app.runService()
    }
}
