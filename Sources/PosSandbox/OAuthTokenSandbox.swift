import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import Synchronization

/// A double of an OAuth 2 token endpoint (RFC 6749) and of one resource behind it, strict where a
/// real POS is strict:
///
/// - `POST {prefix}/token`, `application/x-www-form-urlencoded`, client authenticated by HTTP Basic
///   (or `client_id`/`client_secret` in the body): `grant_type=client_credentials` or
///   `grant_type=refresh_token&refresh_token=…`. Access tokens expire after ``accessTokenLifetime``
///   seconds. Refresh tokens are single-use: a refresh spends it, issues a new pair and revokes the
///   access token of the old pair; a reused or unknown refresh token is `400 {"error":"invalid_grant"}`.
/// - `GET {prefix}/resource` answers `{"ok":true}` to `Authorization: Bearer <live token>` and 401
///   with `WWW-Authenticate: Bearer error="invalid_token"` otherwise.
/// - `GET {prefix}/_sandbox/stats` (counts), `POST {prefix}/_sandbox/revoke-access-tokens` (every
///   access token issued so far stops working, as when a POS revokes early), no authentication.
public final class OAuthTokenSandbox: Sendable {
    // Sandbox credentials, not secrets.
    public static let defaultClientId = "oauth-sandbox-client"
    public static let defaultClientSecret = "oauth-sandbox-secret"

    public let clientId: String
    public let clientSecret: String
    /// Seconds an access token lives (`expires_in`).
    public let accessTokenLifetime: Int64
    /// How long the token endpoint takes to answer a grant, so concurrent callers overlap as they would
    /// against a real one.
    public let grantLatency: Duration

    public struct Stats: Sendable, Equatable {
        public var clientCredentialsGrants = 0
        /// Refresh-token grants received, good or bad.
        public var refreshGrants = 0
        /// Refresh grants refused because the token was unknown or already spent.
        public var invalidGrants = 0
        public var resourceCalls = 0
        public var resourceRejections = 0
    }

    struct State {
        var stats = Stats()
        /// Live access tokens and when they expire (ms since the epoch).
        var accessTokens: [String: Int64] = [:]
        /// Unspent refresh tokens and the access token issued with each.
        var refreshTokens: [String: String] = [:]
        var issued = 0
        var rejectAllResourceCalls = false
    }

    private let state = Mutex(State())

    public init(clientId: String = OAuthTokenSandbox.defaultClientId, clientSecret: String = OAuthTokenSandbox.defaultClientSecret,
                accessTokenLifetime: Int64 = 3600, grantLatency: Duration = .zero) {
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.accessTokenLifetime = accessTokenLifetime
        self.grantLatency = grantLatency
    }

    // MARK: In-process access

    public var stats: Stats { state.withLock { $0.stats } }

    /// Every access token issued so far stops working; refresh tokens stay valid.
    public func revokeAccessTokens() {
        state.withLock { $0.accessTokens = [:] }
    }

    /// While on, the resource answers 401 to every token, fresh or not.
    public func rejectAllResourceCalls(_ reject: Bool) {
        state.withLock { $0.rejectAllResourceCalls = reject }
    }

    public func reset() {
        state.withLock { $0 = State() }
    }

    // MARK: Routes

