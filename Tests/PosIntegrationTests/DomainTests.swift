import Crypto
import Foundation
import PosDomain
import Testing

@Suite("Domain core")
struct DomainTests {
    @Test("the parser keeps each value's exact byte span")
    func spans() throws {
        let text = #"{ "a" : [1, {"b":"\u00e9"}] ,"order":  {"x" :1.50e0}  }"#
        let bytes = Array(text.utf8)
        let root = try JSONParser.parse(bytes)
        let order = try #require(root["order"])
        #expect(String(decoding: bytes[order.span], as: UTF8.self) == #"{"x" :1.50e0}"#)
        guard case .array(let elements)? = root["a"]?.kind, case .string(let decoded)? = elements[1]["b"]?.kind else {
            Issue.record("unexpected shape")
            return
        }
        #expect(decoded == "é")
        guard case .number(let raw)? = order["x"]?.kind else { Issue.record("number expected"); return }
        #expect(raw == "1.50e0")
    }

    @Test("the parser rejects what RFC 8259 rejects, plus duplicate keys and deep nesting",
          arguments: ["", "{", "{\"a\":1,}", "[1 2]", "01", "1.", "-", "\"\\x\"", "\"\u{01}\"", "{\"a\":1}x",
                      "\"\\ud800\"", "{\"a\":1,\"a\":2}", "tru", String(repeating: "[", count: 65) + String(repeating: "]", count: 65)])
    func rejects(_ text: String) {
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test("surrogate pairs decode to one scalar")
    func surrogates() throws {
        let root = try JSONParser.parse(Array(#"["\ud83c\udf54"]"#.utf8))
        guard case .array(let elements) = root.kind, case .string(let burger) = elements[0].kind else {
            Issue.record("unexpected shape")
            return
        }
        #expect(burger == "🍔")
    }

    @Test("money is parsed exactly in minor units", arguments: [
        ("35", "SGD", Int64(3500)), ("12.5", "SGD", 1250), ("0.10", "SGD", 10), ("1.25e1", "SGD", 1250),
        ("1000", "JPY", 1000), ("1.000", "JPY", 1), ("0.125", "KWD", 125), ("0", "AED", 0), ("12.340", "SGD", 1234),
    ])
    func money(_ text: String, _ code: String, _ expected: Int64) throws {
        let money = try Money.parse(text, currency: try #require(Currency(code: code)))
        #expect(money.minorUnits == expected)
    }

    @Test("money beyond the currency's digits, negative or huge is refused")
    func moneyRefusals() throws {
        let sgd = try #require(Currency(code: "SGD"))
        let jpy = try #require(Currency(code: "JPY"))
        #expect(throws: Money.ParseError.tooManyFractionDigits(allowed: 2)) { try Money.parse("0.001", currency: sgd) }
        #expect(throws: Money.ParseError.tooManyFractionDigits(allowed: 0)) { try Money.parse("1.5", currency: jpy) }
        #expect(throws: Money.ParseError.negative) { try Money.parse("-1", currency: sgd) }
        #expect(throws: Money.ParseError.outOfRange) { try Money.parse("1e300", currency: sgd) }
        #expect(throws: Money.ParseError.outOfRange) { try Money.parse("99999999999999999999", currency: sgd) }
        #expect(Money(minorUnits: 1205, currency: sgd).decimalString == "12.05")
        #expect(Money(minorUnits: 7, currency: try #require(Currency(code: "KWD"))).decimalString == "0.007")
    }

    @Test("RFC 3339 accepts Z and offsets, refuses everything else")
    func rfc3339() {
        #expect(RFC3339.parseMilliseconds("2024-12-01T14:30:00Z") == 1_733_063_400_000)
        #expect(RFC3339.parseMilliseconds("2024-12-01T22:30:00+08:00") == 1_733_063_400_000)
        #expect(RFC3339.parseMilliseconds("2024-12-01T14:30:00.5Z") == 1_733_063_400_500)
        #expect(RFC3339.parseMilliseconds("2024-02-29T00:00:00Z") != nil)
        for bad in ["2024-12-01", "2024-12-01T14:30:00", "2024-12-01 14:30:00Z", "2023-02-29T00:00:00Z",
                    "2024-13-01T00:00:00Z", "2024-12-01T24:00:00Z", "2024-12-01T14:30:00+0800", "2024-12-01T14:30:00.Z"] {
            #expect(RFC3339.parseMilliseconds(bad) == nil, "\(bad)")
        }
        #expect(RFC3339.format(milliseconds: 1_733_063_400_500) == "2024-12-01T14:30:00.500Z")
        #expect(RFC3339.format(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
    }

    @Test("Standard Webhooks reference vector")
    func standardWebhooksVector() throws {
        // From the Standard Webhooks reference libraries' tests.
        let secret = try #require(WebhookSecret(encoded: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let signature = WebhookSigning.standardSignature(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8), secret: secret)
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test("X-Cata-Signature is hex HMAC-SHA256 of the body under the decoded secret")
    func cataSignature() throws {
        let secret = WebhookSecret.generate()
        let body = Array(#"{"a":1}"#.utf8)
        let expected = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret.bytes))
        #expect(WebhookSigning.cataSignature(body: body, secret: secret) == "sha256=" + Hex.encode(expected))
        #expect(WebhookSecret(encoded: secret.encoded) == secret)
    }

    @Test("API keys: format, hashing, constant-time match")
    func apiKeys() throws {
        let secret = APIKeyToken.generateSecret()
        let token = APIKeyToken(apiKeyId: 42, secret: secret)
        let parsed = try #require(APIKeyToken(rawValue: token.rawValue))
        #expect(parsed == token)
        #expect(parsed.matches(storedHash: APIKeyToken.hash(secret: secret)))
        #expect(!parsed.matches(storedHash: APIKeyToken.hash(secret: APIKeyToken.generateSecret())))
        for bad in ["", "posk_", "posk_x_abc", "posk_1_short", "sk_1_" + secret, "posk_0_" + secret] {
            #expect(APIKeyToken(rawValue: bad) == nil, "\(bad)")
        }
    }

    @Test("secrets at rest open only with the master key that sealed them")
    func secretBox() throws {
        let box = try SecretBox(encodedMasterKey: SecretBox.generateEncodedMasterKey())
        let sealed = try box.seal("whsec_abc")
        #expect(!sealed.contains("whsec_abc"))
        #expect(try box.open(sealed) == "whsec_abc")
        let other = try SecretBox(encodedMasterKey: SecretBox.generateEncodedMasterKey())
        #expect(throws: SecretBox.Failure.unreadableCiphertext) { try other.open(sealed) }
        #expect(throws: SecretBox.Failure.invalidMasterKey) { try SecretBox(encodedMasterKey: "short") }
    }

    @Test("tenant claims from Host and X-Tenant-ID")
    func tenantClaims() {
        let acme = Tenant(id: "t-1", subdomain: "acme", name: "Acme")
        #expect(TenantClaim(host: "acme.pos.test", tenantHeader: nil, baseDomain: "pos.test").permits(acme))
        #expect(TenantClaim(host: "ACME.pos.test:8443", tenantHeader: "t-1", baseDomain: "pos.test").permits(acme))
        #expect(TenantClaim(host: "localhost:8080", tenantHeader: nil, baseDomain: "pos.test").permits(acme))
        #expect(!TenantClaim(host: "other.pos.test", tenantHeader: nil, baseDomain: "pos.test").permits(acme))
        #expect(!TenantClaim(host: nil, tenantHeader: "t-2", baseDomain: nil).permits(acme))
        #expect(TenantClaim(host: nil, tenantHeader: "acme", baseDomain: nil).permits(acme))
    }

    @Test("durations in settings")
    func durations() {
        #expect(DurationText.milliseconds("250ms") == 250)
        #expect(DurationText.milliseconds("10s") == 10_000)
        #expect(DurationText.milliseconds("5m") == 300_000)
        #expect(DurationText.milliseconds("2h") == 7_200_000)
        #expect(DurationText.milliseconds("3") == 3_000)
        #expect(DurationText.milliseconds("-1s") == nil)
        #expect(DurationText.milliseconds("soon") == nil)
    }
}
