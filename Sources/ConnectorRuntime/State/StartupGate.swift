import ServiceLifecycle
import Synchronization

/// A one-way latch: services that need the store wait here until it is migrated (PostgresMigrations'
/// `waitUntilCompleted()` plays the same part in Hummingbird applications).
public final class StartupGate: Sendable {
    private enum State {
        case closed([Int: CheckedContinuation<Void, any Error>], next: Int)
        case open
    }

    private let state = Mutex(State.closed([:], next: 0))

    public init() {}

    public var isOpen: Bool { state.withLock { if case .open = $0 { true } else { false } } }

    /// Lets every waiter, present and future, through.
    public func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            guard case .closed(let waiters, _) = state else { return [] }
            state = .open
            return Array(waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the gate is open; throws `CancellationError` when the task is cancelled first.
    public func wait() async throws {
        let ticket = Mutex<Int?>(nil)
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Result<Void, any Error>? = state.withLock { state in
                    switch state {
                    case .open: return .success(())
                    case .closed(var waiters, let next):
                        if Task.isCancelled { return .failure(CancellationError()) }
                        waiters[next] = continuation
                        state = .closed(waiters, next: next + 1)
                        ticket.withLock { $0 = next }
                        return nil
                    }
                }
                if let resumeNow { continuation.resume(with: resumeNow) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard case .closed(var waiters, let next) = state, let id = ticket.withLock({ $0 }) else { return nil }
                let waiter = waiters.removeValue(forKey: id)
                state = .closed(waiters, next: next)
                return waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }
}

/// Runs `service` once `gate` opens (a service that needs the migrated store); a shutdown before
/// then ends it without starting it.
public struct GatedService<Wrapped: Service>: Service {
    let gate: StartupGate?
    let service: Wrapped

    /// - Parameter gate: `nil` runs `service` at once (the store is already migrated).
    public init(gate: StartupGate?, service: Wrapped) {
        self.gate = gate
        self.service = service
    }

    public func run() async throws {
        if let gate, !gate.isOpen {
            do { try await cancelWhenGracefulShutdown { try await gate.wait() } } catch { return }
        }
        try await service.run()
    }
}
