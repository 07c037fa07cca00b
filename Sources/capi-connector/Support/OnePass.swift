import ArgumentParser
import Logging
import ServiceLifecycle
import Synchronization

/// A scheduled job's single pass (`poll --once`, `flush --once`) run as the only service of a
/// group, so SIGTERM (a container platform stopping the task) or SIGINT becomes a graceful
/// shutdown the job honours between units of work: the window or batches in flight are finished
/// and recorded, instead of the process dying mid-way and leaving a run that never ends or
/// batches sent but not recorded.
///
/// Work still running `gracePeriod` after the signal is cancelled, well before the 30 s a
/// container platform usually waits before it kills.
enum OnePass {
    static let gracePeriod = Duration.seconds(20)

    static func run<T: Sendable>(logger: Logger, _ job: @escaping @Sendable () async throws -> T) async throws -> T {
        let pass = Pass(job: job, logger: logger)
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: pass, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = gracePeriod
        do {
            try await ServiceGroup(configuration: configuration).run()
        } catch is CancellationError {}
        guard let result = pass.result.withLock({ $0 }) else {
            // Cancelled after the grace period, before the job could return: what it committed
            // stands, and what it was doing is left for the next run.
            StandardStreams.printError(
                "capi-connector: stopped by a signal; the work in flight did not finish within \(gracePeriod.components.seconds) s and is left for the next run"
            )
            throw ExitCode(1)
        }
        return result
    }

    private final class Pass<T: Sendable>: Service, Sendable {
        let job: @Sendable () async throws -> T
        let logger: Logger
        let result = Mutex<T?>(nil)

        init(job: @escaping @Sendable () async throws -> T, logger: Logger) {
            self.job = job
            self.logger = logger
        }

        func run() async throws {
            let value = try await withGracefulShutdownHandler {
                try await job()
            } onGracefulShutdown: { [logger] in
                logger.notice(
                    "shutdown asked for: finishing the work in flight, then stopping",
                    metadata: ["grace_seconds": "\(OnePass.gracePeriod.components.seconds)"]
                )
            }
            result.withLock { $0 = value }
        }
    }
}
