import NIOCore
import NIOHTTP1

/// Answers a request line or header block the HTTP/1 parser refused with what was wrong, instead
/// of Hummingbird's bare `400` for any parse error, which left the sender to guess: `431` for a
/// head over the parser's limits (80 KiB together, or 1,000 fields), as RFC 6585 has it; `505` for
/// a version other than HTTP/1.x (an HTTP/2 client speaking to it without a proxy); `400` naming
/// the part that is malformed otherwise. The answer names the rule broken, never the request's
/// bytes.
///
/// Requests read before it on the connection (pipelined) are answered first; the refusal follows
/// the last of their answers, and the connection is closed after it, since the parser cannot go
/// on after an error. A parse error inside a body (a chunk size that is not hexadecimal) is left
/// to the route reading that body.
final class MalformedHeadAnswer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Requests read whose answer has not ended yet.
    private var unanswered = 0
    /// Between a request's head and the end of its body: a parse error then is the body's.
    private var insideBody = false
    /// The parser stopped at a head it refused; the answer waits for `unanswered` to be 0.
    private var refusalDue: Refusal?

    struct Refusal {
        var status: HTTPResponseStatus
        var error: String
        var message: String

        var body: String { #"{"error":"\#(error)","message":"\#(message)"}"# }
    }

    /// RFC 9112 §6.3: without `chunked` last, a request's body has no length to read.
    static let unreadableLength =
        "the body's length cannot be read: a Transfer-Encoding must end with chunked and come without Content-Length"

    /// The answer to a parse error in a request line or header block; `nil` for errors that are
    /// not about them.
    static func refusal(for error: HTTPParserError) -> Refusal? {
        func malformed(_ message: String) -> Refusal { Refusal(status: .badRequest, error: "malformed_request", message: message) }
        switch error {
        case .headerOverflow:
            return Refusal(
                status: .requestHeaderFieldsTooLarge,
                error: "headers_too_large",
                message: "the request line and header fields are over 80 KiB together, or over 1000 fields"
            )
        case .paused:
            // The parser stops at HTTP/2's connection preface (`PRI * HTTP/2.0`).
            return Refusal(
                status: .httpVersionNotSupported,
                error: "http_version_not_supported",
                message: "this server speaks HTTP/1.1 and HTTP/1.0; an HTTP/2 client needs a proxy in front that speaks HTTP/1.1 to it"
            )
        case .invalidVersion:
            // Also a line ended by LF alone, where the parser expects CR LF after the version.
            return malformed(
                "the request line does not end with HTTP/1.1 or HTTP/1.0 and CR LF: this server speaks HTTP/1.1 and HTTP/1.0, and every line of a head ends with CR LF"
            )
        case .invalidMethod:
            return malformed("the request line does not start with a method token (METHOD SP TARGET SP HTTP/1.1)")
        case .invalidConstant:
            return malformed("the request line is not METHOD SP TARGET SP HTTP/1.1: a space in the target must be percent-encoded (%20)")
        case .invalidURL:
            return malformed("the request target has a character a URL does not allow: spaces and control characters must be percent-encoded")
        case .invalidHeaderToken:
            return malformed("a header field has a character HTTP does not allow in its name or value, or white space before its colon")
        case .invalidContentLength:
            return malformed("Content-Length is not a decimal number of bytes, or is too large")
        case .unexpectedContentLength:
            return malformed("Content-Length is given twice, or together with Transfer-Encoding")
        case .unknown:
            // In a head, the parser's other refusals are of the message's framing.
            return malformed(unreadableLength)
        default:
            return nil
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            unanswered += 1
            insideBody = true
        case .body: break
        case .end: insideBody = false
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        unanswered -= 1
        context.write(data, promise: promise)
        if let refusalDue, unanswered == 0 { refuse(refusalDue, context) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !insideBody, let parserError = error as? HTTPParserError, let refusal = Self.refusal(for: parserError) else {
            context.fireErrorCaught(error)
            return
        }
        refusalDue = refusal
        if unanswered == 0 { refuse(refusal, context) }
    }

    private func refuse(_ refusal: Refusal, _ context: ChannelHandlerContext) {
        refusalDue = nil
        let body = ByteBuffer(string: refusal.body)
        let headers: HTTPHeaders = [
            "content-type": "application/json", "content-length": String(body.readableBytes), "connection": "close",
        ]
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: refusal.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}
