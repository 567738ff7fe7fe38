import Foundation
import Hummingbird
import PosServices

/// Health, readiness and the OpenAPI document: no authentication.
struct SystemRoutes: Sendable {
    let health: HealthService

    struct Status: Encodable { let status: String }

    func live(_ request: Request, context: PosRequestContext) async throws -> JSONResponse<Status> {
        JSONResponse(Status(status: "healthy"))
    }

    func ready(_ request: Request, context: PosRequestContext) async throws -> JSONResponse<Status> {
        do throws(HealthService.NotReady) {
            try await health.checkReady()
            return JSONResponse(Status(status: "ready"))
        } catch {
            context.logger.warning("readiness check failed", metadata: ["reason": .string(error.reason)])
            throw APIError(status: .serviceUnavailable, message: error.reason)
        }
    }

    func openAPI(_ request: Request, context: PosRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
    }
}

/// The OpenAPI 3.1 document shipped with the service.
public enum OpenAPIDocument {
    public static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
              let data = try? Data(contentsOf: url)
        else { return Array(#"{"openapi":"3.1.0","info":{"title":"missing","version":"0"},"paths":{}}"#.utf8) }
        return Array(data)
    }()
}
