import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Ends the process when a graceful shutdown has not finished `limit` after it began.
///
/// A service group cancels what outlives its graceful-shutdown timeout, and a task that ignores
/// cancellation then holds the process open for good. PostgresNIO 1.33.2's connection pool can do
/// that: with the server gone during shutdown it keeps retrying to connect, and once cancelled it
/// sometimes never finishes, so `serve` stayed up after SIGTERM until killed (5 runs in 26 here). What
/// was answered is committed, so exiting loses nothing; it only ends the wait.
///
/// Add it with `successTerminationBehavior: .ignore`: it returns as soon as the shutdown begins and
/// leaves a timer that cancellation cannot stop. Call ``disarm()`` once the group has returned.
///
/// The timer is a thread of its own, not a Dispatch timer: on Linux Swift's tasks run on Dispatch's
/// global threads, and when work holds those (a blocked call, a task that never yields) Dispatch
/// adds threads only slowly (a 100 ms sleep took 18 s behind 40 blocked items), so the watchdog
/// would wait on what it is there to end.
public final class ShutdownWatchdog: Service, Sendable {
    let limit: Duration
    let logger: Logger
    let onExpiry: @Sendable () -> Void
    private let disarmed = Mutex(false)
    private let shutdownBegan = Mutex<ContinuousClock.Instant?>(nil)

    /// - Parameter onExpiry: what ends the process (tests observe it instead).
    public init(limit: Duration, logger: Logger, onExpiry: @escaping @Sendable () -> Void) {
        self.limit = limit
        self.logger = logger
        self.onExpiry = onExpiry
    }

    /// Whether the group began a graceful shutdown (a signal, or a service that ended).
    public var sawShutdown: Bool { shutdownBegan.withLock { $0 != nil } }

    /// When the group began its graceful shutdown, if it did.
    public var shutdownBeganAt: ContinuousClock.Instant? { shutdownBegan.withLock { $0 } }

    /// The shutdown finished: a timer still pending does nothing.
    public func disarm() {
        disarmed.withLock { $0 = true }
    }

    public func run() async throws {
        // Returns when the group begins a graceful shutdown; throws if the group is cancelled first.
        try await gracefulShutdown()
        shutdownBegan.withLock { $0 = .now }
        let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18
        Thread.detachNewThread { [self] in
            Thread.sleep(forTimeInterval: seconds)
            guard !disarmed.withLock({ $0 }) else { return }
            logger.critical(
                "shutdown did not finish in time; exiting (what was committed, answered events included, is kept)",
                metadata: ["limit_s": "\(limit.components.seconds)"]
            )
            onExpiry()
        }
    }
}
