import Foundation
import Hummingbird
import PosDomain
import PosServices

/// A request body's typed, validated form, read at the edge; a service receives only this.
protocol JSONBodyCommand: Sendable {
    /// `bytes` is the whole body and `root` its parse, which keeps each value's byte span.
    init(json root: JSONNode, bytes: [UInt8]) throws(ValidationError)
}

/// Reads JSON request bodies into commands: 415 for another content type, 413 past the limit,
/// 400 for an empty or malformed body, or naming the first invalid field by its JSON path.
struct JSONBodyDecoder: Sendable {
    let maxBodyBytes: Int

    func decode<Command: JSONBodyCommand>(_ type: Command.Type = Command.self, from request: Request) async throws -> Command {
        try Self.command(Command.self, from: try await body(request))
    }

    /// The command in a JSON body already read.
    static func command<Command: JSONBodyCommand>(_ type: Command.Type = Command.self, from bytes: [UInt8]) throws(ServiceError) -> Command {
        let root: JSONNode
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            throw .invalid(field: "", message: "request body is not valid JSON", details: error.description)
        }
        do {
            return try Command(json: root, bytes: bytes)
        } catch {
            throw .invalid(error)
        }
    }

    private func body(_ request: Request) async throws -> [UInt8] {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let mediaType = contentType.split(separator: ";").first?.trimmingCharacters(in: .whitespaces) ?? ""
        guard mediaType == "application/json" else {
            throw APIError(status: .unsupportedMediaType, message: "Content-Type must be application/json",
                           details: contentType.isEmpty ? "no Content-Type header was sent" : "got \(contentType)")
        }
        let buffer = try await request.body.collect(upTo: maxBodyBytes)
        guard buffer.readableBytes > 0 else {
            throw APIError(status: .badRequest, message: "request body is empty; a JSON object is required")
        }
        return Array(buffer.readableBytesView)
    }
}
