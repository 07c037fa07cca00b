import Hummingbird
import Logging
import NIOCore

/// What the push routes need from a request context, whichever runner built it: the HTTP server
/// (``PushRequestContext``) or a runner without a socket (``DirectRequestContext``).
public protocol PushContext: RequestContext {
    /// The IP address of the peer that sent the request (before any `X-Forwarded-For` hop).
    var peerAddress: String? { get }
    /// Set by the signature middleware on the event routes.
    var verified: VerifiedBody? { get set }
    /// Called once a route has decided to read `request`'s body: a client waiting on
    /// `Expect: 100-continue` is told to send it (``ExpectContinue``).
    func bodyWillBeRead(_ request: Request)
}

/// The HTTP server's context: the peer is the socket's remote address.
public struct PushRequestContext: PushContext {
    public var coreContext: CoreRequestContextStorage
    public let peerAddress: String?
    public var verified: VerifiedBody?
    private let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress?.ipAddress
        channel = source.channel
    }

    public func bodyWillBeRead(_ request: Request) {
        // Most requests carry no `Expect`: they cost one header lookup and no trip to the event loop.
        guard request.headers[.expect] != nil else { return }
        channel.triggerUserOutboundEvent(ExpectContinue.ContinueRequested(), promise: nil)
    }
}

/// The context of a request handed over as values (an API Gateway event): the peer is what the
/// caller says it is (`requestContext.http.sourceIp`).
public struct DirectRequestContext: PushContext {
    public struct Source: RequestContextSource {
        public var logger: Logger
        public var peerAddress: String?

        public init(logger: Logger, peerAddress: String?) {
            self.logger = logger
            self.peerAddress = peerAddress
        }
    }

    public var coreContext: CoreRequestContextStorage
    public let peerAddress: String?
    public var verified: VerifiedBody?

    public init(source: Source) {
        coreContext = .init(source: source)
        peerAddress = source.peerAddress
    }

    /// The whole request was handed over at once: nobody waits for `100 Continue`.
    public func bodyWillBeRead(_ request: Request) {}
}

/// A request body whose signature verified, and the source it verified for.
public struct VerifiedBody: Sendable {
    var bytes: ByteBuffer
    var source: String
    /// When the request arrived, for the ingest latency metric.
    var started: ContinuousClock.Instant
}
