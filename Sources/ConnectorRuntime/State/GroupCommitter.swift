import CAPICore
import ServiceLifecycle

/// Lets many concurrent webhook requests share one intake transaction.
///
/// Callers wait in ``commit(_:)``; the service loop takes everything queued (up to `maxBatch`
/// items) and commits it with one ``IntakeStore/commitIntake(_:)``. Up to `maxConcurrent` commits
/// run at once; while they are in flight new requests queue up and go in the next one, so batches
/// grow with load and a lone request is never held back waiting for company.
public actor GroupCommitter: Service {
    public let registry: any IntakeStore
    public let maxBatch: Int
    /// Commits in flight at once: the store's ``IntakeStore/concurrentIntakeCommits`` by default.
    public let maxConcurrent: Int

    private struct Request {
        var items: [IntakeItem]
        var continuation: CheckedContinuation<[IntakeOutcome], any Error>
    }

    private var queue: [Request] = []
    /// Transactions committed so far (each may carry many callers' items).
    public private(set) var transactions = 0
    private var running = true
    private let wakeUps: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    private var inFlight = 0

    public init(registry: any IntakeStore, maxBatch: Int = 1000, maxConcurrent: Int? = nil) {
        self.registry = registry
        self.maxBatch = maxBatch
        self.maxConcurrent = max(1, maxConcurrent ?? registry.concurrentIntakeCommits)
        (wakeUps, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Commits `items` (ledger + outbox + stream) as part of a shared transaction; returns their outcomes.
    public func commit(_ items: [IntakeItem]) async throws -> [IntakeOutcome] {
        guard running else { throw StateError(.unavailable, "the intake committer is shut down") }
        return try await withCheckedThrowingContinuation { continuation in
            queue.append(Request(items: items, continuation: continuation))
            wake.yield()
        }
    }

    public func run() async throws {
        await withDiscardingTaskGroup { commits in
            await withGracefulShutdownHandler {
                for await _ in wakeUps { startCommits(in: &commits) }
            } onGracefulShutdown: {
                self.wake.finish()
            }
            // Finish what was accepted before shutdown; refuse anything later.
            running = false
            while !queue.isEmpty || inFlight > 0 {
                startCommits(in: &commits)
                await drained()
            }
        }
    }

    /// Starts commits for queued requests while slots are free; each finished commit wakes the
    /// loop again, so what queued meanwhile goes next.
    private func startCommits(in commits: inout DiscardingTaskGroup) {
        while !queue.isEmpty, inFlight < maxConcurrent {
            var batch: [Request] = []
            var count = 0
            while let next = queue.first, batch.isEmpty || count + next.items.count <= maxBatch {
                batch.append(queue.removeFirst())
                count += next.items.count
            }
            inFlight += 1
            commits.addTask { await self.commit(batch) }
        }
    }

    private func commit(_ batch: [Request]) async {
        do {
            let outcomes = try await registry.commitIntake(batch.flatMap(\.items))
            transactions += 1
            var offset = 0
            for request in batch {
                request.continuation.resume(returning: Array(outcomes[offset..<offset + request.items.count]))
                offset += request.items.count
            }
        } catch {
            for request in batch { request.continuation.resume(throwing: error) }
        }
        inFlight -= 1
        if running {
            wake.yield()
        } else {
            finishedWhileStopping?.resume()
            finishedWhileStopping = nil
        }
    }

    private var finishedWhileStopping: CheckedContinuation<Void, Never>?

    /// Waits for one in-flight commit to finish (after shutdown, when the wake-up stream is closed).
    private func drained() async {
        guard inFlight > 0 else { return }
        await withCheckedContinuation { finishedWhileStopping = $0 }
    }
}
