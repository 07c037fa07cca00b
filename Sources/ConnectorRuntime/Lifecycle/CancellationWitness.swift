import ServiceLifecycle
import Synchronization

/// Runs a service and remembers whether it ended cancelled.
///
/// A service group cut short by its graceful-shutdown timeout cancels its services, and how a
/// cancelled service ends differs from one run to the next: it may throw `CancellationError`, throw
/// whatever the call it was waiting in made of the cancellation, or return as if it had finished.
/// So the group's outcome does not say whether the timeout struck (`serve` exited 0 after a shutdown
/// it had cut short, once in CI); whether the task was cancelled when the service ended does.
public final class CancellationWitness<Wrapped: Service>: Service, Sendable {
    public let wrapped: Wrapped
    private let endedCancelled = Mutex(false)

    public init(_ wrapped: Wrapped) {
        self.wrapped = wrapped
    }

    /// Whether the wrapped service ended (returned or threw) with its task cancelled.
    public var wasCancelled: Bool { endedCancelled.withLock { $0 } }

    public func run() async throws {
        defer { if Task.isCancelled { endedCancelled.withLock { $0 = true } } }
        try await wrapped.run()
    }
}
