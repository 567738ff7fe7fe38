import Foundation
import PosConnectors
import PosDomain
import PosStorage

/// Webhook registration: validates the subscription, generates its signing secret and stores it sealed.
public struct WebhookService: Sendable {
    private let webhooks: any WebhookStore
    private let secretBox: SecretBox
    private let outboundGuard: OutboundGuard
    private let clock: ServiceClock

    public init(webhooks: any WebhookStore, secretBox: SecretBox, outboundGuard: OutboundGuard, clock: @escaping ServiceClock) {
        self.webhooks = webhooks
        self.secretBox = secretBox
        self.outboundGuard = outboundGuard
        self.clock = clock
    }

    public struct Registration: Sendable {
        public let webhook: Webhook
        /// `whsec_…`, shown only in the registration response.
        public let secret: String
    }

    public func register(body: [UInt8], tenant: Tenant) async throws -> Registration {
        let root: JSONNode
        do {
            root = try JSONParser.parse(body)
        } catch {
            throw ServiceError.invalid(field: "", message: "request body is not valid JSON", details: error.description)
        }
        let outletId: String, provider: String, callbackUrl: String
        var events: [String] = []
        do throws(ValidationError) {
            let reader = try FieldReader.object(root, path: "")
            outletId = try reader.identifier("outletId")
            provider = try reader.identifier("provider")
            callbackUrl = try reader.string("callbackUrl", maxLength: 2048)
            for element in try reader.array("events", minCount: 1) {
                guard case .string(let name) = element.node.kind else {
                    throw ValidationError(field: element.path, message: "must be a string, not \(element.node.typeName)")
                }
                guard EventCatalogue.contains(name) else {
                    throw ValidationError(field: element.path, message: "must be one of: \(EventCatalogue.names.joined(separator: ", "))")
                }
                if !events.contains(name) { events.append(name) }
            }
        } catch {
            throw ServiceError.invalid(error)
        }
        do {
            try await outboundGuard.check(callbackUrl)
        } catch {
            throw ServiceError.invalid(field: "callbackUrl", message: "callbackUrl is not allowed: \(error.description)")
        }
        let secret = WebhookSecret.generate().encoded
        let webhook = try await translatingStoreErrors {
            try await webhooks.createWebhook(NewWebhook(
                tenantId: tenant.id, outletId: outletId, provider: provider.lowercased(), callbackUrl: callbackUrl,
                events: events, sealedSecret: try secretBox.seal(secret), createdAt: clock()))
        }
        return Registration(webhook: webhook, secret: secret)
    }
}
