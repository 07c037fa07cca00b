import ArgumentParser
import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import GraphSandbox
import Logging
import Metrics
import Prometheus
import PushMode
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the push sidecar: signed events in, hashed events to Meta.",
        discussion: """
            Routes: POST /v1/events, POST /v1/events/batch, POST /{version}/{pixel_id}/events (Meta's own \
            request shape, for apps on Meta's SDKs), GET /healthz, /readyz, /metrics.

            An event is answered 202 only after it is committed to the state store; the forwarder then \
            sends it to Meta in batches. SIGTERM stops accepting, finishes in-flight requests, flushes \
            what it can and exits 0; what is left is sent after the next start. Work still unfinished \
            after --shutdown-timeout (a state store that stopped answering) is cancelled: exit 1. A \
            configuration it cannot start with (the manifest, the state store, an address it cannot listen on) \
            is one line on standard error and exit 2.

            --sandbox runs the Graph stand-in in-process and sends there instead of Meta (no Meta \
            account needed); it keeps the newest 10,000 events per pixel for GET /_sandbox/events \
            on the graph_url it logs. The quickstart needs only CAPI_WEBHOOK_SECRET:
              CAPI_WEBHOOK_SECRET=whsec_... capi-connector serve --sandbox
            """
    )

    @OptionGroup var manifestOptions: ManifestOptions

    @Option(name: .customLong("state"), help: ArgumentHelp("State registry URL (default: the manifest's state.url).", valueName: "url"))
    var stateURL: String?

    @Option(help: ArgumentHelp("Listen address (default: the manifest's push.listen).", valueName: "host:port"))
    var listen: String?

    @Flag(help: "Run the Graph stand-in in-process and send there instead of Meta.")
    var sandbox = false

    @OptionGroup var shutdown: ShutdownOptions

    func validate() throws {
        if let listen, ListenAddress(parsing: listen) == nil {
            throw ValidationError(
                "--listen \(ListenAddress.refusal(of: listen)); expected HOST:PORT, e.g. 127.0.0.1:8088, [::1]:8088 or :8088 (every IPv4 interface; [::]:8088 for IPv6 too), found `\(listen)`"
            )
        }
        if let stateURL {
            do { _ = try StateLocation(parsing: stateURL, environment: ProcessInfo.processInfo.environment) } catch {
                throw ValidationError("--state: \(error)")
            }
        }
    }

    func run() async throws {
        JSONLogHandler.bootstrap(command: "serve")
        let prometheus = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: prometheus))
        let logger = Logger(label: "capi.serve")

        let manifest = try await manifestOptions.load()
        guard let push = manifest.push else {
            StandardStreams.printError("\(manifestOptions.manifest): has no push section; serve needs one")
            throw ExitCode(2)
        }
        let location = try StateOptions.location(stateURL, manifest: manifest)
        let address = listen.flatMap(ListenAddress.init(parsing:)) ?? push.listen

        if sandbox {
            // The stand-in outlives the sidecar and stops last, after the forwarder has flushed.
            var standInConfiguration = GraphSandbox.Configuration(host: "127.0.0.1", port: 0)
            standInConfiguration.maxStoredEventsPerPixel = Self.sandboxEventsKept
            let standIn = GraphSandbox(configuration: standInConfiguration, logger: Logger(label: "capi.sandbox"))
            try await standIn.withRunning { graphURL in
                logger.warning("SANDBOX MODE: events go to the in-process Graph stand-in, NOT to Meta", metadata: ["graph_url": "\(graphURL)"])
                let graph = GraphClient.Configuration(manifest: manifest, baseURL: graphURL)
                try await runServices(
                    manifest: manifest,
                    push: push,
                    location: location,
                    address: address,
                    graph: graph,
                    prometheus: prometheus,
                    logger: logger
                )
            }
        } else {
            let graph = try GraphTarget.resolve(manifest)
            logger.notice(
                "sending to the Graph API",
                metadata: ["graph_url": "\(GraphEndpoint.describe(graph.baseURL))", "version": "\(graph.version)"]
            )
            try await runServices(
                manifest: manifest,
                push: push,
                location: location,
                address: address,
                graph: graph,
                prometheus: prometheus,
                logger: logger
            )
        }
    }

    /// Events the in-process stand-in keeps per pixel for `GET /_sandbox/events`. Kept as parsed
    /// trees they take about 4 KB each: with the standalone stand-in's 200,000, `serve --sandbox`
    /// reached 637 MB after 140,000 events, most of it events nothing would read again.
    static let sandboxEventsKept = 10_000

    func runServices(
        manifest: Manifest,
        push: PushConfiguration,
        location: StateLocation,
        address: ListenAddress,
        graph: GraphClient.Configuration,
        prometheus: PrometheusCollectorRegistry,
        logger: Logger
    ) async throws {
        let registry = try await StateOptions.openService(at: location)
        logger.notice("state registry", metadata: ["state": "\(location)"])
        let sidecar = PushSidecar(
            manifest: manifest,
            push: push,
            state: StateService(registry: registry, location: location) { store in
                await SchemaRegistry.registerAtStartup(manifest.schemaRegistry, store: store, logger: Logger(label: "capi.schemas"))
            },
            graph: graph,
            address: address,
            metricsText: {
                var buffer: [UInt8] = []
                prometheus.emit(into: &buffer)
                return String(decoding: buffer, as: UTF8.self)
            }
        )
        let service = sidecar.service { host, port in
            // `[::1]:8088` for an IPv6 address, so the port can be told from the address.
            // How long an outage of Meta its events ride out before they are dead-lettered.
            logger.notice(
                "push sidecar listening",
                metadata: [
                    "address": "\(ListenAddress(host: host, port: port))", "sources": "\(push.sources.map(\.name))",
                    "retries_wait_at_most_s": "\(Int(push.retry.longestWait.inSeconds.rounded()))",
                ]
            )
        }
        let ending: GroupEnding
        do {
            ending = try await shutdown.runGuarded([.init(service: service)], registry: registry, logger: logger)
        } catch let error as StateError {
            throw StateOptions.storeFailure(error)
        } catch {
            if let line = ListenFailure.line(error, address: address, option: "--listen or push.listen") {
                logger.error("cannot listen", metadata: ["address": "\(address)"])
                StandardStreams.printError(line)
                throw ExitCode(2)
            }
            logger.error("shutting down after an error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        try ending.report(logger, shutdownTimeout: shutdown.shutdownTimeout)
    }
}
