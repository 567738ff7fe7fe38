import Foundation
import Hummingbird
import PosServices

/// The one error envelope (decisions D3), for every non-2xx response:
/// `{"error":{"code","message","details","field"}}`.
public struct APIError: HTTPResponseError, Equatable {
    public let status: HTTPResponse.Status
    public let message: String
    public let details: String
    public let field: String
    public var headers: HTTPFields = [:]

    public init(status: HTTPResponse.Status, message: String, details: String = "", field: String = "") {
        self.status = status
        self.message = message
        self.details = details
        self.field = field
    }

    /// The single body every authentication failure gets, whatever the cause.
    public static let unauthorized = APIError(status: .unauthorized, message: "invalid or missing API key",
                                              details: "send a valid key in the X-Api-Key header")

    struct Envelope: Encodable {
        struct Body: Encodable {
            let code: Int
            let message: String
            let details: String
            let field: String
        }
        let error: Body
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let envelope = Envelope(error: .init(code: status.code, message: message, details: details, field: field))
        var response = try JSONResponse(envelope, status: status).response(from: request, context: context)
        response.headers.append(contentsOf: headers)
        return response
    }

    /// The one mapping from a service failure's kind to an HTTP status and message: the JSON API's
    /// envelope, and the console's error pages.
    public init(_ error: ServiceError) {
        switch error {
        case .invalid(let field, let message, let details):
            self.init(status: .badRequest, message: message, details: details, field: field)
        case .unauthorized:
            self = .unauthorized
        case .unverified(let message):
            self.init(status: .unauthorized, message: message)
        case .forbidden(let message, let field):
            self.init(status: .forbidden, message: message, field: field)
        case .notFound(let message):
            self.init(status: .notFound, message: message)
        case .conflict(let message, let details):
            self.init(status: .conflict, message: message, details: details)
        case .preconditionFailed(let message, let details):
            self.init(status: .preconditionFailed, message: message, details: details)
        case .unavailable(let message):
            self.init(status: .serviceUnavailable, message: "service temporarily unavailable", details: message)
        case .badGateway(let message, let details):
            self.init(status: .badGateway, message: message, details: details)
        case .notConfigured(let message, let details):
            self.init(status: .serviceUnavailable, message: message, details: details)
        case .gatewayTimeout(let message, let details):
            self.init(status: .gatewayTimeout, message: message, details: details)
        case .unprocessable(let message, let details):
            self.init(status: .unprocessableContent, message: message, details: details)
        case .upstreamRefused(let status, let message, let details):
            self.init(status: HTTPResponse.Status(code: status), message: message, details: details)
        }
    }
}

extension AnsweredStatus {
    /// The JSON API's statuses, for the service logs that keep what a caller was answered.
    public static let http = AnsweredStatus(success: Int(HTTPResponse.Status.ok.code), failure: { Int(APIError($0).status.code) })
}

/// A JSON body with a chosen status, encoded without Foundation's `\/` escaping.
public struct JSONResponse<Value: Encodable>: ResponseGenerator {
    let value: Value
    let status: HTTPResponse.Status

    public init(_ value: Value, status: HTTPResponse.Status = .ok) {
        self.value = value
        self.status = status
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try Self.encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
