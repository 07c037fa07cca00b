import CAPICore

/// What the poll job needs: cursors, window commits with their records, run history, one lock.
public protocol PullStore: Sendable {
    func cursor(_ key: CursorKey) async throws(StateError) -> CursorValue?
    /// Replaces the partition's records inside `window` with `records` and advances the cursor, in
    /// one transaction: re-reading a window never duplicates, and an hour Meta no longer reports
    /// does not linger. Callers go through ``commitWindow(_:replacing:cursor:position:run:now:)``,
    /// which checks the invariants first.
    func writeWindow(
        _ records: [DeliveryStatusRecord],
        replacing window: Range<UnixSeconds>,
        cursor: CursorKey,
        position: UnixSeconds,
        runID: String,
        now: UnixMillis
    ) async throws(StateError)
    /// Replaces an ad account's `level` rows for the local days `days` with `records` and advances
    /// the account's cursor, in one transaction: re-reading days (the attribution lookback) never
    /// duplicates a row, and a row Meta no longer reports does not linger. Callers go through
    /// ``commitInsightsWindow(_:account:level:days:cursor:position:run:now:)``.
    func writeInsightsWindow(
        _ records: [AdInsightsRecord],
        account: String,
        level: String,
        days: ClosedRange<CalendarDate>,
        cursor: CursorKey,
        position: UnixSeconds,
        runID: String,
        now: UnixMillis
    ) async throws(StateError)
    /// Stores one run's dataset-quality snapshot (one record per pixel and event name).
    func commitMatchQuality(_ records: [MatchQualityRecord], snapshotAt: UnixMillis, runID: String) async throws(StateError)
    func recordRun(_ run: RunRecord) async throws(StateError)
    func recentRuns(limit: Int) async throws(StateError) -> [RunRecord]
    /// Marks runs of `mode` still `running` as `interrupted` and returns how many. Only for the
    /// holder of the poll lock, which knows no other run of that mode can be alive.
    func interruptUnfinishedRuns(mode: RunMode) async throws(StateError) -> Int
    /// Runs `body` holding the poll lock; `nil` without running it when another poll holds it.
    func withPollLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T?
}

extension PullStore {
    /// ``writeWindow(_:replacing:cursor:position:runID:now:)`` after the rules every backend keeps:
    /// a cursor never passes the start of the run that writes it, and the window is not empty or
    /// inverted.
    public func commitWindow(
        _ records: [DeliveryStatusRecord],
        replacing window: Range<UnixSeconds>,
        cursor: CursorKey,
        position: UnixSeconds,
        run: RunRecord,
        now: UnixMillis
    ) async throws(StateError) {
        guard position.milliseconds <= run.startedAt else {
            throw StateError(.invariant, "a cursor may not pass the start of the run that writes it")
        }
        guard records.allSatisfy({ $0.pixelID == cursor.partition && window.contains($0.bucketStart) }) else {
            throw StateError(.invariant, "a window's records must belong to its partition and lie inside it")
        }
        try await writeWindow(records, replacing: window, cursor: cursor, position: position, runID: run.runID, now: now)
    }

    /// ``writeInsightsWindow(_:account:level:days:cursor:position:runID:now:)`` after the rules every
    /// backend keeps: the cursor does not pass the run's start, every record belongs to the account,
    /// level and days being replaced.
    public func commitInsightsWindow(
        _ records: [AdInsightsRecord],
        account: String,
        level: String,
        days: ClosedRange<CalendarDate>,
        cursor: CursorKey,
        position: UnixSeconds,
        run: RunRecord,
        now: UnixMillis
    ) async throws(StateError) {
        guard position.milliseconds <= run.startedAt else {
            throw StateError(.invariant, "a cursor may not pass the start of the run that writes it")
        }
        guard records.allSatisfy({ $0.accountID == account && $0.level == level && days.contains($0.day) }) else {
            throw StateError(.invariant, "an insights window's rows must belong to its account and level and lie inside its days")
        }
        try await writeInsightsWindow(
            records,
            account: account,
            level: level,
            days: days,
            cursor: cursor,
            position: position,
            runID: run.runID,
            now: now
        )
    }
}
