import AlarmWebhooks
import ArgumentParser
import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import Logging
import PullMode
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

struct PollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poll",
        abstract: "Run the pull job: read delivery status (hourly received counts, match quality) and ad spend back from the Graph API.",
        discussion: """
            For every configured pixel, reads GET /{pixel}/stats (all sources and server only) over \
            date-range windows from the stored cursor to now minus the settle lag, and dataset_quality \
            once per run; each window's records commit together with the cursor. Eight pixels (and ad \
            accounts) are read at once; a manifest with more takes turns. Without --once it \
            polls on the manifest's pull.schedule.interval until SIGTERM.

            SIGTERM or SIGINT (a stopped container, Ctrl-C): each pixel and ad account commits the \
            window it is reading and stops; the next poll goes on from there. The run is recorded as \
            interrupted, and poll --once exits 1 saying so. A window still being read after \
            --shutdown-timeout is cancelled, uncommitted, for the next poll to read again.

            With pull.streams.ad_insights.accounts (META_AD_ACCOUNT_ID in the shipped manifest), it \
            also reads each ad account's Ads Insights per day in the account's time zone, from its \
            cursor minus the lookback (28 days: attribution keeps changing) to today, replacing those \
            days' rows; long windows become async reports. The token needs ads_read on the account.

            On the schedule, --metrics-listen serves GET /metrics (Prometheus: capi_events_pulled_total, \
            capi_pull_gap_seconds_total, capi_insights_rows_pulled_total, capi_schema_drift_alarms_total, \
            capi_build_info) and GET /healthz.

            Exit codes: 0 ok, 1 some pixels or ad accounts failed or were stopped (the others advanced), 2 \
            configuration error, 3 authentication error (also a token without ads_read), 4 another \
            poll holds the lock.
            """
    )

    @OptionGroup var manifestOptions: ManifestOptions

    @Option(name: .customLong("state"), help: ArgumentHelp("State registry URL (default: the manifest's state.url).", valueName: "url"))
    var stateURL: String?

    @Flag(help: "Poll once and exit (for a scheduled container job).")
    var once = false

    @OptionGroup var metrics: MetricsOptions

    @OptionGroup var shutdown: ShutdownOptions

    func validate() throws { try metrics.validate(once: once, command: "poll") }

    func run() async throws {
        JSONLogHandler.bootstrap(command: "poll")
        let prometheus = metrics.bootstrap()
        let logger = Logger(label: "capi.poll")
        let manifest = try await manifestOptions.load(scope: .withoutIntake)
        guard let pull = manifest.pull else {
            StandardStreams.printError("\(manifestOptions.manifest): has no pull section; poll needs one")
            throw ExitCode(2)
        }
        let location = try StateOptions.location(stateURL, manifest: manifest)
        let graph = GraphClient(configuration: try GraphTarget.resolve(manifest))
        if pull.adInsights == nil {
            logger.info("ad_insights is off: no ad account configured (pull.streams.ad_insights.accounts, META_AD_ACCOUNT_ID)")
        }
        let onTerminal = isatty(STDERR_FILENO) == 1
        let progress: @Sendable (String) -> Void = { line in
            if onTerminal { StandardStreams.printError(line) } else { logger.info("window committed", metadata: ["detail": "\(line)"]) }
        }
        if once {
            let result: PollResult = try await StateOptions.withRegistry(at: location, logged: true) { registry in
                await SchemaRegistry.registerAtStartup(manifest.schemaRegistry, store: registry, logger: Logger(label: "capi.schemas"))
                let job = PollJob(
                    manifest: manifest,
                    pull: pull,
                    registry: registry,
                    graph: graph,
                    logger: logger,
                    drift: DriftMonitor.configured(by: manifest, store: registry),
                    progress: progress
                )
                return try await OnePass.run(shutdown, registry: registry, logger: logger) {
                    try await job.runHoldingLock(registry: registry, logger: logger)
                }
            }
            switch result {
            case .locked: StandardStreams.printError("capi-connector: another poll holds the lock; nothing done")
            case .stopped:
                StandardStreams.printError(
                    "capi-connector: stopped by a signal; the windows committed so far are kept, and the next poll goes on from them"
                )
            case .ok, .partial, .authenticationFailed: break
            }
            let code = Self.exitCode(result)
            if code != 0 { throw ExitCode(code) }
            return
        }
        // On a schedule: the store is a service that migrates first; the schedule starts after it.
        let registry = try await StateOptions.openService(at: location)
        let state = StateService(registry: registry, location: location) { store in
            await SchemaRegistry.registerAtStartup(manifest.schemaRegistry, store: store, logger: Logger(label: "capi.schemas"))
        }
        let job = PollJob(
            manifest: manifest,
            pull: pull,
            registry: registry,
            graph: graph,
            logger: logger,
            drift: DriftMonitor.configured(by: manifest, store: registry),
            progress: progress
        )
        let scheduled = ScheduledPoll(job: job, registry: registry, interval: pull.interval, logger: logger)
        if prometheus != nil { PullMetrics.declare(pixels: manifest.pixels.map(\.id), adAccounts: pull.adInsights?.accounts.map(\.id) ?? []) }
        let ending = try await metrics.run(
            metrics.services(prometheus, logger: logger) + [
                .init(service: state),
                // An authentication failure ends the schedule: the group then shuts down in order.
                .init(service: GatedService(gate: state.migrated, service: scheduled), successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            shutdown: shutdown,
            registry: registry,
            logger: logger
        )
        try ending.report(logger, shutdownTimeout: shutdown.shutdownTimeout)
        let code = Self.exitCode(await scheduled.lastResult.value)
        if code != 0 { throw ExitCode(code) }
    }

    /// The command's contract: 0 ok, 1 some partitions failed (the others advanced), 3
    /// authentication, 4 another poll holds the lock. A poll stopped by a signal is 1 too: what
    /// it committed stands and the rest waits for the next run, as with a failed partition.
    static func exitCode(_ result: PollResult) -> Int32 {
        switch result {
        case .ok: 0
        case .partial, .stopped: 1
        case .authenticationFailed: 3
        case .locked: 4
        }
    }
}
