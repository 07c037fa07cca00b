import ArgumentParser
import ConnectorRuntime
import Logging
import ServiceLifecycle
import Synchronization

/// A scheduled job's single pass (`poll --once`, `flush --once`) run as the one service of a
/// group, so SIGTERM (a container platform stopping the task) or SIGINT becomes a graceful
/// shutdown the job honours between units of work: the window or batches in flight are finished
/// and recorded, instead of the process dying mid-way and leaving a run that never ends or
/// batches sent but not recorded. Work still running after `--shutdown-timeout` is cancelled, as
/// in `serve`, and a watchdog ends the process if cancelled work does not stop. A state store
/// that cannot be reached when the signal comes is let go of (``StoreReleaseAtShutdown``), so the
/// pass does not wait on it until `--shutdown-timeout`.
enum OnePass {
    static func run<T: Sendable>(
        _ shutdown: ShutdownOptions,
        registry: any StateRegistry,
        logger: Logger,
        _ job: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let pass = Pass(job: job, logger: logger)
        switch try await shutdown.runGuarded(
            [.init(service: pass, successTerminationBehavior: .gracefullyShutdownGroup)],
            registry: registry,
            logger: logger
        ) {
        case .finished:
            break
        case .cutShort:
            StandardStreams.printError(
                "capi-connector: stopped by a signal; the work still in flight after --shutdown-timeout (\(shutdown.shutdownTimeout) s), "
                    + "or at a second signal, was cancelled and is left for the next run"
            )
            throw ExitCode(1)
        case .storeUnreachableAtShutdown(let error):
            StandardStreams.printError(
                "capi-connector: stopped by a signal while the state store could not be reached (\(error)); the work in flight is left for the next run"
            )
            throw ExitCode(1)
        }
        guard let result = pass.result.withLock({ $0 }) else { throw ExitCode(1) }
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
