import CAPICore
import ConnectorRuntime
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOFoundationCompat

/// Every answer shape of the sidecar, in one place: the mirror routes' JSON and Meta's error envelope.
extension PushServer {
    // MARK: Answers

    static func single(_ result: Intake.Result) -> Response {
        switch result {
        case .accepted: json(body(of: result), status: .accepted)
        case .conflict: json(body(of: result), status: .conflict)
        case .rejected: json(body(of: result), status: .badRequest)
        }
    }

    static func body(of result: Intake.Result) -> JSONValue {
        switch result {
        case .accepted(let answer, _): answer
        case .conflict(let id):
            .object([
                "status": .string("conflict"), "event_id": .string(id),
                "message": .string("an event with this pixel_id, event_id and event_time was accepted with different content"),
            ])
        case .rejected(let problems, let warnings):
            .object([
                "status": .string("rejected"), "error": .string("invalid_event"),
                "problems": .array(
                    problems.map { .object(["field": .string($0.field), "code": .string($0.code.rawValue), "message": .string($0.message)]) }
                ),
                "warnings": .array(warnings.map(JSONValue.string)),
            ])
        }
    }

    static func problems(_ problems: [EventProblem]) -> Response {
        json(body(of: .rejected(problems)), status: .badRequest)
    }

    static func methodNotAllowed(allowed: [HTTPRequest.Method]) -> Response {
        let names = allowed.map(\.rawValue)
        var response = json(
            .object(["error": .string("method_not_allowed"), "message": .string("this route takes \(names.joined(separator: " or ")) only")]),
            status: .methodNotAllowed
        )
        response.headers[.allow] = names.joined(separator: ", ")
        return response
    }

    /// OPTIONS: the methods the route takes, and no body.
    static func options(allowed: [HTTPRequest.Method]) -> Response {
        Response(status: .noContent, headers: [.allow: (allowed + [.options]).map(\.rawValue).joined(separator: ", ")])
    }

    static func tooLarge(_ limit: Int) -> Response {
        json(.object(["error": .string("body_too_large"), "limit_bytes": .integer(Int64(limit))]), status: .contentTooLarge, close: true)
    }

    static func metaError(
        status: HTTPResponse.Status,
        code: Int,
        subcode: Int? = nil,
        message: String,
        userMessage: String? = nil,
        transient: Bool = false,
        close: Bool = false
    ) -> Response {
        var error: JSONObject = [
            "message": .string(message), "type": .string("OAuthException"), "code": .integer(Int64(code)), "is_transient": .bool(transient),
            "fbtrace_id": .string("capi-" + UUID().uuidString.prefix(12).lowercased()),
        ]
        if let subcode { error["error_subcode"] = .integer(Int64(subcode)) }
        if let userMessage { error["error_user_msg"] = .string(userMessage) }
        // A transient refusal says when to come back, as the mirror routes' 503s do.
        return json(.object(["error": .object(error)]), status: status, retryAfter: transient ? 1 : nil, close: close)
    }

    /// - Parameter close: the answer comes before the body was read; the connection is closed after
    ///   it instead of reading the rest of a body nobody will use.
    static func json(_ value: JSONValue, status: HTTPResponse.Status, retryAfter: Int? = nil, close: Bool = false) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if close { headers[.connection] = "close" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.serialized)))
    }
}
