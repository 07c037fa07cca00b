import Synchronization

/// Request-body bytes the sidecar holds in memory at once, across all connections.
///
/// Every body is reserved before it is read (its announced `Content-Length`, or the body limit when
/// none is announced) and released when its request is answered. Past the budget a request is
/// answered 503 with `Retry-After` without reading its body, so a flood of large unsigned posts
/// cannot grow memory past the budget.
public final class BodyBudget: Sendable {
    public let capacity: Int
    private let used = Mutex(0)

    public init(capacity: Int) {
        self.capacity = capacity
    }

    /// Reserves `bytes`; `false` when that would pass the budget.
    public func reserve(_ bytes: Int) -> Bool {
        used.withLock { used in
            guard bytes <= capacity - used else { return false }
            used += bytes
            return true
        }
    }

    public func release(_ bytes: Int) {
        used.withLock { $0 = max(0, $0 - bytes) }
    }
}
