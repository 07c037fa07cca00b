import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers `Expect: 100-continue` with `100 Continue` when a route is about to read the body.
///
/// curl and libcurl (which PHP's HTTP clients use) ask this for bodies over 1 MB, older libcurl
/// releases for bodies over 1 KiB: they send the headers, wait for `100 Continue` and only then
/// the body. A server that never answers makes each such request wait for the client's own
/// timeout (one second in curl) before the body goes out: a 1.7 MB batch of 900 events took 1.03 s
/// against 0.03–0.05 s with the `100` sent. Sent only when a route asks for the body
/// (``ContinueRequested``, through ``PushContext/bodyWillBeRead(_:)``), so a request refused on
/// its headers alone (IP allowlist, signature headers, announced size, memory budget) is answered
/// without making the client upload a body nobody reads.
///
/// Requests are counted in and answers out: the `100` goes out only for the request now being
/// answered, never for one read ahead on a pipelined connection. A client that starts its body
/// without waiting gets none (RFC 9110 §10.1.1 allows omitting it then). Limitation: HTTP/1.0 must
/// ignore the expectation, but the version is gone by the time requests reach this handler;
/// HTTP/1.0 clients do not send it.
final class ExpectContinue: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The user outbound event a route triggers before it reads a body.
    struct ContinueRequested: Sendable {}

    /// Request heads read, and answers finished, on this connection.
    private var headsRead = 0
    private var answered = 0
    /// The newest request asked for `100 Continue` and has neither sent body bytes nor had it.
    private var awaitingContinue = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            headsRead += 1
            awaitingContinue = Self.expectsContinue(request.headerFields)
        case .body, .end:
            awaitingContinue = false
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response) where response.status.kind != .informational:
            // A final answer before the body: the client must not be told to send it after all.
            if headsRead == answered + 1 { awaitingContinue = false }
        case .end:
            answered += 1
        case .head, .body:
            break
        }
        context.write(data, promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is ContinueRequested else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        if awaitingContinue, headsRead == answered + 1 {
            awaitingContinue = false
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
        }
        promise?.succeed()
    }

    /// `100-continue` among the `Expect` field's members, in any case (RFC 9110 §10.1.1).
    static func expectsContinue(_ fields: HTTPFields) -> Bool {
        fields[values: .expect].contains { value in
            value.split(separator: ",").contains { part in
                var member = part
                while let first = member.first, first == " " || first == "\t" { member.removeFirst() }
                while let last = member.last, last == " " || last == "\t" { member.removeLast() }
                return member.lowercased() == "100-continue"
            }
        }
    }
}
