import AlarmWebhooks
import CAPICore
import ConnectorRuntime
import GraphAPI
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// The push sidecar's parts, wired once: state store, group committer, intake, HTTP server and
/// forwarder, sending with a given Graph client configuration.
///
/// `serve`, the tests and the benchmark all run this same assembly as one service, the way a
/// Hummingbird application owns its services: the store (when the sidecar owns it), the committer
/// and the forwarder start with the application, the server binds once the store is migrated, and
/// shutdown runs in reverse: stop accepting and finish requests, flush the forwarder, drain the
/// committer, close the store.
public struct PushSidecar: Sendable {
    public let registry: any StateRegistry
    public let committer: GroupCommitter
    public let intake: Intake
    public let server: PushServer
    public let forwarder: Forwarder
    /// The schema drift monitor (`nil` when the manifest turns drift alarms off).
    public let drift: DriftMonitor?
    public let address: ListenAddress
    /// Set when the sidecar owns the store's lifecycle.
    let state: StateService?
    let limits: PushConfiguration.Limits
    let logger: Logger

    /// Over a registry that is already open and migrated (tests, benchmarks).
    public init(
        manifest: Manifest,
        push: PushConfiguration,
        registry: any StateRegistry,
        graph: GraphClient.Configuration,
        address: ListenAddress? = nil,
        metricsText: @escaping @Sendable () -> String = { "" },
        logger: Logger = Logger(label: "capi.push")
    ) {
        self.init(
            manifest: manifest,
            push: push,
            registry: registry,
            state: nil,
            graph: graph,
            address: address,
            metricsText: metricsText,
            logger: logger
        )
    }

    /// Owning the store: its service runs first and migrates; the server and forwarder wait for it.
    public init(
        manifest: Manifest,
        push: PushConfiguration,
        state: StateService,
        graph: GraphClient.Configuration,
        address: ListenAddress? = nil,
        metricsText: @escaping @Sendable () -> String = { "" },
        logger: Logger = Logger(label: "capi.push")
    ) {
        self.init(
            manifest: manifest,
            push: push,
            registry: state.registry,
            state: state,
            graph: graph,
            address: address,
            metricsText: metricsText,
            logger: logger
        )
    }

    private init(
        manifest: Manifest,
        push: PushConfiguration,
        registry: any StateRegistry,
        state: StateService?,
        graph: GraphClient.Configuration,
        address: ListenAddress?,
        metricsText: @escaping @Sendable () -> String,
        logger: Logger
    ) {
        self.registry = registry
        self.state = state
        committer = GroupCommitter(registry: registry, commitTimeout: push.limits.commitTimeout)
        drift = DriftMonitor.configured(by: manifest, store: registry)
        intake = Intake(committer: committer, manifest: manifest, push: push, drift: drift, logger: logger)
        server = PushServer(intake: intake, manifest: manifest, push: push, registry: registry, logger: logger, metricsText: metricsText)
        forwarder = Forwarder.configured(manifest: manifest, push: push, registry: registry, graph: graph, intakePressure: committer.pressure)
        PushMetrics.declare(pixels: manifest.pixels.map(\.id), sources: push.sources.map(\.name))
        self.address = address ?? push.listen
        self.limits = push.limits
        self.logger = logger
    }

    /// The whole sidecar as one service; `onListening` receives the bound address (port 0 picks one).
    ///
    /// - Parameter forwarding: `false` leaves the outbox alone (the ingest benchmark runs the
    ///   forwarder separately).
    public func service(forwarding: Bool = true, onListening: @escaping @Sendable (String, Int) async -> Void = { _, _ in }) -> some Service {
        var services: [any Service] = []
        if let state { services.append(state) }
        services.append(committer)
        if forwarding { services.append(GatedService(gate: state?.migrated, service: forwarder)) }
        if let drift { services.append(GatedService(gate: state?.migrated, service: drift)) }
        let limits = limits
        let address = address
        var application = Application(
            router: server.makeRouter(),
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [
                        BeforeHTTPTypes(),
                        ConnectionDeadlines(headerTimeout: limits.headerTimeout, bodyTimeout: limits.bodyTimeout, idleTimeout: limits.idleTimeout),
                        ExpectContinue(),
                    ],
                    idleTimeout: TimeAmount(limits.idleTimeout)
                )
            ),
            configuration: .init(
                address: .hostname(address.host, port: address.port),
                serverName: "capi-connector",
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections)
            ),
            services: services,
            onServerRunning: { channel in
                await onListening(channel.localAddress?.ipAddress ?? address.host, channel.localAddress?.port ?? address.port)
            },
            logger: Logger(label: "capi.http")
        )
        // No traffic before the store is migrated.
        if let gate = state?.migrated { application.beforeServerStarts { try await gate.wait() } }
        return application
    }
}
