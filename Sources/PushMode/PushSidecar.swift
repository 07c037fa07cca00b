import CAPICore
import ConnectorRuntime
import GraphAPI
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// The push sidecar's parts, wired once: group committer, intake, HTTP server and forwarder over a
/// given state registry, sending with a given Graph client configuration.
///
/// `serve`, the tests and the benchmark all run this same assembly; `services` are in start order,
/// so a `ServiceGroup` shuts them down in reverse: stop accepting and finish requests, then flush
/// the forwarder, then the committer.
public struct PushSidecar: Sendable {
    public let committer: GroupCommitter
    public let intake: Intake
    public let server: PushServer
    public let forwarder: Forwarder
    public let address: ListenAddress

    public init(
        manifest: Manifest,
        push: PushConfiguration,
        registry: any StateRegistry,
        graph: GraphClient.Configuration,
        address: ListenAddress? = nil,
        metricsText: @escaping @Sendable () -> String = { "" },
        logger: Logger = Logger(label: "capi.push")
    ) {
        committer = GroupCommitter(registry: registry)
        intake = Intake(committer: committer, manifest: manifest, push: push)
        server = PushServer(intake: intake, manifest: manifest, push: push, registry: registry, logger: logger, metricsText: metricsText)
        forwarder = Forwarder(
            registry: registry,
            graph: GraphClient(configuration: graph),
            pixels: manifest.pixels,
            configuration: .init(maxEvents: push.batching.maxEvents, linger: push.batching.linger, maxInFlight: push.batching.maxInFlight),
            policy: RetryPolicy(maxAttempts: push.retry.maxAttempts, initialBackoff: push.retry.initialBackoff, maxBackoff: push.retry.maxBackoff),
            logger: Logger(label: "capi.forwarder")
        )
        PushMetrics.declare(pixels: manifest.pixels.map(\.id), sources: push.sources.map(\.name))
        self.address = address ?? push.listen
        self.limits = push.limits
    }

    let limits: PushConfiguration.Limits

    /// The HTTP application; `onListening` receives the bound address (port 0 picks one).
    public func application(onListening: @escaping @Sendable (String, Int) async -> Void = { _, _ in }) -> some Service {
        let limits = limits
        return Application(
            router: server.makeRouter(),
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [
                        ConnectionDeadlines(headerTimeout: limits.headerTimeout, bodyTimeout: limits.bodyTimeout, idleTimeout: limits.idleTimeout)
                    ],
                    idleTimeout: TimeAmount(limits.idleTimeout)
                )
            ),
            configuration: .init(
                address: .hostname(address.host, port: address.port),
                serverName: "capi-connector",
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections)
            ),
            onServerRunning: { channel in
                await onListening(channel.localAddress?.ipAddress ?? address.host, channel.localAddress?.port ?? address.port)
            },
            logger: Logger(label: "capi.http")
        )
    }

    /// Start order for a service group (shutdown runs in reverse).
    public func services(forwarding: Bool = true, onListening: @escaping @Sendable (String, Int) async -> Void = { _, _ in }) -> [any Service] {
        var services: [any Service] = [committer]
        if forwarding { services.append(forwarder) }
        services.append(application(onListening: onListening))
        return services
    }
}
