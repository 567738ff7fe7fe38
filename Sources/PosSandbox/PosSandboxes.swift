import Hummingbird

/// Every third-party double on one router: OktoPOS at `/oktopos`, the desibits-style POS at `/desibits`,
/// Revel at `/revel`, Atlas Kitchen at `/atlas`, Deliverect at `/deliverect`, Lightspeed K-Series at `/lightspeed`, an OAuth 2 token endpoint at `/oauth-sandbox`, the loyalty service at `/loyalty`, and the
/// signed-webhook receiver at `/webhook/…`.
public final class PosSandboxes: Sendable {
    public static let oktoposPrefix = "/oktopos"
    public static let desibitsPrefix = "/desibits"
    public static let revelPrefix = "/revel"
    public static let atlasPrefix = "/atlas"
    public static let deliverectPrefix = "/deliverect"
    public static let oauthPrefix = "/oauth-sandbox"
    public static let loyaltyPrefix = "/loyalty"
    public static let lightspeedPrefix = "/lightspeed"

    public let oktopos: OktoPOSSandbox
    public let desibits: DesibitsSandbox
    public let revel: RevelSandbox
    public let atlas: AtlasSandbox
    public let deliverect: DeliverectSandbox
    public let webhook: SignedWebhookReceiver
    public let oauth: OAuthTokenSandbox
    public let loyalty: LoyaltySandbox
    public let lightspeed: LightspeedSandbox

    public init(
        oktopos: OktoPOSSandbox = OktoPOSSandbox(), desibits: DesibitsSandbox = DesibitsSandbox(), revel: RevelSandbox = RevelSandbox(),
        webhook: SignedWebhookReceiver = SignedWebhookReceiver(secrets: []), oauth: OAuthTokenSandbox = OAuthTokenSandbox(),
        atlas: AtlasSandbox = AtlasSandbox(), deliverect: DeliverectSandbox = DeliverectSandbox(), lightspeed: LightspeedSandbox = LightspeedSandbox(),
        loyalty: LoyaltySandbox = LoyaltySandbox()
    ) {
        self.lightspeed = lightspeed
        self.oktopos = oktopos
        self.desibits = desibits
        self.revel = revel
        self.atlas = atlas
        self.deliverect = deliverect
        self.webhook = webhook
        self.oauth = oauth
        self.loyalty = loyalty
    }

    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        oktopos.addRoutes(to: router, prefix: Self.oktoposPrefix)
        desibits.addRoutes(to: router, prefix: Self.desibitsPrefix)
        revel.addRoutes(to: router, prefix: Self.revelPrefix)
        atlas.addRoutes(to: router, prefix: Self.atlasPrefix)
        deliverect.addRoutes(to: router, prefix: Self.deliverectPrefix)
        webhook.addRoutes(to: router)
        oauth.addRoutes(to: router, prefix: Self.oauthPrefix)
        loyalty.addRoutes(to: router, prefix: Self.loyaltyPrefix)
        lightspeed.addRoutes(to: router, prefix: Self.lightspeedPrefix)
    }

    /// Base URLs a connector is configured with, for a sandbox listening at `origin` (`http://127.0.0.1:9090`).
    public static func baseURLs(origin: String) -> (oktopos: String, desibits: String, revel: String, webhook: String) {
        (origin + oktoposPrefix, origin + desibitsPrefix, origin + revelPrefix, origin + "/webhook/{name}")
    }

    /// Forgets everything the POS doubles recorded (the webhook receiver has its own `DELETE /webhook/received`).
    public func reset() {
        oktopos.reset()
        desibits.reset()
        revel.reset()
        atlas.reset()
        deliverect.reset()
        oauth.reset()
        loyalty.reset()
        lightspeed.reset()
    }
}
