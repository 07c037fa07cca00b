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
}

/// The HTTP server's context: the peer is the socket's remote address.
public struct PushRequestContext: PushContext {
    public var coreContext: CoreRequestContextStorage
    public let peerAddress: String?
    public var verified: VerifiedBody?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress?.ipAddress
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
}

/// A request body whose signature verified, and the source it verified for.
public struct VerifiedBody: Sendable {
    var bytes: ByteBuffer
    var source: String
    /// When the request arrived, for the ingest latency metric.
    var started: ContinuousClock.Instant
}
