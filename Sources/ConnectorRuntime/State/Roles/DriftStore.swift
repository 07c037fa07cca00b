import CAPICore

/// The drift monitor's windows and baselines: shared by every process on the store, so replicas
/// add to the same picture and a restart loses nothing but the window in progress.
public protocol DriftStore: Sendable {
    /// Adds closed windows of one process, in one transaction.
    func appendDriftWindows(_ windows: [(key: DriftKey, counters: DriftCounters)], closedAt: UnixMillis) async throws(StateError)
    /// Windows not yet evaluated, oldest first.
    func pendingDriftWindows(limit: Int) async throws(StateError) -> [PendingDriftWindow]
    func driftBaselines(_ keys: [DriftKey]) async throws(StateError) -> [DriftKey: DriftBaseline]
    /// Removes evaluated windows and stores the baselines they moved, in one transaction.
    func completeDriftWindows(_ ids: [Int64], baselines: [DriftKey: DriftBaseline], now: UnixMillis) async throws(StateError)
    /// Runs `body` as the only evaluator on this store; `nil` without running it when another holds it.
    func withDriftLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T?
}

/// A window waiting for evaluation.
public struct PendingDriftWindow: Sendable, Equatable {
    public var id: Int64
    public var key: DriftKey
    public var counters: DriftCounters
    public var closedAt: UnixMillis

    public init(id: Int64, key: DriftKey, counters: DriftCounters, closedAt: UnixMillis) {
        self.id = id
        self.key = key
        self.counters = counters
        self.closedAt = closedAt
    }
}
