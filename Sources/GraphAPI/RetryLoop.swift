/// Runs a Graph call under a ``RetryPolicy``: retries what the policy says to retry, after the
/// delay it names, and hands every other outcome back to the caller.
public enum RetryLoop {
    public enum Outcome<Value: Sendable>: Sendable {
        case success(Value, attempts: Int)
        /// The policy stopped retrying: what it decided and the last error.
        case stopped(RetryPolicy.Decision, GraphError, attempts: Int)
    }

    public static func run<Value: Sendable>(
        policy: RetryPolicy,
        sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        onRetry: @Sendable (GraphError, Int, Duration) -> Void = { _, _, _ in },
        _ operation: @Sendable () async throws(GraphError) -> Value
    ) async -> Outcome<Value> {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return .success(try await operation(), attempts: attempt)
            } catch {
                let decision = policy.decide(error, attempt: attempt)
                guard case .retry(let delay) = decision else { return .stopped(decision, error, attempts: attempt) }
                onRetry(error, attempt, delay)
                do { try await sleep(delay) } catch {
                    return .stopped(.giveUp, .transport(.timeout, "cancelled while waiting to retry"), attempts: attempt)
                }
            }
        }
    }
}
