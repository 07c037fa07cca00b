import NIOCore
import NIOHTTP1

/// Answers a request whose request line and header fields are over the parser's limits (80 KiB
/// together, or 1,000 fields) with `431`, as RFC 6585 has it, instead of Hummingbird's bare `400`
/// for any parse error, which left the sender to guess what was wrong.
///
/// Requests read before it on the connection (pipelined) are answered first; the `431` follows
/// the last of their answers, and the connection is closed after it, since the parser cannot go
/// on after an error.
final class OversizedHeadRefusal: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Requests read whose answer has not ended yet.
    private var unanswered = 0
    /// The parser stopped at a head over its limits; the refusal waits for `unanswered` to be 0.
    private var refusalDue = false

    static let body = #"{"error":"headers_too_large","message":"the request line and header fields are over 80 KiB together, or over 1000 fields"}"#

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { unanswered += 1 }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        unanswered -= 1
        context.write(data, promise: promise)
        if refusalDue, unanswered == 0 { refuse(context) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError, case .headerOverflow = parserError else {
            context.fireErrorCaught(error)
            return
        }
        refusalDue = true
        if unanswered == 0 { refuse(context) }
    }

    private func refuse(_ context: ChannelHandlerContext) {
        refusalDue = false
        let body = ByteBuffer(string: Self.body)
        let headers: HTTPHeaders = [
            "content-type": "application/json", "content-length": String(body.readableBytes), "connection": "close",
        ]
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .requestHeaderFieldsTooLarge, headers: headers))),
            promise: nil
        )
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}
