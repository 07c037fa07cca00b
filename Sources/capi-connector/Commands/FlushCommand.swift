import AlarmWebhooks
import ArgumentParser
import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import Logging
import PushMode
import ServiceLifecycle

struct FlushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flush",
        abstract: "Forward the outbox to Meta without the HTTP server (a scheduled container task beside poll --once).",
        discussion: """
            With --once: sends everything due when it starts, each row at most once, in batches with the \
            manifest's retry policy, then prints one JSON line {"forwarded","rescheduled","dead_lettered","remaining"} \
            and exits: 0 when nothing had to be rescheduled, 1 when some batches failed and were rescheduled for a \
            later attempt (the next run tries them again). Rows not due yet, or leased by a live process (a running \
            sidecar), are counted in "remaining", never waited for. \
            It also evaluates the drift windows other processes stored, as any evaluator may.

            SIGTERM or SIGINT during --once (a stopped container, Ctrl-C): the batches in flight are \
            sent and recorded, no new ones start, the JSON line is printed and the exit code is 1 \
            (the rest waits for the next run). Without --once it keeps forwarding until SIGTERM, then \
            finishes what is in flight and exits 0; --metrics-listen then serves GET /metrics \
            (capi_events_forwarded_total, capi_retries_total, capi_events_dead_lettered_total, \
            capi_outbox_depth, capi_dlq_events, capi_build_info) and GET /healthz. Either way, work \
            still in flight after --shutdown-timeout is cancelled (exit 1), and a state store that \
            cannot be reached when the signal comes is not waited for (exit 1, saying so).

            Exit codes: 0 ok, 1 some batches rescheduled, stopped by a signal (with --once), or a \
            shutdown cut short or without its store, 2 configuration or state error (a SQLite \
            path where no store exists among them: flush forwards what serve committed there).
            """
    )

    @OptionGroup var manifestOptions: ManifestOptions

    @Option(name: .customLong("state"), help: ArgumentHelp("State registry URL (default: the manifest's state.url).", valueName: "url"))
    var stateURL: String?

    @Flag(help: "Send what is due now and exit.")
    var once = false

    @OptionGroup var metrics: MetricsOptions

    @OptionGroup var shutdown: ShutdownOptions

    func validate() throws {
        try metrics.validate(once: once, command: "flush")
        if let stateURL {
            do { _ = try StateLocation(parsing: stateURL, environment: ProcessInfo.processInfo.environment) } catch {
                throw ValidationError("--state: \(error)")
            }
        }
    }

    func run() async throws {
        JSONLogHandler.bootstrap(command: "flush")
        let prometheus = metrics.bootstrap()
        let logger = Logger(label: "capi.flush")
        let manifest = try await manifestOptions.load(scope: .withoutIntake)
        guard let push = manifest.push else {
            StandardStreams.printError("\(manifestOptions.manifest): has no push section; flush forwards its outbox")
            throw ExitCode(2)
        }
        let location = try StateOptions.location(stateURL, manifest: manifest)
        // A scheduled flush at a mistyped path would report "forwarded 0" for ever.
        try StateOptions.requireExisting(location, "flush forwards what serve committed there, and nothing has run with it yet")
        let graph = try GraphTarget.resolve(manifest)
        if once {
            let report = try await StateOptions.withRegistry(at: location, logged: true) { registry in
                let forwarder = Forwarder.configured(manifest: manifest, push: push, registry: registry, graph: graph)
                return try await OnePass.run(shutdown, registry: registry, logger: logger) {
                    let report = try await forwarder.flushDue()
                    await DriftMonitor.configured(by: manifest, store: registry)?.flushAndEvaluate(last: true)
                    return report
                }
            }
            StandardStreams.printOutput(
                JSONValue.object([
                    "forwarded": .integer(Int64(report.forwarded)), "rescheduled": .integer(Int64(report.rescheduled)),
                    "dead_lettered": .integer(Int64(report.deadLettered)), "remaining": .integer(Int64(report.remaining)),
                ]).serialized
            )
            logger.notice(
                "flush finished",
                metadata: [
                    "forwarded": "\(report.forwarded)", "rescheduled": "\(report.rescheduled)", "dead_lettered": "\(report.deadLettered)",
                    "remaining": "\(report.remaining)",
                ]
            )
            if report.stopped {
                StandardStreams.printError(
                    "capi-connector: stopped by a signal after the batches in flight; \(report.remaining) rows wait in the outbox for the next run"
                )
            }
            if report.rescheduled > 0 || report.stopped { throw ExitCode(1) }
            return
        }
        logger.notice(
            "forwarding the outbox until SIGTERM",
            metadata: ["graph_url": "\(GraphEndpoint.describe(graph.baseURL))", "version": "\(graph.version)", "state": "\(location)"]
        )
        let registry = try await StateOptions.openService(at: location)
        let state = StateService(registry: registry, location: location)
        if prometheus != nil { PushMetrics.declare(pixels: manifest.pixels.map(\.id), sources: []) }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] =
            metrics.services(prometheus, logger: logger) + [
                .init(service: state),
                .init(
                    service: GatedService(
                        gate: state.migrated,
                        service: Forwarder.configured(manifest: manifest, push: push, registry: registry, graph: graph)
                    )
                ),
            ]
        if let drift = DriftMonitor.configured(by: manifest, store: registry) {
            services.append(.init(service: GatedService(gate: state.migrated, service: drift)))
        }
        try await metrics.run(services, shutdown: shutdown, registry: registry, logger: logger)
            .report(logger, shutdownTimeout: shutdown.shutdownTimeout)
    }
}
