import Hummingbird
import NIOCore

/// Request context that keeps the connection's channel, so the sandbox can reset it on purpose.
struct SandboxRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
