import Foundation
import Hummingbird
import PosDomain
import PosHTTP
import PosServices

/// `/console/sign-in` and sign-out: a pasted key opens a session; the key itself is never kept
/// in the browser.
struct SignInPages: Sendable {
    let kit: ConsoleKit

    func register(on router: Router<PosRequestContext>) {
        router.get("\(Console.root)/sign-in", use: form)
        router.post("\(Console.root)/sign-in", use: signIn)
        router.post("\(Console.root)/sign-out", use: kit.action(signOut))
    }

    struct SignInView {
        let message: String?
    }

    struct SignInForm: Decodable {
        let key: String?
    }

    @Sendable func form(_ request: Request, context: PosRequestContext) async throws -> Response {
        try kit.render("sign-in", title: "Sign in", view: SignInView(message: nil), visit: nil)
    }

    @Sendable func signIn(_ request: Request, context: PosRequestContext) async throws -> Response {
        if let refused = try kit.crossSiteRefusal(request) { return refused }
        var request = request
        let body = String(buffer: try await request.collectBody(upTo: kit.settings.maxBodyBytes))
        let key = (try? URLEncodedFormDecoder().decode(SignInForm.self, from: body))?.key ?? ""
        do {
            let (id, _) = try await kit.services.sessions.signIn(key: key, claim: kit.claim(request))
            var response = ConsoleKit.redirect(to: Console.root)
            response.setCookie(sessionCookie(value: id.rawValue, maxAge: nil))
            return response
        } catch ServiceError.unauthorized {
            return try kit.render("sign-in", title: "Sign in", view: SignInView(message: "That key was not accepted."), visit: nil,
                                  status: .unauthorized)
        } catch ServiceError.forbidden(let message, _) {
            return try kit.render("sign-in", title: "Sign in", view: SignInView(message: message), visit: nil, status: .forbidden)
        }
    }

    @Sendable func signOut(_ visit: Visit) async throws -> Response {
        try await kit.services.sessions.signOut(visit.session)
        var response = ConsoleKit.redirect(to: "\(Console.root)/sign-in")
        response.setCookie(sessionCookie(value: "", maxAge: 0))
        return response
    }

    private func sessionCookie(value: String, maxAge: Int?) -> Cookie {
        Cookie(name: ConsoleKit.cookieName, value: value, maxAge: maxAge, path: Console.root, secure: kit.settings.secureCookie,
               httpOnly: true, sameSite: .strict)
    }
}

/// The stylesheet and the small refresh script, served from memory with the console's headers.
enum StaticAssets {
    static func register(on router: Router<PosRequestContext>, kit: ConsoleKit) {
        for (name, contentType) in [("console.css", "text/css; charset=utf-8"), ("console.js", "text/javascript; charset=utf-8")] {
            let body = (try? String(contentsOf: Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Static")
                    ?? URL(fileURLWithPath: "/nonexistent"), encoding: .utf8)) ?? ""
            router.get("\(Console.root)/static/\(name)") { _, _ -> Response in
                var headers = ConsoleKit.securityHeaders
                headers[.contentType] = contentType
                headers[.cacheControl] = "public, max-age=300"
                return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
            }
        }
    }
}
