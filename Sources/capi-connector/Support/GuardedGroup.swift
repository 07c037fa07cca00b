import ArgumentParser
import ConnectorRuntime
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How a command's services ended under ``ShutdownOptions/runGuarded(_:registry:logger:)``.
enum GroupEnding: Sendable {
    /// Every service finished: on its own, or in time after a signal.
    case finished
    /// After a signal, `--shutdown-timeout` or a second signal cancelled work still running.
    case cutShort
    /// After a signal the state store could not be reached: what still waited on it failed.
    case storeUnreachableAtShutdown(StateError)
}

extension ShutdownOptions {
    /// Runs a long-running command's services with what every such command needs to stop well:
    /// a state store gone when the signal comes is let go of (``StoreReleaseAtShutdown``), so
    /// nothing waits on it until `--shutdown-timeout`; a watchdog ends the process when cancelled
    /// work does not stop (``ShutdownWatchdog``); and the ending is judged by whether a service
    /// ended cancelled by the timeout or a second signal, not by the group's outcome
    /// (``CancellationWitness``), so a shutdown cut short is never reported as a clean stop.
    ///
    /// Errors other than the store's after a signal are thrown for the command to word.
    func runGuarded(
        _ services: [ServiceGroupConfiguration.ServiceConfiguration],
        registry: any StateRegistry,
        logger: Logger
    ) async throws -> GroupEnding {
        var watched = services
        var cancellations: [@Sendable () -> Bool] = []
        for index in watched.indices {
            let (service, wasCancelled) = Self.witnessed(watched[index].service)
            watched[index].service = service
            cancellations.append(wasCancelled)
        }
        let watchdog = ShutdownWatchdog(limit: timeout + Self.cancellationGrace, logger: logger) { _exit(1) }
        defer { watchdog.disarm() }
        let group = group(
            watched + [
                // Told before the services above: a store gone by now is not waited for while they stop.
                .init(service: StoreReleaseAtShutdown(registry: registry, logger: logger), successTerminationBehavior: .ignore),
                // Last, so it is told first that the shutdown began.
                .init(service: watchdog, successTerminationBehavior: .ignore),
            ],
            logger: logger
        )
        var failure: (any Error)?
        var secondSignal = false
        do { secondSignal = try await Self.run(group) } catch { failure = error }
        // Cut short, a cancelled service may as well return as throw, so the ending is judged by
        // whether a service ended cancelled, and by why it could have been: the timeout or a
        // second signal. A service the group cancelled because another failed (a store gone when
        // the signal came) was not cut short by the timeout.
        let timedOut = watchdog.shutdownBeganAt.map { ContinuousClock.now - $0 + .milliseconds(100) >= timeout } ?? false
        if (secondSignal || timedOut) && cancellations.contains(where: { $0() }) { return .cutShort }
        switch failure {
        case nil: return .finished
        case let error as StateError where watchdog.sawShutdown: return .storeUnreachableAtShutdown(error)
        case let error?: throw error
        }
    }

    private static func witnessed<S: Service>(_ service: S) -> (any Service, @Sendable () -> Bool) {
        let witness = CancellationWitness(service)
        return (witness, { witness.wasCancelled })
    }
}

extension GroupEnding {
    /// A long-running command's last log line for its ending; exit status 1 unless it finished.
    func report(_ logger: Logger, shutdownTimeout: Double) throws(ExitCode) {
        switch self {
        case .finished:
            logger.notice("stopped")
        case .cutShort:
            logger.error(
                "shutdown took longer than --shutdown-timeout, or a second signal came; unfinished work was cancelled (what was committed, answered events included, is kept)",
                metadata: ["shutdown_timeout_s": "\(shutdownTimeout)"]
            )
            throw ExitCode(1)
        case .storeUnreachableAtShutdown(let error):
            logger.error(
                "stopped while the state store could not be reached (what was committed, answered events included, is kept)",
                metadata: ["error": "\(error)"]
            )
            throw ExitCode(1)
        }
    }
}
