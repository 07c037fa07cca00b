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
        abstract: "Run the pull job: read delivery status (hourly received counts, match quality) back from the Graph API.",
        discussion: """
            For every configured pixel, reads GET /{pixel}/stats (all sources and server only) over
            date-range windows from the stored cursor to now minus the settle lag, and dataset_quality
            once per run; each window's records commit together with the cursor. Without --once it
            polls on the manifest's pull.schedule.interval until SIGTERM.

            Exit codes: 0 ok, 1 some pixels failed (the others advanced), 2 configuration error,
            3 authentication error, 4 another poll holds the lock.
            """
    )

    @OptionGroup var manifestOptions: ManifestOptions

    @Option(name: .customLong("state"), help: ArgumentHelp("State registry URL (default: the manifest's state.url).", valueName: "url"))
    var stateURL: String?

    @Flag(help: "Poll once and exit (for a scheduled container job).")
    var once = false

    func run() async throws {
        JSONLogHandler.bootstrap()
        let logger = Logger(label: "capi.poll")
        let manifest = try manifestOptions.load()
        guard let pull = manifest.pull else {
            StandardStreams.printError("\(manifestOptions.manifest): has no pull section; poll needs one")
            throw ExitCode(2)
        }
        let location: StateLocation
        do { location = try StateLocation(parsing: stateURL ?? manifest.state.url.revealed) } catch {
            StandardStreams.printError("capi-connector: --state: \(error)")
            throw ExitCode(2)
        }
        let graphURL = try GraphTarget.resolve(manifest)
        let graph = GraphClient(
            configuration: .init(
                baseURL: graphURL,
                version: manifest.graphAPI.version,
                timeout: manifest.graphAPI.timeout,
                appSecret: manifest.graphAPI.appSecret,
                partnerAgent: manifest.graphAPI.partnerAgent
            )
        )
        let onTerminal = isatty(STDERR_FILENO) == 1
        let once = once
        let code: Int32 = try await StateOptions.withRegistry(at: location) { registry in
            let job = PollJob(
                manifest: manifest,
                pull: pull,
                registry: registry,
                graph: graph,
                logger: logger,
                progress: { line in
                    if onTerminal { StandardStreams.printError(line) } else { logger.info("window committed", metadata: ["detail": "\(line)"]) }
                }
            )
            if once { return try await Self.pollOnce(job, registry: registry, logger: logger) }
            let scheduled = ScheduledPoll(job: job, registry: registry, interval: pull.interval, logger: logger)
            let group = ServiceGroup(
                configuration: .init(services: [.init(service: scheduled)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            )
            try await group.run()
            return await scheduled.lastExitCode.value
        }
        if code != 0 { throw ExitCode(code) }
    }

    static func pollOnce(_ job: PollJob, registry: any StateRegistry, logger: Logger) async throws -> Int32 {
        guard let report = try await registry.withPollLock({ try await job.run() }) else {
            StandardStreams.printError("capi-connector: another poll holds the lock; nothing done")
            return 4
        }
        logger.notice(
            "poll finished",
            metadata: [
                "run_id": "\(report.runID)", "records": "\(report.records)", "windows": "\(report.windows)", "exit_code": "\(report.exitCode)",
            ]
        )
        return report.exitCode
    }
}

/// Polls on the manifest's interval until a graceful shutdown; a poll in progress finishes its
/// current work (each window is committed as it completes) before the service returns.
struct ScheduledPoll: Service {
    let job: PollJob
    let registry: any StateRegistry
    let interval: Duration
    let logger: Logger
    let lastExitCode = ExitCodeBox()

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            let code = try await PollCommand.pollOnce(job, registry: registry, logger: logger)
            await lastExitCode.set(code)
            if code == 3 { return }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

actor ExitCodeBox {
    private(set) var value: Int32 = 0
    func set(_ code: Int32) { value = code }
}
