import Hummingbird
import NIOCore

/// Request context that remembers the peer address (for `client_ip_address` enrichment) and, on
/// the event routes, the verified body.
public struct PushRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// Set by ``SignatureMiddleware`` for the event routes.
    var verified: VerifiedBody?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
