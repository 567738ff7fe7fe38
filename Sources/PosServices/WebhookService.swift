import Foundation
import PosConnectors
import PosDomain
import PosStorage

/// `POST /webhooks/register`, validated: where an outlet's events go, or all of the tenant's
/// (`outletId` nil: a tenant-wide webhook, such as an ops relay for alerts).
public struct RegisterWebhook: Sendable, Equatable {
    public let outletId: String?
    public let provider: String
    public let callbackUrl: String
    /// Names from the event catalogue, without repeats.
    public let events: [String]

    public init(outletId: String?, provider: String, callbackUrl: String, events: [String]) {
        self.outletId = outletId
        self.provider = provider
        self.callbackUrl = callbackUrl
        self.events = events
    }
}

/// `PUT /webhooks/{id}`, validated: what to change; nil leaves a field as it is.
public struct UpdateWebhook: Sendable, Equatable {
    public let callbackUrl: String?
    public let events: [String]?
    public let isActive: Bool?

    public init(callbackUrl: String?, events: [String]?, isActive: Bool?) {
        self.callbackUrl = callbackUrl
        self.events = events
        self.isActive = isActive
    }
}

/// Webhook registration: validates the subscription, generates its signing secret and stores it sealed.
public struct WebhookService: Sendable {
    private let webhooks: any WebhookStore
    private let secretBox: SecretBox
    private let outboundGuard: OutboundGuard
    private let connector: any Connector
    private let rotationOverlapMs: Int64
    private let clock: ServiceClock

    public init(webhooks: any WebhookStore, secretBox: SecretBox, outboundGuard: OutboundGuard, connector: any Connector,
                rotationOverlapMs: Int64 = 86_400_000, clock: @escaping ServiceClock) {
        self.webhooks = webhooks
        self.secretBox = secretBox
        self.outboundGuard = outboundGuard
        self.connector = connector
        self.rotationOverlapMs = rotationOverlapMs
        self.clock = clock
    }

    public struct Registration: Sendable {
        public let webhook: Webhook
        /// `whsec_…`, shown only in the registration response.
        public let secret: String
        /// What the `ping` event sent on registration got.
        public let ping: Ping
    }

    /// What the receiver answered the registration's `ping` event.
    public struct Ping: Sendable, Equatable {
        /// Whether it answered with a 2xx.
        public let delivered: Bool
        /// Its HTTP status, when it answered at all.
        public let statusCode: Int?
        public let error: String?

        init(_ outcome: ConnectorOutcome) {
            delivered = outcome.succeeded
            statusCode = outcome.statusCode
            error = outcome.error
        }
    }

    public func register(_ command: RegisterWebhook, tenant: Tenant) async throws -> Registration {
        let command = try checked { () throws(ValidationError) in try command.validated() }
        let callbackUrl = command.callbackUrl
        do {
            try await outboundGuard.check(callbackUrl)
        } catch {
            throw ServiceError.invalid(field: "callbackUrl", message: "callbackUrl is not allowed: \(error.description)")
        }
        let secret = WebhookSecret.generate()
        var webhook = try await translatingStoreErrors {
            try await webhooks.createWebhook(NewWebhook(
                tenantId: tenant.id, outletId: command.outletId, provider: command.provider.lowercased(), callbackUrl: callbackUrl,
                events: command.events, sealedSecret: try secretBox.seal(secret.encoded), createdAt: clock()))
        }
        let ping = await ping(webhook, secrets: [secret])
        try await translatingStoreErrors { try await webhooks.recordPing(webhookId: webhook.id, status: ping.statusCode, error: ping.error) }
        webhook.lastPingStatus = ping.statusCode
        webhook.lastPingError = ping.error
        return Registration(webhook: webhook, secret: secret.encoded, ping: Ping(ping))
    }

