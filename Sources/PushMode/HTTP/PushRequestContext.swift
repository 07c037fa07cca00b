import Hummingbird
import NIOCore

/// Request context that remembers the peer address, for `client_ip_address` enrichment.
public struct PushRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
