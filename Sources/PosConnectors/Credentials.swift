import Foundation
import NIOHTTP1
import PosDomain

/// What a call to a POS is authorized with, opened for the length of one call.
public enum Credential: Sendable, Equatable, CustomStringConvertible {
    /// A key and secret the operator entered, used as they are.
    case staticKey(key: String, secret: String)
    /// An OAuth 2 bearer token the service obtained and keeps fresh.
    case accessToken(String)

    /// Never the secret itself: credentials may end up in a log line by accident.
    public var description: String {
        switch self {
        case .staticKey: "Credential.staticKey(redacted)"
        case .accessToken: "Credential.accessToken(redacted)"
        }
    }
}

/// How a POS authenticates. A connector that says nothing uses a static key.
public enum CredentialScheme: Sendable, Equatable {
    case staticKey
    /// OAuth 2: the connection's `apiKey`/`apiSecret` are the client id and secret; tokens come from
    /// `tokenURL` (client credentials, then single-use refresh tokens).
    case oauth2(tokenURL: String, scope: String?)
    /// OAuth 2 authorization code (Lightspeed K-Series): the merchant approves our client once and the
    /// callback stores the first token pair; after that only (single-use) refresh tokens. With no
    /// stored pair, or a refresh refused as spent, the connection needs the merchant to authorize again.
    case oauth2AuthorizationCode(tokenURL: String)
    /// OAuth 2 client credentials asked with a JSON body `{client_id, client_secret, audience,
    /// grant_type}` and no refresh token: a new token is asked (under the same cross-replica lease)
    /// when the last one is near `expires_at` or refused (Deliverect).
    case oauth2JSONClientCredentials(tokenURL: String, audience: String)
}

/// A credential could not be had (the token endpoint refused or did not answer).
public struct CredentialFailure: Error, Sendable, Equatable {
    public var failureClass: FailureClass
    public var message: String
    public var retryable: Bool
    /// The token endpoint's OAuth `error` code (`invalid_grant`), when it answered one.
    public var oauthError: String?

    public init(_ failureClass: FailureClass, _ message: String, retryable: Bool, oauthError: String? = nil) {
        self.failureClass = failureClass
        self.message = message
        self.retryable = retryable
        self.oauthError = oauthError
    }
}

/// Where a connector asks for the credential of one call. The service's `CredentialProvider`
/// implements it: a static key as stored, or an OAuth token it keeps fresh across replicas.
public protocol CredentialSource: Sendable {
    func credential() async throws(CredentialFailure) -> Credential
    /// The POS answered 401 to `rejected`: a fresh credential to retry with once, or nil when a new
    /// one cannot help (a static key is what it is).
    func credential(replacing rejected: Credential) async throws(CredentialFailure) -> Credential?
}

/// A static key and secret, as stored.
public struct StaticCredentialSource: CredentialSource {
    private let key: String
    private let secret: String

    public init(key: String, secret: String) {
        self.key = key
        self.secret = secret
    }

    public func credential() async throws(CredentialFailure) -> Credential { .staticKey(key: key, secret: secret) }

    public func credential(replacing rejected: Credential) async throws(CredentialFailure) -> Credential? { nil }
}

/// A tenant's connection to one POS for one call: where it is, its options, and where its
/// credentials come from (never the secrets themselves).
public struct ProviderAccess: Sendable {
    /// The POS's API root, without a trailing slash.
    public var baseUrl: String
    public var webhookUrl: String
    /// Connector-specific options (`{"tokenHeader": "X-API-Key"}`); never secrets.
    public var config: JSONValue
    public var credentials: any CredentialSource
    /// The connection's `webhookSecret`, for a POS we register our webhook endpoint with (Lightspeed's
    /// HTTP Basic password); nil when none is set. Never logged.
    public var webhookSecret: String?
    /// Stores one key of the connection's `config` (Lightspeed's registered `endpointId`); nil where the
    /// caller cannot write the connection (a test's bare access).
    public var rememberConfig: (@Sendable (_ key: String, _ value: JSONValue) async throws -> Void)?

    public init(baseUrl: String, webhookUrl: String, config: JSONValue, credentials: any CredentialSource, webhookSecret: String? = nil,
                rememberConfig: (@Sendable (_ key: String, _ value: JSONValue) async throws -> Void)? = nil) {
        self.baseUrl = baseUrl.hasSuffix("/") ? String(baseUrl.dropLast()) : baseUrl
        self.webhookUrl = webhookUrl
        self.config = config
        self.credentials = credentials
        self.webhookSecret = webhookSecret
        self.rememberConfig = rememberConfig
    }
}

/// Tokens an OAuth 2 token endpoint issued (RFC 6749 §5.1).
public struct IssuedToken: Sendable, Equatable, CustomStringConvertible {
    public var accessToken: String
    public var refreshToken: String?
    /// Seconds the access token lives, when the endpoint said.
    public var expiresIn: Int64?
    /// When the access token expires (unix seconds), when the endpoint said (Deliverect's `expires_at`);
    /// preferred over ``expiresIn``.
    public var expiresAt: Int64?

    public init(accessToken: String, refreshToken: String?, expiresIn: Int64?, expiresAt: Int64? = nil) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresIn = expiresIn
        self.expiresAt = expiresAt
    }

    public var description: String {
        "IssuedToken(redacted, expiresIn: \(expiresIn.map(String.init) ?? "?"), expiresAt: \(expiresAt.map(String.init) ?? "?"))"
    }
}

