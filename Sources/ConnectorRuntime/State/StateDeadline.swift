import Synchronization

/// Bounds how long a request waits on the state store: a store that stops answering (its server
/// gone while the Postgres pool retries for a minute before it fails anything, a table locked by
/// an operator) must not hold a health probe or a sender that long.
///
/// When `limit` passes, the caller gets ``StateError/Kind/unavailable`` at once and `body` is
/// cancelled, which ends a wait for a pooled connection; a statement already sent runs to its end
/// without anyone waiting for it. (A task group could not stop waiting: it waits for its children.)
public func withStateDeadline<T: Sendable>(
    _ limit: Duration,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let answer = FirstAnswer<T>()
    return try await withCheckedThrowingContinuation { continuation in
        answer.start(continuation)
        let timer = Task {
            guard (try? await Task.sleep(for: limit)) != nil else { return }
            answer.finish(with: .failure(StateError(.unavailable, "\(what): the state store did not answer within \(limit)")), cancellingWork: true)
        }
        answer.work = Task {
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            timer.cancel()
            answer.finish(with: result, cancellingWork: false)
        }
    }
}

/// The one answer a ``withStateDeadline(_:_:_:)`` caller gets: the work's or the timer's,
/// whichever comes first; the work is cancelled if the timer wins.
private final class FirstAnswer<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var work: Task<Void, Never>?
        var answered = false
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    var work: Task<Void, Never>? {
        get { state.withLock { $0.work } }
        set {
            // The timer may have answered before the work task was stored: cancel it then.
            let cancelNow = state.withLock { state in
                state.work = newValue
                return state.answered
            }
            if cancelNow { newValue?.cancel() }
        }
    }

    func finish(with result: Result<T, any Error>, cancellingWork: Bool) {
        let (continuation, work) = state.withLock { state -> (CheckedContinuation<T, any Error>?, Task<Void, Never>?) in
            guard !state.answered else { return (nil, nil) }
            state.answered = true
            defer { state.continuation = nil }
            return (state.continuation, state.work)
        }
        guard let continuation else { return }
        if cancellingWork { work?.cancel() }
        continuation.resume(with: result)
    }
}
