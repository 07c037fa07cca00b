import NIOCore
import PostgresNIO
import Synchronization

/// Runs work on pooled connections that stay leased from one piece of work to the next while work
/// keeps coming, for the statements every event passes through.
///
/// PostgresNIO's pool arms a keep-alive timer (30 s) and an idle timer (60 s) each time a
/// connection goes back idle, and cancels both at its next lease. On Linux a cancelled
/// `Task.sleep` keeps its task and its dispatch timer until the deadline it was given, so leasing
/// once per intake commit kept every timer of the last minute alive: about 46 MB of the sidecar's
/// heap after a saturating load (docs/performance.md). A lane gives its connection back after
/// ``linger`` without work, so a connection that waits is still the pool's to keep alive, and one
/// that dies while it waits is found by the pool as before.
final class ConnectionLanes: Sendable {
    /// Work for one connection; it answers its own caller, so it never throws.
    struct Job: Sendable {
        let run: @Sendable (PostgresConnection) async -> Void
        let fail: @Sendable (any Error) -> Void
    }

    private struct Waiting {
        var since: ContinuousClock.Instant
        var continuation: CheckedContinuation<Job?, Never>
    }

    private struct State {
        var queue = CircularBuffer<Job>()
        /// Lanes holding a connection, latest last: new work goes to them first.
        var holding: [Waiting] = []
        /// Lanes with no connection.
        var resting: [CheckedContinuation<Job?, Never>] = []
        var closed = false
    }

    /// The answer to work that comes after the lanes have stopped.
    static let shuttingDown = StateError(.unavailable, "the state store is shutting down")

    private let client: PostgresClient
    private let state = Mutex(State())
    let count: Int
    let linger: Duration

    init(client: PostgresClient, count: Int, linger: Duration = .seconds(1)) {
        self.client = client
        self.count = max(1, count)
        self.linger = linger
    }

    /// Runs `body` on a lane's connection, as soon as a lane is free. A `body` that throws
    /// ``ConnectionClosedBeforeStart`` has sent nothing, so it runs again on another connection.
    func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await ConnectionClosedBeforeStart.retrying { try await runOnce(body) }
    }

    private func runOnce<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            submit(
                Job(
                    run: { connection in
                        do {
                            continuation.resume(returning: try await body(connection))
                        } catch {
                            continuation.resume(throwing: error)
                        }
                    },
                    fail: { continuation.resume(throwing: $0) }
                )
            )
        }
    }

    /// The lanes and the clock that sends idle ones back to the pool; returns when cancelled,
    /// after the work already running has finished. Work submitted after that is refused.
    func serve() async {
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                for _ in 0..<count { group.addTask { await self.lane() } }
                group.addTask {
                    while (try? await Task.sleep(for: self.linger / 4)) != nil { self.releaseIdle(now: .now) }
                }
            }
        } onCancel: {
            close()
        }
    }

    private func submit(_ job: Job) {
        enum Next {
            case give(CheckedContinuation<Job?, Never>)
            case queued
            case refused
        }
        let next: Next = state.withLock { state in
            if state.closed { return .refused }
            if let lane = state.holding.popLast() { return .give(lane.continuation) }
            if let lane = state.resting.popLast() { return .give(lane) }
            state.queue.append(job)
            return .queued
        }
        switch next {
        case .give(let lane): lane.resume(returning: job)
        case .queued: break
        case .refused: job.fail(Self.shuttingDown)
        }
    }

    /// The next job, waiting for one; `nil` once closed, or for a lane holding a connection, after
    /// ``linger`` without work.
    private func next(holdingConnection: Bool) async -> Job? {
        await withCheckedContinuation { continuation in
            let ready: Job?? = state.withLock { state in
                if let job = state.queue.popFirst() { return .some(job) }
                if state.closed { return .some(nil) }
                if holdingConnection {
                    state.holding.append(Waiting(since: .now, continuation: continuation))
                } else {
                    state.resting.append(continuation)
                }
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private func lane() async {
        while let first = await next(holdingConnection: false) {
            var pending: Job? = first
            do {
                try await client.withConnection { connection in
                    var leasedJustNow = true
                    while let job = pending {
                        // Closed while the lane held it (a restarted server, a terminated
                        // backend): PostgresNIO 1.33.2 never answers a statement sent on a closed
                        // connection, so the job waits for the next lease instead.
                        if !leasedJustNow, connection.isClosed { return }
                        leasedJustNow = false
                        pending = nil
                        await job.run(connection)
                        pending = await next(holdingConnection: true)
                    }
                }
            } catch {
                // No connection came from the pool: the job waiting for one gets the pool's error.
                pending?.fail(error)
                pending = nil
            }
            if let job = pending { requeue(job) }
        }
    }

    private func requeue(_ job: Job) {
        let refused = state.withLock { state in
            if state.closed { return true }
            state.queue.prepend(job)
            return false
        }
        if refused { job.fail(Self.shuttingDown) }
    }

    /// Sends lanes that held a connection for ``linger`` without work back to the pool.
    func releaseIdle(now: ContinuousClock.Instant) {
        let due = state.withLock { state in
            let due = state.holding.filter { $0.since + linger <= now }
            state.holding.removeAll { $0.since + linger <= now }
            return due
        }
        for lane in due { lane.continuation.resume(returning: nil) }
    }

    private func close() {
        let (waiting, queued) = state.withLock { state in
            state.closed = true
            let waiting = state.holding.map(\.continuation) + state.resting
            state.holding = []
            state.resting = []
            let queued = Array(state.queue)
            state.queue.removeAll()
            return (waiting, queued)
        }
        for lane in waiting { lane.resume(returning: nil) }
        for job in queued { job.fail(Self.shuttingDown) }
    }
}
