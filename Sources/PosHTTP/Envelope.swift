import Hummingbird
import PosDomain

/// The one success envelope of a command's answer: `{code, isSuccess, message, …}` with the
/// payload's fields beside the three. `code` mirrors the status.
struct Envelope<Payload: Encodable>: Encodable, ResponseGenerator {
    let status: HTTPResponse.Status
    let message: String
    let payload: Payload

    init(_ status: HTTPResponse.Status = .ok, message: String, _ payload: Payload) {
        self.status = status
        self.message = message
        self.payload = payload
    }

    private enum Keys: String, CodingKey {
        case code, isSuccess, message
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(status.code, forKey: .code)
        try container.encode(true, forKey: .isSuccess)
        try container.encode(message, forKey: .message)
        // Into the same object: the payload's keys sit at the top level.
        try payload.encode(to: encoder)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try JSONResponse(self, status: status).response(from: request, context: context)
    }
}

extension Int64 {
    /// RFC 3339 UTC text of epoch milliseconds.
    var rfc3339: String { RFC3339.format(milliseconds: self) }
}
