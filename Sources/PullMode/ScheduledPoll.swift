import CAPICore
import ConnectorRuntime
import Logging
import ServiceLifecycle

/// Polls on the manifest's interval until a graceful shutdown. A poll in progress commits the
/// window each partition is reading and stops there (the next start goes on from it); an
/// authentication failure ends the schedule, since retrying cannot help until the credentials change.
/// That it stopped is the command's to say, once everything else has stopped too.
public struct ScheduledPoll: Service {
    let job: PollJob
    let registry: any PullStore
    let interval: Duration
    let logger: Logger
    /// The result of the latest poll (`.ok` before the first).
    public let lastResult = PollResultBox()

    public init(job: PollJob, registry: any PullStore, interval: Duration, logger: Logger) {
        self.job = job
        self.registry = registry
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        logger.notice("polling on a schedule until SIGTERM", metadata: ["every": "\(OutageLog.seconds(interval))"])
        while !Task.isShuttingDownGracefully {
            let result = try await job.runHoldingLock(registry: registry, logger: logger)
            await lastResult.set(result)
            if result == .authenticationFailed {
                logger.error("the schedule ends: Meta refused the credentials, and polling again cannot help until they change")
                return
            }
            if Task.isShuttingDownGracefully { return }
            // Said each time: a scheduled job's log should show it is alive between polls.
            let next = UnixSeconds(WallClock.system.seconds().rawValue + interval.components.seconds)
            logger.info("next poll", metadata: ["at": "\(next.iso8601)"])
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

/// The latest ``PollResult``, shared between the scheduler and whoever started it.
public actor PollResultBox {
    public private(set) var value: PollResult = .ok
    public private(set) var polls = 0

    /// A poll cut short by the shutdown keeps the result before it: being stopped is how a
    /// schedule ends, not a failure of it.
    func set(_ result: PollResult) {
        if result != .stopped { value = result }
        polls += 1
    }
}

extension PollJob {
    /// One poll under the registry's poll lock: `.locked` without running when another poll holds it.
    public func runHoldingLock(registry: any PullStore, logger: Logger) async throws -> PollResult {
        guard let report = try await registry.withPollLock({ try await self.run() }) else {
            logger.warning("another poll holds the lock; nothing done")
            return .locked
        }
        logger.notice(
            "poll finished",
            metadata: ["run_id": "\(report.runID)", "records": "\(report.records)", "windows": "\(report.windows)", "result": "\(report.result)"]
        )
        return report.result
    }
}
