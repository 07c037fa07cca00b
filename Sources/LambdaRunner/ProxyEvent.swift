import Foundation
import HTTPTypes
import NIOCore
import NIOFoundationCompat
import PushMode

/// An API Gateway proxy event turned into the request the push routes take.
///
/// Two shapes arrive: REST APIs send payload format 1.0 (`httpMethod`, `path`, `multiValueHeaders`,
/// the client in `requestContext.identity.sourceIp`); HTTP APIs and Lambda function URLs send 2.0
/// (`version: "2.0"`, `rawPath`, `rawQueryString`, comma-joined `headers`, `cookies`, the client in
/// `requestContext.http.sourceIp`). Either may carry the body base64-encoded.
public struct ProxyEvent: Sendable {
    public enum Version: String, Sendable {
        case v1 = "1.0"
        case v2 = "2.0"
    }

    public enum Failure: Error, Equatable, CustomStringConvertible, Sendable {
        /// Not JSON, or JSON that is neither proxy payload format.
        case notAProxyEvent(String)
        /// `isBase64Encoded` with a body that is not base64 (answered 400 in the event's version).
        case invalidBase64(Version)

        public var description: String {
            switch self {
            case .notAProxyEvent(let reason): "the event is not an API Gateway proxy event (payload 1.0 or 2.0): \(reason)"
            case .invalidBase64: "the event says isBase64Encoded but its body is not base64"
            }
        }
    }

    public var version: Version
    public var request: PushHandler.Input

    public init(decoding event: ByteBuffer) throws(Failure) {
        // One decode of the event (it may be megabytes): both formats' fields, then the branch.
        let wire: Wire
        do { wire = try JSONDecoder().decode(Wire.self, from: event) } catch { throw .notAProxyEvent(Self.describe(error)) }
        if wire.version == "2.0" {
            version = .v2
            request = try Self.request(v2: wire)
        } else if wire.httpMethod != nil {
            version = .v1
            request = try Self.request(v1: wire)
        } else {
            throw .notAProxyEvent("it has neither version 2.0 nor httpMethod")
        }
    }

    /// The fields of both payload formats; which are required depends on the version.
    struct Wire: Decodable {
        struct Context: Decodable {
            struct Identity: Decodable { var sourceIp: String? }
            struct HTTP: Decodable {
                var method: String
                var sourceIp: String?
            }
            var identity: Identity?
            var http: HTTP?
            var stage: String?
        }
        var version: String?
        var headers: [String: String]?
        var requestContext: Context?
        var body: String?
        var isBase64Encoded: Bool?
        // 1.0
        var httpMethod: String?
        var path: String?
        var multiValueHeaders: [String: [String]]?
        var multiValueQueryStringParameters: [String: [String]]?
        var queryStringParameters: [String: String]?
        // 2.0
        var rawPath: String?
        var rawQueryString: String?
        var cookies: [String]?
    }

    // MARK: Payload 1.0 (REST API)

    static func request(v1 event: Wire) throws(Failure) -> PushHandler.Input {
        guard let method = event.httpMethod, let path = event.path else { throw .notAProxyEvent("missing path") }
        var fields = HTTPFields()
        if let multi = event.multiValueHeaders, !multi.isEmpty {
            for (name, values) in multi.sorted(by: { $0.key < $1.key }) {
                guard let name = HTTPField.Name(name) else { continue }
                for value in values { fields.append(HTTPField(name: name, value: value)) }
            }
        } else {
            fields = Self.fields(event.headers)
        }
        var query: [(String, String)] = []
        if let multi = event.multiValueQueryStringParameters, !multi.isEmpty {
            for (name, values) in multi.sorted(by: { $0.key < $1.key }) { query += values.map { (name, $0) } }
        } else {
            query = (event.queryStringParameters ?? [:]).sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) }
        }
        let queryText = query.map { "\(percentEncoded($0.0))=\(percentEncoded($0.1))" }.joined(separator: "&")
        return PushHandler.Input(
            method: try Self.method(method),
            path: path + (queryText.isEmpty ? "" : "?" + queryText),
            headers: fields,
            body: try body(event.body, base64: event.isBase64Encoded ?? false, version: .v1),
            clientAddress: event.requestContext?.identity?.sourceIp
        )
    }

    // MARK: Payload 2.0 (HTTP API, function URL)

    static func request(v2 event: Wire) throws(Failure) -> PushHandler.Input {
        guard let rawPath = event.rawPath else { throw .notAProxyEvent("missing rawPath") }
        guard let context = event.requestContext else { throw .notAProxyEvent("missing requestContext") }
        guard let http = context.http else { throw .notAProxyEvent("missing requestContext.http") }
        var fields = Self.fields(event.headers)
        if let cookies = event.cookies, !cookies.isEmpty { fields[.cookie] = cookies.joined(separator: "; ") }
        // A named stage prefixes rawPath (`/prod/v1/events`); the routes know the path without it.
        var path = rawPath
        if let stage = context.stage, stage != "$default", path.hasPrefix("/\(stage)/") {
            path = String(path.dropFirst(stage.count + 1))
        }
        let query = event.rawQueryString ?? ""
        return PushHandler.Input(
            method: try Self.method(http.method),
            path: path + (query.isEmpty ? "" : "?" + query),
            headers: fields,
            body: try body(event.body, base64: event.isBase64Encoded ?? false, version: .v2),
            clientAddress: http.sourceIp
        )
    }

    // MARK: Shared

    /// Single-valued headers (2.0's comma-joined ones, or 1.0 without `multiValueHeaders`).
    static func fields(_ headers: [String: String]?) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in (headers ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let name = HTTPField.Name(name) else { continue }
            fields.append(HTTPField(name: name, value: value))
        }
        return fields
    }

    static func method(_ text: String) throws(Failure) -> HTTPRequest.Method {
        guard let method = HTTPRequest.Method(text.uppercased()) else { throw .notAProxyEvent("the HTTP method is not a token") }
        return method
    }

    static func body(_ text: String?, base64: Bool, version: Version) throws(Failure) -> ByteBuffer {
        guard let text else { return ByteBuffer() }
        guard base64 else { return ByteBuffer(string: text) }
        guard let data = Data(base64Encoded: text) else { throw .invalidBase64(version) }
        return ByteBuffer(data: data)
    }

    static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// The names of the proxy formats' own fields: the only names a refusal quotes.
    private static let formatNames: Set<String> = [
        "version", "headers", "requestContext", "body", "isBase64Encoded", "httpMethod", "path", "multiValueHeaders",
        "multiValueQueryStringParameters", "queryStringParameters", "rawPath", "rawQueryString", "cookies", "identity", "http",
        "stage", "method", "sourceIp",
    ]

    /// Where decoding failed, by key path, never by value (an event body may hold personal data).
    /// Names inside `headers` and the query maps are the sender's (`?jane@example.com=1`): they are
    /// shown as `<name>`, and the refusal goes to the function's log.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "not JSON" }
        func name(_ key: any CodingKey) -> String {
            if let index = key.intValue { return String(index) }
            return formatNames.contains(key.stringValue) ? key.stringValue : "<name>"
        }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map(name).joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "missing \(parent.isEmpty ? "" : parent + ".")\(name(key))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "unexpected type at \(path(context))"
        case .dataCorrupted: return "not JSON"
        @unknown default: return "not JSON"
        }
    }
}
