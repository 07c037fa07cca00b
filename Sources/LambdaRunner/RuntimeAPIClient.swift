import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

/// The Lambda Runtime API, the small HTTP protocol between a custom runtime and the Lambda
/// service (`AWS_LAMBDA_RUNTIME_API`), over AsyncHTTPClient.
///
/// `next` long-polls for an invocation; the answer goes to `response` or `error` under the
/// invocation's request id; a failure before the first `next` goes to `init/error`, after which
/// the process exits and Lambda reports the init failure to the caller.
public struct RuntimeAPIClient: Sendable {
    /// One event to handle, with what the Lambda service says about it.
    public struct Invocation: Sendable {
        public var requestID: String
        /// When Lambda stops the invocation, in Unix milliseconds (`Lambda-Runtime-Deadline-Ms`).
        public var deadlineMillis: Int64
        public var functionARN: String?
        public var traceID: String?
        public var event: ByteBuffer
    }

    public enum Failure: Error, CustomStringConvertible, Sendable {
        /// The Runtime API answered with an unexpected status.
        case status(path: String, code: UInt)
        /// `next` answered without a request id.
        case missingRequestID
        case transport(path: String, reason: String)

        public var description: String {
            switch self {
            case .status(let path, let code): "the Lambda Runtime API answered \(code) to \(path)"
            case .missingRequestID: "the Lambda Runtime API sent an invocation without Lambda-Runtime-Aws-Request-Id"
            case .transport(let path, let reason): "the Lambda Runtime API could not be reached for \(path): \(reason)"
            }
        }
    }

    static let version = "2018-06-01"
    /// The largest event the runtime reads: Lambda's synchronous limit is 6 MB, with room to spare.
    static let maximumEventBytes = 7 * 1_048_576

    let base: String
    let http: HTTPClient

    /// - Parameter endpoint: `host:port` as `AWS_LAMBDA_RUNTIME_API` gives it.
    public init(endpoint: String, http: HTTPClient = .shared) {
        base = "http://\(endpoint)/\(Self.version)/runtime"
        self.http = http
    }

    /// Waits for the next invocation (no timeout: Lambda freezes the process while none is due).
    public func next() async throws(Failure) -> Invocation {
        let path = "/invocation/next"
        let response = try await perform(HTTPClientRequest(url: base + path), path: path, timeout: .hours(24 * 365))
        guard response.status == 200 else { throw .status(path: path, code: response.status) }
        guard let requestID = response.headers["lambda-runtime-aws-request-id"], !requestID.isEmpty else { throw .missingRequestID }
        return Invocation(
            requestID: requestID,
            deadlineMillis: Int64(response.headers["lambda-runtime-deadline-ms"] ?? "") ?? 0,
            functionARN: response.headers["lambda-runtime-invoked-function-arn"],
            traceID: response.headers["lambda-runtime-trace-id"],
            event: response.body
        )
    }

    /// Posts the invocation's result.
    public func respond(to requestID: String, body: ByteBuffer) async throws(Failure) {
        try await post("/invocation/\(requestID)/response", body: body)
    }

    /// Reports that the invocation failed (the caller sees a 502 from API Gateway).
    public func fail(_ requestID: String, type: String, message: String) async throws(Failure) {
        try await post("/invocation/\(requestID)/error", body: Self.errorBody(type: type, message: message), errorType: type)
    }

    /// Reports that the runtime could not start; the process should exit after this.
    public func failInitialization(type: String, message: String) async throws(Failure) {
        try await post("/init/error", body: Self.errorBody(type: type, message: message), errorType: type)
    }

    static func errorBody(type: String, message: String) -> ByteBuffer {
        let object: [String: String] = ["errorType": type, "errorMessage": message]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return ByteBuffer(bytes: data)
    }

    private func post(_ path: String, body: ByteBuffer, errorType: String? = nil) async throws(Failure) {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.body = .bytes(body)
        request.headers.add(name: "Content-Type", value: "application/json")
        if let errorType { request.headers.add(name: "Lambda-Runtime-Function-Error-Type", value: errorType) }
        let response = try await perform(request, path: path, timeout: .seconds(30))
        guard (200..<300).contains(response.status) else { throw .status(path: path, code: response.status) }
    }

    private struct Answer {
        var status: UInt
        /// Lower-cased names.
        var headers: [String: String]
        var body: ByteBuffer
    }

    private func perform(_ request: HTTPClientRequest, path: String, timeout: TimeAmount) async throws(Failure) -> Answer {
        do {
            let response = try await http.execute(request, timeout: timeout)
            var headers: [String: String] = [:]
            for header in response.headers { headers[header.name.lowercased()] = header.value }
            let body = try await response.body.collect(upTo: Self.maximumEventBytes)
            return Answer(status: response.status.code, headers: headers, body: body)
        } catch {
            throw .transport(path: path, reason: String(describing: type(of: error)))
        }
    }
}
