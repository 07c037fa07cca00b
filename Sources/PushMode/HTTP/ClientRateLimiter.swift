import Synchronization

/// An optional per-client request rate (token bucket per client address), answered 429 with
/// `Retry-After` beyond it.
///
/// Memory is bounded: at most ``maximumClients`` addresses are tracked; when the table is full,
/// buckets that have refilled completely (clients that went quiet) are dropped first, and if none
/// has, the request is refused rather than the table grown.
public final class ClientRateLimiter: Sendable {
    struct Bucket {
        var tokens: Double
        var updated: Double
    }

    public let rate: Double
    public let burst: Double
    public let maximumClients: Int
    private let buckets = Mutex<[String: Bucket]>([:])

    /// - Parameters:
    ///   - rate: requests per second per client.
    ///   - burst: requests a quiet client may send at once (at least 1).
    public init(rate: Double, burst: Int, maximumClients: Int = 100_000) {
        self.rate = rate
        self.burst = Double(max(1, burst))
        self.maximumClients = maximumClients
    }

    /// `nil` when the request may proceed; otherwise the whole seconds until it may.
    public func admit(client: String, now: Double) -> Int? {
        buckets.withLock { table in
            if table[client] == nil, table.count >= maximumClients {
                table = table.filter { min(burst, $0.value.tokens + (now - $0.value.updated) * rate) < burst }
                if table.count >= maximumClients { return 1 }
            }
            var bucket = table[client] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + max(0, now - bucket.updated) * rate)
            bucket.updated = now
            guard bucket.tokens >= 1 else {
                table[client] = bucket
                return Int(min(3600, max(1, ((1 - bucket.tokens) / rate).rounded(.up))))
            }
            bucket.tokens -= 1
            table[client] = bucket
            return nil
        }
    }
}
