import ArgumentParser
import Hummingbird
import Logging
import PosDomain
import PosSandbox

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run doubles of the third parties the service talks to: OktoPOS, a desibits-style POS, Revel, Atlas Kitchen, Deliverect, Lightspeed K-Series, a loyalty service, and a signed-webhook receiver.",
        discussion: "Each POS double enforces its vendor's documented contract and records what it accepted (GET {base}/_sandbox/orders). See docs/sandbox.md.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 9090
    @Option(name: .customLong("webhook-secret"), help: "whsec_ secret the receiver verifies (repeatable; none: accept unsigned).")
    var webhookSecrets: [String] = []
    @Option(name: .customLong("oktopos-token"), help: "API token the OktoPOS double accepts.")
    var oktoposToken = OktoPOSSandbox.defaultToken
    @Option(name: .customLong("oktopos-token-header"), help: "Header the OktoPOS double reads the token from.")
    var oktoposTokenHeader = OktoPOSSandbox.defaultTokenHeader
    @Option(name: .customLong("desibits-token"), help: "Bearer token the desibits double accepts.")
    var desibitsToken = DesibitsSandbox.defaultToken
    @Option(name: .customLong("revel-key"), help: "API key the Revel double accepts (API-AUTHENTICATION: key:secret).")
    var revelKey = RevelSandbox.defaultAPIKey
    @Option(name: .customLong("revel-secret"), help: "API secret the Revel double accepts.")
    var revelSecret = RevelSandbox.defaultAPISecret
    @Option(name: .customLong("revel-webhook-url"), help: "Where the Revel double sends its webhooks (order.finalized, ping); with --revel-webhook-secret.")
    var revelWebhookURL: String?
    @Option(name: .customLong("revel-webhook-secret"), help: "Shared secret the Revel double signs its webhooks with (X-Revel-Signature).")
    var revelWebhookSecret: String?
    @Option(name: .customLong("atlas-api-key"), help: "API key the Atlas double accepts (X-Api-Key).")
    var atlasAPIKey = AtlasSandbox.defaultAPIKey
    @Option(name: .customLong("atlas-merchant-id"), help: "Merchant id the Atlas double accepts (X-Merchant-Id).")
    var atlasMerchantId = AtlasSandbox.defaultMerchantId
    @Option(name: .customLong("atlas-webhook-url"), help: "Where the Atlas double sends its webhooks; with --atlas-webhook-token.")
    var atlasWebhookURL: String?
    @Option(name: .customLong("atlas-webhook-token"), help: "Token the Atlas double's webhooks carry (Authorization: Bearer, or --atlas-webhook-header).")
    var atlasWebhookToken: String?
    @Option(name: .customLong("atlas-webhook-header"), help: "Custom header the Atlas double's webhooks carry the token in, instead of Authorization: Bearer.")
    var atlasWebhookHeader: String?
    @Option(name: .customLong("loyalty-key"), help: "X-Api-Key the loyalty-service double accepts.")
    var loyaltyKey = LoyaltySandbox.defaultAPIKey
    @Option(name: .customLong("lightspeed-client-id"), help: "OAuth client id the Lightspeed double accepts.")
    var lightspeedClientId = LightspeedSandbox.defaultClientId
    @Option(name: .customLong("lightspeed-client-secret"), help: "OAuth client secret the Lightspeed double accepts.")
    var lightspeedClientSecret = LightspeedSandbox.defaultClientSecret
    @Flag(name: .customLong("lightspeed-manual-accept"), help: "Do not send SUCCESS after each Lightspeed order; send webhooks with POST /lightspeed/_sandbox/webhook.")
    var lightspeedManualAccept = false
    @Option(name: .customLong("deliverect-client-id"), help: "Client id the Deliverect double's token endpoint accepts.")
    var deliverectClientId = DeliverectSandbox.defaultClientId
    @Option(name: .customLong("deliverect-client-secret"), help: "Client secret the Deliverect double's token endpoint accepts.")
    var deliverectClientSecret = DeliverectSandbox.defaultClientSecret
    @Option(name: .customLong("deliverect-channel-name"), help: "The channel scope (lowercase) the Deliverect double's tokens carry.")
    var deliverectChannelName = DeliverectSandbox.defaultChannelName
    @Option(name: .customLong("deliverect-channel-link-id"), help: "A channel link id the Deliverect double knows (repeatable).")
    var deliverectChannelLinkIds: [String] = []
    @Option(name: .customLong("deliverect-token-lifetime"), help: "Seconds a Deliverect double token lives.")
    var deliverectTokenLifetime: Int64 = 3600
    @Option(name: .customLong("deliverect-webhook-url"), help: "Where the Deliverect double sends its signed status webhooks.")
    var deliverectWebhookURL: String?
    @Option(name: .customLong("deliverect-webhook-secret"), help: "HMAC secret of the Deliverect double's webhooks (default: the channel link id, as in Deliverect's staging).")
    var deliverectWebhookSecret: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard OktoPOSSandbox.isValidHeaderName(oktoposTokenHeader) else {
            throw ValidationError("--oktopos-token-header must be a valid HTTP header name")
        }
        for (name, value) in [("--oktopos-token", oktoposToken), ("--desibits-token", desibitsToken), ("--revel-key", revelKey),
                              ("--revel-secret", revelSecret), ("--loyalty-key", loyaltyKey)] where value.isEmpty {
            throw ValidationError("\(name) must not be empty")
        }
        guard !revelKey.contains(":") else { throw ValidationError("--revel-key must not contain ':' (the header is key:secret)") }
        guard (revelWebhookURL == nil) == (revelWebhookSecret == nil), revelWebhookURL != "", revelWebhookSecret != "" else {
            throw ValidationError("--revel-webhook-url and --revel-webhook-secret go together and must not be empty")
        }
        guard !lightspeedClientId.isEmpty, !lightspeedClientSecret.isEmpty else {
            throw ValidationError("--lightspeed-client-id and --lightspeed-client-secret must not be empty")
        }
        guard !atlasAPIKey.isEmpty, !atlasMerchantId.isEmpty else { throw ValidationError("--atlas-api-key and --atlas-merchant-id must not be empty") }
        guard (atlasWebhookURL == nil) == (atlasWebhookToken == nil), atlasWebhookURL != "", atlasWebhookToken != "" else {
            throw ValidationError("--atlas-webhook-url and --atlas-webhook-token go together and must not be empty")
        }
        if let header = atlasWebhookHeader, !OktoPOSSandbox.isValidHeaderName(header) {
            throw ValidationError("--atlas-webhook-header must be a valid HTTP header name")
        }
        guard !deliverectClientId.isEmpty, !deliverectClientSecret.isEmpty, !deliverectChannelName.isEmpty,
              deliverectChannelName == deliverectChannelName.lowercased(), deliverectTokenLifetime > 0,
              deliverectChannelLinkIds.allSatisfy({ !$0.isEmpty }), deliverectWebhookURL != "", deliverectWebhookSecret != "" else {
            throw ValidationError("--deliverect-* options must not be empty; the channel name is lowercase; the token lifetime is positive")
        }
    }

    func run() async throws {
        try CLILogging.bootstrap()
        let logger = Logger(label: "pos-integration-sandbox")
        let secrets = try webhookSecrets.map { text in
            guard let secret = WebhookSecret(encoded: text) else { throw ValidationError("--webhook-secret must look like whsec_<base64>") }
            return secret
        }
        let sandboxes = PosSandboxes(
            oktopos: OktoPOSSandbox(token: oktoposToken, tokenHeader: oktoposTokenHeader),
            desibits: DesibitsSandbox(token: desibitsToken),
            revel: RevelSandbox(apiKey: revelKey, apiSecret: revelSecret,
                                webhook: revelWebhookURL.flatMap { url in revelWebhookSecret.map { RevelSandbox.WebhookTarget(url: url, secret: $0) } }),
            webhook: SignedWebhookReceiver(secrets: secrets),
            atlas: AtlasSandbox(apiKey: atlasAPIKey, merchantId: atlasMerchantId,
                                webhook: atlasWebhookURL.flatMap { url in
                                    atlasWebhookToken.map { AtlasSandbox.WebhookTarget(url: url, token: $0, header: atlasWebhookHeader) }
                                }),
            deliverect: DeliverectSandbox(clientId: deliverectClientId, clientSecret: deliverectClientSecret, channelName: deliverectChannelName,
                                          channelLinkIds: deliverectChannelLinkIds.isEmpty ? DeliverectSandbox.defaultChannelLinkIds : deliverectChannelLinkIds,
                                          tokenLifetime: deliverectTokenLifetime,
                                          webhook: deliverectWebhookURL.map { DeliverectSandbox.WebhookTarget(url: $0, secret: deliverectWebhookSecret) }),
            lightspeed: LightspeedSandbox(clientId: lightspeedClientId, clientSecret: lightspeedClientSecret, autoAccept: !lightspeedManualAccept),
            loyalty: LoyaltySandbox(apiKey: loyaltyKey))
        let router = Router()
        sandboxes.addRoutes(to: router)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "pos-integration-sandbox"),
            logger: logger)
        let urls = PosSandboxes.baseURLs(origin: "http://\(host):\(port)")
        // The credentials below are the doubles' own sandbox values (defaults are published in docs/sandbox.md),
        // not secrets of any real system, so logging them is deliberate: it tells you what to configure.
        logger.info("sandbox: OktoPOS", metadata: [
            "baseUrl": .string(urls.oktopos), "auth": .string("\(oktoposTokenHeader): \(oktoposToken)"),
        ])
        logger.info("sandbox: desibits POS", metadata: [
            "baseUrl": .string(urls.desibits), "auth": .string("Authorization: Bearer \(desibitsToken)"),
        ])
        logger.info("sandbox: Revel", metadata: [
            "baseUrl": .string(urls.revel), "auth": .string("API-AUTHENTICATION: \(revelKey):\(revelSecret)"),
            "contentType": .string("cart submit needs text/plain"),
            "webhooks": .string(revelWebhookURL.map { "to \($0); POST \(urls.revel)/_sandbox/orders/{id}/finalize sends order.finalized" }
                ?? "none: PUT \(urls.revel)/_sandbox/webhook {\"url\",\"secret\"} to send them"),
        ])
        let atlasURL = "http://\(host):\(port)\(PosSandboxes.atlasPrefix)"
        logger.info("sandbox: Atlas Kitchen", metadata: [
            "baseUrl": .string(atlasURL), "auth": .string("X-Api-Key: \(atlasAPIKey), X-Merchant-Id: \(atlasMerchantId)"),
            "webhooks": .string(atlasWebhookURL.map { "to \($0), each event twice; POST \(atlasURL)/_sandbox/orders/{id}/events sends one" }
                ?? "none: PUT \(atlasURL)/_sandbox/webhook {\"url\",\"token\"} to send them"),
        ])
        logger.info("sandbox: loyalty service", metadata: [
            "baseUrl": .string("http://\(host):\(port)\(PosSandboxes.loyaltyPrefix)"), "auth": .string("X-Api-Key: \(loyaltyKey)"),
            "customer": .string("\(LoyaltySandbox.defaultCustomer.uuid) (\(LoyaltySandbox.defaultCustomer.email), 130 points)"),
        ])
        let lightspeedURL = "http://\(host):\(port)\(PosSandboxes.lightspeedPrefix)"
        logger.info("sandbox: Lightspeed K-Series", metadata: [
            "baseUrl": .string(lightspeedURL), "auth": .string("OAuth authorization code, client \(lightspeedClientId):\(lightspeedClientSecret)"),
            "webhooks": .string(lightspeedManualAccept ? "POST \(lightspeedURL)/_sandbox/webhook {\"thirdPartyReference\",\"status\"} sends one"
                : "SUCCESS after each order to the registered endpoint; POST \(lightspeedURL)/_sandbox/webhook sends more"),
        ])
        let deliverectURL = "http://\(host):\(port)\(PosSandboxes.deliverectPrefix)"
        logger.info("sandbox: Deliverect", metadata: [
            "baseUrl": .string(deliverectURL), "clientId": .string(deliverectClientId), "clientSecret": .string(deliverectClientSecret),
            "channelName": .string(deliverectChannelName),
            "channelLinkIds": .string((deliverectChannelLinkIds.isEmpty ? DeliverectSandbox.defaultChannelLinkIds : deliverectChannelLinkIds).joined(separator: ",")),
            "webhooks": .string(deliverectWebhookURL.map { "to \($0), statuses 999 then 20 after each order" }
                ?? "none: PUT \(deliverectURL)/_sandbox/webhook {\"url\",\"secret\"?} to send them"),
        ])
        logger.info("sandbox: signed-webhook receiver", metadata: [
            "url": .string(urls.webhook), "secrets": .string(secrets.isEmpty ? "none (accepts unsigned)" : "\(secrets.count) configured"),
        ])
        try await app.runService()
    }
}