    /// A small signed `ping` event; registration succeeds whatever it gets.
    private func ping(_ webhook: Webhook, secrets: [WebhookSecret]) async -> ConnectorOutcome {
        let body = #"{"type":"ping","webhookId":\#(webhook.id),"outletId":\#(webhook.outletId.map(JSONText.quoted) ?? "null"),"timestamp":"\#(RFC3339.format(milliseconds: clock()))"}"#
        return await connector.send(ConnectorRequest(
            deliveryId: "ping_" + UUID().uuidString.lowercased(), event: "ping", attemptNumber: 1, orderBytes: Array(body.utf8),
            order: nil, destination: .webhook(url: webhook.callbackUrl, secrets: secrets)))
    }

    /// Sends the signed `ping` event again (signed as deliveries are: with the secrets valid now) and
    /// keeps what it got as the webhook's last ping.
    public func sendPing(id: Int64, tenant: Tenant) async throws -> Ping {
        guard let target = try await translatingStoreErrors({ try await webhooks.webhookTarget(id: id, tenantId: tenant.id) }) else {
            throw ServiceError.notFound("no webhook with id \(id)")
        }
        let sealed = target.signingSecrets(at: clock())
        let secrets = sealed.compactMap { (try? secretBox.open($0)).flatMap(WebhookSecret.init(encoded:)) }
        guard secrets.count == sealed.count else {
            throw ServiceError.unavailable("the webhook's secret cannot be decrypted with this master key")
        }
        let outcome = await ping(target.webhook, secrets: secrets)
        try await translatingStoreErrors { try await webhooks.recordPing(webhookId: id, status: outcome.statusCode, error: outcome.error) }
        return Ping(outcome)
    }

    public func webhooks(tenant: Tenant) async throws -> [Webhook] {
        try await translatingStoreErrors { try await webhooks.webhooks(tenantId: tenant.id) }
    }

    public func webhook(id: Int64, tenant: Tenant) async throws -> Webhook {
        guard let webhook = try await translatingStoreErrors({ try await webhooks.webhook(id: id, tenantId: tenant.id) }) else {
            throw ServiceError.notFound("no webhook with id \(id)")
        }
        return webhook
    }

    /// `PUT`: any of `callbackUrl`, `events`, `isActive`. Re-enabling resumes its waiting deliveries.
    public func update(id: Int64, _ command: UpdateWebhook, tenant: Tenant) async throws -> Webhook {
        let command = try checked { () throws(ValidationError) in try command.validated() }
        let change = WebhookChange(callbackUrl: command.callbackUrl, events: command.events, isActive: command.isActive)
        if let url = change.callbackUrl {
            do { try await outboundGuard.check(url) } catch {
                throw ServiceError.invalid(field: "callbackUrl", message: "callbackUrl is not allowed: \(error.description)")
            }
        }
        guard let updated = try await translatingStoreErrors({ try await webhooks.updateWebhook(id: id, tenantId: tenant.id, change: change, at: clock()) })
        else { throw ServiceError.notFound("no webhook with id \(id)") }
        return updated
    }

    /// Soft delete; returns how many waiting deliveries were dead-lettered.
    public func delete(id: Int64, tenant: Tenant) async throws -> Int {
        guard let deadLettered = try await translatingStoreErrors({ try await webhooks.deleteWebhook(id: id, tenantId: tenant.id, at: clock()) })
        else { throw ServiceError.notFound("no webhook with id \(id)") }
        return deadLettered
    }

    /// A new secret, shown once; the old one keeps signing for the overlap.
    public func rotateSecret(id: Int64, tenant: Tenant) async throws -> Registration {
        let secret = WebhookSecret.generate()
        let now = clock()
        guard let webhook = try await translatingStoreErrors({
            try await webhooks.rotateWebhookSecret(id: id, tenantId: tenant.id, sealedSecret: try secretBox.seal(secret.encoded),
                                                   previousValidUntil: now + rotationOverlapMs, at: now)
        }) else { throw ServiceError.notFound("no webhook with id \(id)") }
        return Registration(webhook: webhook, secret: secret.encoded, ping: Ping(.notSent))
    }
}
