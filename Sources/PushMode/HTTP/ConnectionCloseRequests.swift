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
/// An HTTP/1.0 request that asks to keep its connection is told `keep-alive` in the answer, which
/// such a client waits for before it sends the next request on the connection (`ab -k`).
final class ConnectionCloseRequests: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// What a request asked of its connection, when the answer has to say it.
    enum Asked {
        case close
        case keepAliveOnHTTP10
        case nothingToSay
    }

    /// For each request read and not answered yet, in order: what it asked.
    private var asked = CircularBuffer<Asked>(initialCapacity: 2)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        guard !head.isKeepAlive else {
            asked.append(head.version == .http1_0 ? .keepAliveOnHTTP10 : .nothingToSay)
            context.fireChannelRead(data)
            return
        }
        asked.append(.close)
        if head.headers["connection"] != ["close"] {
            head.headers.replaceOrAdd(name: "connection", value: "close")
            context.fireChannelRead(wrapInboundOut(.head(head)))
            return
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // A `100 Continue` is not the answer.
        guard case .head(var head) = unwrapOutboundIn(data), head.status.code >= 200, let request = asked.popFirst() else {
            context.write(data, promise: promise)
            return
        }
        switch request {
        case .close where head.isKeepAlive:
            head.headers.replaceOrAdd(name: "connection", value: "close")
        case .keepAliveOnHTTP10 where !head.headers.contains(name: "connection"):
            head.headers.add(name: "connection", value: "keep-alive")
        default:
            context.write(data, promise: promise)
            return
        }
        context.write(wrapOutboundOut(.head(head)), promise: promise)
    }
}
