import Synchronization

/// Whether intake is saturated: a commit recently started with many callers queued on it.
///
/// Forwarding and intake share the cores and the disk's write-ahead log, and only intake has a
/// caller waiting. The forwarder reads this to leave a burst to the acknowledgements
/// (`push.batching.yield_to_intake`); it is one atomic read, made before each claim.
public final class IntakePressure: Sendable {
    /// Callers in one commit from which intake counts as saturated. A commit carries a handful at a
    /// steady 2,000 events/s; at saturation it carries about the connections over the commits in
    /// flight (32 for 64 connections and two commits).
    public static let saturatedCallers = 16

    private let origin = ContinuousClock.now
    /// Nanoseconds from `origin` to the last saturated commit's start.
    private let lastSaturated = Atomic<Int64>(.min)

    public init() {}

    /// Called as a commit starts, with the callers it carries.
    public func commitStarted(callers: Int) {
        guard callers >= Self.saturatedCallers else { return }
        lastSaturated.store(Self.nanoseconds(ContinuousClock.now - origin), ordering: .relaxed)
    }

    /// Whether a saturated commit started within `window`.
    public func isSaturated(within window: Duration) -> Bool {
        let last = lastSaturated.load(ordering: .relaxed)
        guard last != .min else { return false }
        return Self.nanoseconds(ContinuousClock.now - origin) - last <= Self.nanoseconds(window)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
