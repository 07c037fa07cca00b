/// A signal sent once: the Postgres registry's connection pool is to stop now, before its turn in
/// the shutdown (``PostgresStateRegistry/letGoIfUnreachable()``).
final class PoolRelease: Sendable {
    private let signal: AsyncStream<Void>
    private let sender: AsyncStream<Void>.Continuation

    init() {
        (signal, sender) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func release() {
        sender.yield()
        sender.finish()
    }

    /// Waits for ``release()``: true once it came, false if the waiting task was cancelled first.
    /// One waiter only (the registry's `run`).
    func released() async -> Bool {
        for await _ in signal { return true }
        return false
    }
}