/// The OAuth 2 token endpoint: client credentials and refresh-token grants, client authenticated
/// with HTTP Basic (RFC 6749 §2.3.1), form-encoded bodies.
public struct OAuthTokenEndpoint: Sendable {
    private let transport: HTTPTransport

    public init(transport: HTTPTransport) {
        self.transport = transport
    }

    public func clientCredentials(tokenURL: String, clientId: String, clientSecret: String, scope: String?) async throws(CredentialFailure) -> IssuedToken {
        try await grant(tokenURL: tokenURL, clientId: clientId, clientSecret: clientSecret,
                        form: [("grant_type", "client_credentials")] + (scope.map { [("scope", $0)] } ?? []))
    }

    /// Exchanges an authorization `code` from the merchant's approval (RFC 6749 §4.1.3); `redirectUri`
    /// must be the one the authorize URL named.
    public func authorizationCode(tokenURL: String, clientId: String, clientSecret: String, code: String, redirectUri: String) async throws(CredentialFailure) -> IssuedToken {
        try await grant(tokenURL: tokenURL, clientId: clientId, clientSecret: clientSecret,
                        form: [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectUri)])
    }

    /// Client credentials as a JSON body, the client in the body too (Deliverect:
    /// `{"client_id","client_secret","audience","grant_type":"client_credentials"}`, answered with
    /// `access_token`, `expires_at` in unix seconds and `expires_in`).
    public func clientCredentialsJSON(tokenURL: String, clientId: String, clientSecret: String, audience: String) async throws(CredentialFailure)
        -> IssuedToken {
        let body = JSONValue.object([
            ("client_id", .string(clientId)), ("client_secret", .string(clientSecret)), ("audience", .string(audience)),
            ("grant_type", .string("client_credentials")),
        ])
        return try await post(tokenURL: tokenURL, headers: [("Content-Type", "application/json"), ("Accept", "application/json")], body: body.bytes)
    }

    /// Spends `refreshToken`: a POS with single-use refresh tokens answers `invalid_grant` to a second use.
    public func refresh(tokenURL: String, clientId: String, clientSecret: String, refreshToken: String) async throws(CredentialFailure) -> IssuedToken {
        try await grant(tokenURL: tokenURL, clientId: clientId, clientSecret: clientSecret,
                        form: [("grant_type", "refresh_token"), ("refresh_token", refreshToken)])
    }

    private func grant(tokenURL: String, clientId: String, clientSecret: String, form: [(String, String)]) async throws(CredentialFailure) -> IssuedToken {
        let basic = Data("\(Self.formEncoded(clientId)):\(Self.formEncoded(clientSecret))".utf8).base64EncodedString()
        let body = form.map { "\(Self.formEncoded($0.0))=\(Self.formEncoded($0.1))" }.joined(separator: "&")
        return try await post(tokenURL: tokenURL, headers: [
            ("Authorization", "Basic \(basic)"), ("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json"),
        ], body: Array(body.utf8))
    }

    private func post(tokenURL: String, headers: [(String, String)], body: [UInt8]) async throws(CredentialFailure) -> IssuedToken {
        let response: HTTPTransport.Response
        do throws(HTTPTransport.Failure) {
            response = try await transport.send(method: .POST, url: tokenURL, headers: headers, body: body)
        } catch {
            throw Self.failure(error)
        }
        let json = (try? JSONParser.parse(response.body)).map(JSONValue.init)
        guard (200..<300).contains(response.status) else {
            // 400 invalid_grant / 401 invalid_client: asking again will not help; 5xx and 429 may.
            // RFC 6749 says `error`; Deliverect says `code` and `description`.
            let code = json?["error"]?.stringValue ?? [json?["code"]?.stringValue, json?["description"]?.stringValue]
                .compactMap { $0 }.joined(separator: ": ").nilIfEmpty ?? "HTTP \(response.status)"
            let retryable = response.status == 429 || response.status >= 500
            throw CredentialFailure(retryable ? .httpStatus : .auth, "the token endpoint answered HTTP \(response.status): \(code)", retryable: retryable,
                                    oauthError: json?["error"]?.stringValue)
        }
        guard let access = json?["access_token"]?.stringValue, !access.isEmpty else {
            throw CredentialFailure(.unexpectedResponse, "the token endpoint answered without access_token", retryable: false)
        }
        return IssuedToken(accessToken: access, refreshToken: json?["refresh_token"]?.stringValue, expiresIn: json?["expires_in"]?.integerValue,
                           expiresAt: json?["expires_at"]?.integerValue)
    }

    static func failure(_ error: HTTPTransport.Failure) -> CredentialFailure {
        switch error {
        case .timeout(let message): CredentialFailure(.timeout, "token endpoint: \(message)", retryable: true)
        case .network(let message): CredentialFailure(.network, "token endpoint: \(message)", retryable: true)
        case .invalidURL(let message): CredentialFailure(.invalidTarget, "token endpoint: \(message)", retryable: false)
        case .forbiddenTarget(let message): CredentialFailure(.forbiddenTarget, "token endpoint: \(message)", retryable: false)
        }
    }

    /// `application/x-www-form-urlencoded` escaping: unreserved characters stay, everything else is %XX.
    static func formEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
