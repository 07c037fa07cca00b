import ArgumentParser
import ConnectorRuntime
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A scheduled job's single pass (`poll --once`, `flush --once`) run as the one service of a
/// group, so SIGTERM (a container platform stopping the task) or SIGINT becomes a graceful
/// shutdown the job honours between units of work: the window or batches in flight are finished
/// and recorded, instead of the process dying mid-way and leaving a run that never ends or
/// batches sent but not recorded. Work still running after `--shutdown-timeout` is cancelled, as
/// in `serve`, and a watchdog ends the process if cancelled work does not stop.
enum OnePass {
    static func run<T: Sendable>(_ shutdown: ShutdownOptions, logger: Logger, _ job: @escaping @Sendable () async throws -> T) async throws -> T {
        let pass = CancellationWitness(Pass(job: job, logger: logger))
        let watchdog = ShutdownWatchdog(limit: shutdown.timeout + ShutdownOptions.cancellationGrace, logger: logger) { _exit(1) }
        defer { watchdog.disarm() }
        let group = shutdown.group(
            [
                .init(service: pass, successTerminationBehavior: .gracefullyShutdownGroup),
                // Last, so it is told first that the shutdown began.
                .init(service: watchdog, successTerminationBehavior: .ignore),
            ],
            logger: logger
        )
        var failure: (any Error)?
        do { try await ShutdownOptions.run(group) } catch { failure = error }
        // Judged by the job's cancellation, not the group's outcome: cut short, a job may as well
        // return as throw (a store refusing work from a cancelled task).
        if pass.wasCancelled {
            StandardStreams.printError(
                "capi-connector: stopped by a signal; the work still in flight after --shutdown-timeout (\(shutdown.shutdownTimeout) s), "
                    + "or at a second signal, was cancelled and is left for the next run"
            )
            throw ExitCode(1)
        }
        if let failure { throw failure }
        guard let result = pass.wrapped.result.withLock({ $0 }) else { throw ExitCode(1) }
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
                logger.notice("shutdown asked for: finishing the work in flight, then stopping")
            }
            result.withLock { $0 = value }
        }
    }
}