    public func addRoutes<Context: RequestContext>(to router: Router<Context>, prefix: String = "/oauth-sandbox") {
        router.post(RouterPath(prefix + "/token")) { request, _ -> Response in
            let body = Array(try await request.body.collect(upTo: 64 * 1024).readableBytesView)
            if self.grantLatency > .zero { try await Task.sleep(for: self.grantLatency) }
            return self.grant(headers: request.headers, body: body)
        }
        router.get(RouterPath(prefix + "/resource")) { request, _ -> Response in
            self.resource(authorization: request.headers[.authorization])
        }
        router.get(RouterPath(prefix + "/_sandbox/stats")) { _, _ -> Response in
            let stats = self.stats
            return SandboxHTTP.json(200, .object([
                ("clientCredentialsGrants", .int(stats.clientCredentialsGrants)), ("refreshGrants", .int(stats.refreshGrants)),
                ("invalidGrants", .int(stats.invalidGrants)), ("resourceCalls", .int(stats.resourceCalls)),
                ("resourceRejections", .int(stats.resourceRejections)),
            ]))
        }
        router.post(RouterPath(prefix + "/_sandbox/revoke-access-tokens")) { _, _ -> Response in
            self.revokeAccessTokens()
            return SandboxHTTP.json(200, .object([("revoked", .bool(true))]))
        }
    }

    static func oauthError(_ status: Int, _ code: String, _ description: String) -> Response {
        SandboxHTTP.json(status, .object([("error", .string(code)), ("error_description", .string(description))]))
    }

    func grant(headers: HTTPFields, body: [UInt8]) -> Response {
        guard headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            return Self.oauthError(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
        }
        let form = Self.formFields(String(decoding: body, as: UTF8.self))
        let client = Self.basicCredentials(headers[.authorization]) ?? (form["client_id"] ?? "", form["client_secret"] ?? "")
        guard client.0 == clientId, client.1 == clientSecret else {
            return Self.oauthError(401, "invalid_client", "unknown client or wrong secret")
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return state.withLock { state -> Response in
            switch form["grant_type"] ?? "" {
            case "client_credentials":
                state.stats.clientCredentialsGrants += 1
            case "refresh_token":
                state.stats.refreshGrants += 1
                guard let presented = form["refresh_token"], let access = state.refreshTokens.removeValue(forKey: presented) else {
                    state.stats.invalidGrants += 1
                    return Self.oauthError(400, "invalid_grant", "the refresh token is unknown or was already used")
                }
                state.accessTokens[access] = nil
            case let other:
                return Self.oauthError(400, "unsupported_grant_type", "grant_type \(other.isEmpty ? "(missing)" : other) is not supported")
            }
            state.issued += 1
            let access = "at-\(state.issued)-\(UUID().uuidString.lowercased())"
            let refresh = "rt-\(state.issued)-\(UUID().uuidString.lowercased())"
            state.accessTokens[access] = now + accessTokenLifetime * 1000
            state.refreshTokens[refresh] = access
            return SandboxHTTP.json(200, .object([
                ("access_token", .string(access)), ("token_type", .string("Bearer")),
                ("expires_in", .number(String(accessTokenLifetime))), ("refresh_token", .string(refresh)),
            ]))
        }
    }

    func resource(authorization: String?) -> Response {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return state.withLock { state -> Response in
            state.stats.resourceCalls += 1
            guard !state.rejectAllResourceCalls, let header = authorization, header.hasPrefix("Bearer "),
                  let expiresAt = state.accessTokens[String(header.dropFirst("Bearer ".count))], expiresAt > now
            else {
                state.stats.resourceRejections += 1
                var response = Self.oauthError(401, "invalid_token", "the access token is missing, expired or revoked")
                response.headers[.wwwAuthenticate] = #"Bearer error="invalid_token""#
                return response
            }
            return SandboxHTTP.json(200, .object([("ok", .bool(true))]))
        }
    }

    static func formFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
            }
            if let key = parts.first { fields[decode(key)] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return fields
    }

    /// `Authorization: Basic base64(urlencoded id ":" urlencoded secret)` (RFC 6749 §2.3.1).
    static func basicCredentials(_ header: String?) -> (String, String)? {
        guard let header, header.hasPrefix("Basic "), let data = Data(base64Encoded: String(header.dropFirst("Basic ".count))),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        let decode = { (part: Substring) in String(part).removingPercentEncoding ?? String(part) }
        return (decode(text[..<colon]), decode(text[text.index(after: colon)...]))
    }
}
