import NIOCore
import NIOHTTPTypesHTTP1

/// Puts the handlers that must see HTTP/1 itself before Hummingbird's conversion to HTTP types,
/// then leaves the pipeline.
///
/// Hummingbird adds a server's own handlers after that conversion, where a request no longer
/// carries its version and a parse error has already become a bare `400`.
final class BeforeHTTPTypes: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func handlerAdded(context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        if let codec = try? pipeline.handler(type: HTTP1ToHTTPServerCodec.self) {
            // In this order from the socket: parse errors are answered before anything reads on.
            try? pipeline.addHandler(MalformedHeadAnswer(), position: .before(codec))
            try? pipeline.addHandler(ConnectionCloseRequests(), position: .before(codec))
        }
        pipeline.removeHandler(context: context, promise: nil)
    }
}
