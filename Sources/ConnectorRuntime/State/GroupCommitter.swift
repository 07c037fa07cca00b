import CAPICore
import ServiceLifecycle

/// Lets many concurrent webhook requests share one intake transaction.
///
/// Callers wait in ``commit(_:)``; the service takes everything queued (up to `maxBatch` items)
/// and commits it with one ``IntakeStore/commitIntake(_:)``. Up to the store's
/// ``IntakeStore/concurrentIntakeCommits`` run at once: while one waits for its commit to reach
/// the disk, the next is already executing, and whatever arrives meanwhile goes in the one after.
/// Batches grow with load and a lone request is never held back waiting for company.
///
/// No caller waits longer than ``commitTimeout``: a store that stops answering (a server gone
/// while the connection pool retries for a minute, a table lock) gets the sender a "retry" in
/// seconds instead of a hung request. A commit still running then may yet succeed; the sender's
/// retry of the same event is then answered as a duplicate, and nothing is sent twice.
public actor GroupCommitter: Service {
    public let registry: any IntakeStore
    public let maxBatch: Int
    /// Commits allowed in flight at once.
    public let maxInFlight: Int
    /// The longest a caller waits for its commit.
    public let commitTimeout: Duration

    private struct Request {
        var id: UInt64
        var items: [IntakeItem]
    }

    /// A caller still waiting: answered once, by its commit or by its deadline, whichever is first.
    private struct Waiter {
        var continuation: CheckedContinuation<[IntakeOutcome], any Error>
        var deadline: ContinuousClock.Instant
    }

    private var queue: [Request] = []
    private var waiters: [UInt64: Waiter] = [:]
    private var nextRequestID: UInt64 = 0
    private var inFlight = 0
    /// Transactions committed so far (each may carry many callers' items).
    public private(set) var transactions = 0
    /// The most commits that were in flight at one time.
    public private(set) var mostInFlight = 0
    /// Whether commits are saturated, for the forwarder to read without a hop onto this actor.
    public nonisolated let pressure = IntakePressure()
    private var running = true
    private let wakeUps: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    /// - Parameters:
    ///   - maxInFlight: commits allowed at once; the store's own preference when `nil`.
    ///   - commitTimeout: how long a caller waits before it is told the store is unavailable.
    public init(
        registry: any IntakeStore,
        maxBatch: Int = 1000,
        maxInFlight: Int? = nil,
        commitTimeout: Duration = PushConfiguration.Limits.defaultCommitTimeout
    ) {
        self.registry = registry
        self.maxBatch = maxBatch
        self.maxInFlight = max(1, maxInFlight ?? registry.concurrentIntakeCommits)
        self.commitTimeout = commitTimeout
        (wakeUps, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Commits `items` (ledger + outbox + stream) as part of a shared transaction; returns their outcomes.
    public func commit(_ items: [IntakeItem]) async throws -> [IntakeOutcome] {
        guard running else { throw StateError(.unavailable, "the intake committer is shut down") }
        return try await withCheckedThrowingContinuation { continuation in
            let id = nextRequestID
            nextRequestID &+= 1
            waiters[id] = Waiter(continuation: continuation, deadline: .now + commitTimeout)
            queue.append(Request(id: id, items: items))
            wake.yield()
        }
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.expireOverdueWaiters() }
            await withGracefulShutdownHandler {
                // A wake-up comes with every new request and every finished commit.
                for await _ in wakeUps { startCommits(in: &group) }
            } onGracefulShutdown: {
                self.wake.finish()
            }
            // Finish what was accepted before shutdown; refuse anything later.
            running = false
            while !queue.isEmpty {
                let batch = nextBatch()
                await commit(batch)
            }
            group.cancelAll()
        }
    }

    /// Answers every caller whose deadline has passed, checked ten times per ``commitTimeout`` (at
    /// least every quarter second); those still queued are not committed at all.
    private func expireOverdueWaiters() async {
        let tick = min(max(commitTimeout / 10, .milliseconds(10)), .milliseconds(250))
        while (try? await Task.sleep(for: tick)) != nil {
            let now = ContinuousClock.now
            let overdue = waiters.filter { $0.value.deadline <= now }
            guard !overdue.isEmpty else { continue }
            let error = StateError(.unavailable, "the state store did not commit within \(commitTimeout)")
            for (id, waiter) in overdue {
                waiters[id] = nil
                waiter.continuation.resume(throwing: error)
            }
            queue.removeAll { waiters[$0.id] == nil }
        }
    }

    /// Starts commits of queued requests, a batch each, while fewer than `maxInFlight` run.
    private func startCommits(in group: inout DiscardingTaskGroup) {
        while inFlight < maxInFlight, !queue.isEmpty {
            let batch = nextBatch()
            pressure.commitStarted(callers: batch.count)
            inFlight += 1
            mostInFlight = max(mostInFlight, inFlight)
            group.addTask { await self.commitInFlight(batch) }
        }
    }

    /// Queued requests from the front, up to `maxBatch` items (always at least one request).
    private func nextBatch() -> [Request] {
        var batch: [Request] = []
        var count = 0
        while let next = queue.first, batch.isEmpty || count + next.items.count <= maxBatch {
            batch.append(queue.removeFirst())
            count += next.items.count
        }
        return batch
    }

    private func commitInFlight(_ batch: [Request]) async {
        await commit(batch)
        inFlight -= 1
        wake.yield()
    }

    /// Commits `batch` and answers the callers still waiting (one whose deadline passed was told
    /// to retry, and its retry will find the row if this commit succeeds).
    private func commit(_ batch: [Request]) async {
        do {
            let outcomes = try await registry.commitIntake(batch.flatMap(\.items))
            transactions += 1
            var offset = 0
            for request in batch {
                let count = request.items.count
                waiters.removeValue(forKey: request.id)?.continuation.resume(returning: Array(outcomes[offset..<offset + count]))
                offset += count
            }
        } catch let error where error.kind == .query && batch.count > 1 {
            // A statement the store refused may be refused for one request's rows alone (a value it
            // cannot hold): each request is tried on its own, so only that sender is refused and
            // the others, which would only retry into the same failure, are committed.
            for request in batch where waiters[request.id] != nil { await commit([request]) }
        } catch {
            for request in batch { waiters.removeValue(forKey: request.id)?.continuation.resume(throwing: error) }
        }
    }
}
