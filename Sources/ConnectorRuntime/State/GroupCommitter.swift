import CAPICore
import ServiceLifecycle

/// Lets many concurrent webhook requests share one intake transaction.
///
/// Callers wait in ``commit(_:)``; the service loop takes everything queued (up to `maxBatch`
/// items) and commits it with one ``StateRegistry/commitIntake(_:)``. While a commit is in flight
/// new requests queue up and go in the next one, so batches grow with load and a lone request is
/// never held back waiting for company.
public actor GroupCommitter: Service {
    public let registry: any IntakeStore
    public let maxBatch: Int

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

    public init(registry: any IntakeStore, maxBatch: Int = 1000) {
        self.registry = registry
        self.maxBatch = maxBatch
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
        await withGracefulShutdownHandler {
            for await _ in wakeUps { await drain() }
        } onGracefulShutdown: {
            self.wake.finish()
        }
        // Finish what was accepted before shutdown; refuse anything later.
        running = false
        await drain()
    }

    /// Commits queued requests, a batch at a time, until the queue is empty.
    private func drain() async {
        while !queue.isEmpty {
            var batch: [Request] = []
            var count = 0
            while let next = queue.first, batch.isEmpty || count + next.items.count <= maxBatch {
                batch.append(queue.removeFirst())
                count += next.items.count
            }
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
        }
    }
}
