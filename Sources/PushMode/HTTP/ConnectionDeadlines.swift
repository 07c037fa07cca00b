import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes connections that take too long to send a request, so slow or stalled clients cannot hold
/// sockets (file descriptors) or requests open, and shutdown never waits on them.
///
/// - Header deadline: from connecting to the end of the first request's headers (slow headers).
/// - Idle deadline: from an answer to the end of the next request's headers (kept-alive
///   connections that go quiet, or send the next headers slowly).
/// - Body deadline: from the headers to the end of the body (covers a client that announces more
///   body than it sends).
/// - On shutdown (`ChannelShouldQuiesceEvent`) a request whose body is still arriving is dropped at
///   once: nothing of it was acknowledged, and its sender retries. Requests already read finish.
/// - An answer sent with `Connection: close` closes the connection once written, as RFC 9112
///   asks of a server that says so. Hummingbird reads on after such an answer: before the body
///   was read (a refusal before work) it would read the rest of the body, and after (the whole
///   request arrived in one packet) it would keep the connection until the idle deadline.
///
/// Moving a deadline is a field write: a connection keeps at most one timer, which on firing
/// closes the connection if its deadline has passed and otherwise waits for the rest. Scheduling
/// and cancelling a timer for every head and every answer cost about a tenth of a keep-alive
/// request's CPU (profile in docs/performance.md).
final class ConnectionDeadlines: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let headerTimeout: TimeAmount
    private let bodyTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    /// When the connection is closed unless the deadline moves; `nil` while a request is handled.
    private var deadline: NIODeadline?
    /// The one pending timer and when it fires (never later than `deadline`).
    private var timer: (task: Scheduled<Void>, firesAt: NIODeadline)?
    private var readingBody = false
    private var closeAfterAnswer = false

    init(headerTimeout: Duration, bodyTimeout: Duration, idleTimeout: Duration) {
        self.headerTimeout = TimeAmount(headerTimeout)
        self.bodyTimeout = TimeAmount(bodyTimeout)
        self.idleTimeout = TimeAmount(idleTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, headerTimeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context, headerTimeout)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
        cancelTimer()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        cancelTimer()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            readingBody = true
            arm(context, bodyTimeout)
        case .body:
            break
        case .end:
            readingBody = false
            disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            if head.headerFields[.connection]?.lowercased() == "close" { closeAfterAnswer = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            if closeAfterAnswer {
                context.writeAndFlush(data, promise: promise)
                context.close(promise: nil)
                return
            }
            context.write(data, promise: promise)
            // The next request's headers must arrive within the idle deadline.
            if !readingBody { arm(context, idleTimeout) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, readingBody {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func arm(_ context: ChannelHandlerContext, _ timeout: TimeAmount) {
        let deadline = NIODeadline.now() + timeout
        self.deadline = deadline
        // A pending timer that fires no later than the new deadline re-checks then; only an
        // earlier deadline needs a timer of its own.
        if let timer, timer.firesAt <= deadline { return }
        schedule(context, at: deadline)
    }

    private func schedule(_ context: ChannelHandlerContext, at time: NIODeadline) {
        timer?.task.cancel()
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let task = context.eventLoop.scheduleTask(deadline: time) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            handler.expire(context)
        }
        timer = (task, time)
    }

    /// The timer fired: close if the deadline has passed, wait for the rest if it moved later,
    /// nothing if no deadline runs.
    private func expire(_ context: ChannelHandlerContext) {
        guard let deadline else { return }
        if deadline <= .now() {
            context.close(promise: nil)
        } else {
            schedule(context, at: deadline)
        }
    }

    private func disarm() {
        deadline = nil
    }

    private func cancelTimer() {
        timer?.task.cancel()
        timer = nil
    }
}
