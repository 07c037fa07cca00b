import CAPICore

/// Decides what happens after a failed Graph call: exponential backoff with full jitter, honouring
/// the waits Meta names, and the non-retry outcomes in docs/meta-api.md.
///
/// Pure: the random source is injected so decisions are testable and reproducible.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// Blocked (code 368) retries wait at least this long.
    public var blockedBackoff: Duration
    /// Uniform value in 0...1, for full jitter.
    public var random: @Sendable () -> Double

    public init(
        maxAttempts: Int = 8,
        initialBackoff: Duration = .milliseconds(500),
        maxBackoff: Duration = .seconds(300),
        blockedBackoff: Duration = .seconds(60),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }
    ) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.blockedBackoff = blockedBackoff
        self.random = random
    }

    public enum Decision: Sendable, Equatable {
        /// Try the same request again after this delay.
        case retry(after: Duration)
        /// The batch holds invalid events: split it to find them.
        case isolateInvalid
        /// Stop sending for this pixel and alarm; keep its events queued.
        case pause(GraphErrorClass)
        /// Out of attempts: dead-letter with the last error.
        case giveUp
    }

    /// `attempt` counts the attempts already made (1 after the first failure).
    public func decide(_ error: GraphError, attempt: Int) -> Decision {
        switch error.errorClass {
        case .invalid: return .isolateInvalid
        case .auth, .permission, .deprecated: return .pause(error.errorClass)
        case .transient, .throttled, .blocked:
            guard attempt < maxAttempts else { return .giveUp }
            var delay = backoff(attempt: attempt)
            if error.errorClass == .blocked { delay = max(delay, blockedBackoff) }
            if let hint = error.retryAfter { delay = max(delay, hint) }
            return .retry(after: delay)
        }
    }

    /// Full jitter: uniform in [0, min(max, initial × 2^(attempt−1))].
    public func backoff(attempt: Int) -> Duration {
        let exponent = Double(max(0, min(attempt - 1, 40)))
        let ceiling = min(maxBackoff.inSeconds, initialBackoff.inSeconds * pow2(exponent))
        let jitter = min(max(random(), 0), 1)
        return Bounded.duration(seconds: ceiling * jitter) ?? maxBackoff
    }

    private func pow2(_ exponent: Double) -> Double {
        var value = 1.0
        for _ in 0..<Int(exponent) { value *= 2 }
        return value
    }
}
