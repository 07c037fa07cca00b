import NIOCore
import NIOHTTP1

/// Closes the connection after answering a request that asks for that, however it asks.
///
/// Hummingbird closes after an answer only when the request's `Connection` field is exactly
/// `close`, and the HTTP types it reads carry no version. So an HTTP/1.0 request without
/// `keep-alive`, a `Connection: Close`, or `Connection: TE, close` kept its connection open until
/// the idle deadline, where RFC 9112 has the server close once it has answered; a client that
/// reads its answer to the end of the connection waited that long. Placed before the conversion to
/// those types, this handler writes such a request's `Connection` as `close` (NIO's `isKeepAlive`
/// reads the version and every token) and says `close` in the answer, as RFC 9112 recommends.
final class ConnectionCloseRequests: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// For each request read and not answered yet, in order: whether it asked to close.
    private var closing = CircularBuffer<Bool>(initialCapacity: 2)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        let close = !head.isKeepAlive
        closing.append(close)
        if close, head.headers["connection"] != ["close"] {
            head.headers.replaceOrAdd(name: "connection", value: "close")
            context.fireChannelRead(wrapInboundOut(.head(head)))
            return
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // A `100 Continue` is not the answer.
        guard case .head(var head) = unwrapOutboundIn(data), head.status.code >= 200, let close = closing.popFirst() else {
            context.write(data, promise: promise)
            return
        }
        if close, head.isKeepAlive {
            head.headers.replaceOrAdd(name: "connection", value: "close")
            context.write(wrapOutboundOut(.head(head)), promise: promise)
            return
        }
        context.write(data, promise: promise)
    }
}
