import Hummingbird
import Logging
import PosServices

/// Turns every failure into the error envelope: service errors, Hummingbird's own (413, 404),
/// a known path with the wrong method (405 with `Allow`), and anything unexpected (500, logged).
public struct ErrorEnvelopeMiddleware: RouterMiddleware {
    public typealias Context = PosRequestContext
    let routes: RouteTable

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as ServiceError {
            if case .unavailable(let reason) = error {
                context.logger.warning("dependency unavailable", metadata: ["reason": .string(reason)])
            }
            return try APIError(error).response(from: request, context: context)
        } catch let error as HTTPError {
            return try envelope(for: error.status, message: error.body, request: request).response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            // Hummingbird's and NIO's own, e.g. NIOTooManyBytesError from collecting an oversized body.
            return try envelope(for: error.status, message: nil, request: request).response(from: request, context: context)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": .string(String(describing: error))])
            return try APIError(status: .internalServerError, message: "internal server error",
                                details: "request id \(context.requestId)").response(from: request, context: context)
        }
    }

    private func envelope(for status: HTTPResponse.Status, message: String?, request: Request) -> APIError {
        switch status {
        case .notFound:
            let allowed = routes.methods(matching: request.uri.path)
            guard !allowed.isEmpty else {
                return APIError(status: .notFound, message: "no route for \(request.method.rawValue) \(request.uri.path)")
            }
            var notAllowed = APIError(status: .methodNotAllowed, message: "method \(request.method.rawValue) is not allowed on \(request.uri.path)",
                                      details: "allowed: \(allowed.map(\.rawValue).joined(separator: ", "))")
            notAllowed.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
            return notAllowed
        case .contentTooLarge:
            return APIError(status: .contentTooLarge, message: "request body is too large", details: "the limit is \(routes.maxBodyBytes) bytes")
        default:
            return APIError(status: status, message: message ?? status.reasonPhrase)
        }
    }
}
