import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The push routes as a function from request values to response values, for runners that have
/// no socket (a Lambda behind API Gateway): the same router, signature middleware, validation,
/// hashing and idempotent commit as the HTTP server, not a copy of them.
public struct PushHandler: Sendable {
    /// A request as a runner received it.
    public struct Input: Sendable {
        public var method: HTTPRequest.Method
        /// Path with the query string, as sent (`/v1/events?source=shop`).
        public var path: String
        public var headers: HTTPFields
        public var body: ByteBuffer
        /// The caller's IP address as the platform reports it.
        public var clientAddress: String?

        public init(method: HTTPRequest.Method, path: String, headers: HTTPFields, body: ByteBuffer, clientAddress: String?) {
            self.method = method
            self.path = path
            self.headers = headers
            self.body = body
            self.clientAddress = clientAddress
        }
    }

    /// The answer, with its body collected.
    public struct Output: Sendable {
        public var status: HTTPResponse.Status
        public var headers: HTTPFields
        public var body: ByteBuffer

        public init(status: HTTPResponse.Status, headers: HTTPFields, body: ByteBuffer) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    let responder: RouterResponder<DirectRequestContext>
    let logger: Logger

    public init(server: PushServer, logger: Logger = Logger(label: "capi.push")) {
        self.responder = server.makeRouter(context: DirectRequestContext.self).buildResponder()
        self.logger = logger
    }

    public func handle(_ input: Input) async -> Output {
        let request = Request(
            head: HTTPRequest(method: input.method, scheme: "https", authority: nil, path: input.path, headerFields: input.headers),
            body: RequestBody(buffer: input.body)
        )
        let context = DirectRequestContext(source: .init(logger: logger, peerAddress: input.clientAddress))
        let response: Response
        do {
            response = try await responder.respond(to: request, context: context)
        } catch let error as any HTTPResponseError {
            // Unknown routes and methods, as the HTTP server answers them.
            do {
                response = try error.response(from: request, context: context)
            } catch {
                return Output(status: .internalServerError, headers: [:], body: ByteBuffer())
            }
        } catch {
            logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(type(of: error))"])
            return Output(status: .internalServerError, headers: [:], body: ByteBuffer())
        }
        let sink = BodySink()
        do {
            try await response.body.write(sink)
        } catch {
            return Output(status: .internalServerError, headers: [:], body: ByteBuffer())
        }
        // As the HTTP server answers HEAD: GET's status and headers, no body.
        return Output(status: response.status, headers: response.headers, body: input.method == .head ? ByteBuffer() : sink.buffer)
    }
}

/// Collects a response body written as a stream.
private final class BodySink: ResponseBodyWriter {
    var buffer = ByteBuffer()

    func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        self.buffer.writeBuffer(&buffer)
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
