import CAPICore

/// The connector's durable state: cursors, run history, the idempotency ledger, the outbox, dead
/// letters, the two analytics streams, registered schemas and alarms.
///
/// Two implementations honour one contract (and one test suite): ``PostgresStateRegistry`` for
/// production and several replicas, ``SQLiteStateRegistry`` embedded by default. Times are Unix
/// milliseconds unless a name says seconds. Every method that writes more than one row does so in
/// one transaction.
public protocol StateRegistry: Sendable {
    /// `postgres` or `sqlite`, for logs and `state show`.
    var backend: String { get }

    /// Applies pending versioned migrations; safe to call from several processes at once.
    func migrate() async throws(StateError)

    // MARK: Push intake

    /// Ledger + outbox + `delivered_events` for every new item in one transaction; duplicates and
    /// conflicts are detected against the ledger (including earlier items of the same call).
    func commitIntake(_ items: [IntakeItem]) async throws(StateError) -> [IntakeOutcome]

    // MARK: Outbox

    /// Leases up to `limit` due rows (`next_attempt_at <= now`, no live lease) to `owner`. On
    /// Postgres concurrent claimers skip each other's rows; an expired lease is claimable again.
    func claimOutbox(limit: Int, owner: String, leaseMilliseconds: Int64, now: Int64, pixelID: String?) async throws(StateError) -> [OutboxEntry]
    /// Removes sent rows and records the outcome in `delivered_events`.
    func markForwarded(_ entries: [OutboxEntry], fbtraceID: String?, now: Int64) async throws(StateError)
    /// Moves the lease of rows `owner` still holds to `until`, so rows in a long delivery are not
    /// claimed twice, while a dead process's rows return within one short lease.
    func extendLease(_ entries: [OutboxEntry], owner: String, until: Int64) async throws(StateError)
    /// Releases the lease and schedules another attempt.
    func reschedule(_ entries: [OutboxEntry], nextAttemptAt: Int64, lastError: String) async throws(StateError)
    /// Moves rows to the dead-letter queue with their reason, and records the outcome.
    func deadLetter(_ entries: [OutboxEntry], reason: DeadLetterReason, now: Int64) async throws(StateError)
    /// Rows waiting to be sent (leased or not).
    func outboxDepth() async throws(StateError) -> Int
    /// Age of the oldest due row, for readiness (`nil` when empty).
    func oldestDueOutboxAge(now: Int64) async throws(StateError) -> Int64?

    // MARK: Dead letters

    func deadLetters(limit: Int) async throws(StateError) -> [DeadLetter]
    /// Moves dead letters (all when `ids` is nil) back to the outbox; returns how many.
    func replayDeadLetters(ids: [Int64]?, now: Int64) async throws(StateError) -> Int
    func purgeDeadLetters(ids: [Int64]?) async throws(StateError) -> Int

    // MARK: Pull

    func cursor(_ key: CursorKey) async throws(StateError) -> CursorValue?
    /// Replaces the partition's records inside `window` (start inclusive, end exclusive, seconds)
    /// with `records` and advances the cursor, in one transaction: re-reading a window never
    /// duplicates, and an hour Meta no longer reports does not linger. Refuses a cursor past the
    /// start of the run that writes it.
    func commitWindow(
        _ records: [DeliveryStatusRecord],
        replacing window: Range<Int64>,
        cursor: CursorKey,
        position: Int64,
        run: RunRecord,
        now: Int64
    ) async throws(StateError)
    /// Stores one run's dataset-quality snapshot (one record per pixel and event name).
    func commitMatchQuality(_ records: [MatchQualityRecord], snapshotAt: Int64, runID: String) async throws(StateError)
    func recordRun(_ run: RunRecord) async throws(StateError)
    func recentRuns(limit: Int) async throws(StateError) -> [RunRecord]

    /// Runs `body` holding the poll lock; `nil` without running it when another poll holds it.
    func withPollLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T?

    // MARK: Streams and operations

    /// A stream's records as JSON objects, oldest first, optionally since a time (ms).
    func readStream(_ stream: String, since: Int64?) async throws(StateError) -> [JSONValue]
    func summary() async throws(StateError) -> StateSummary
    /// Clears a stream's cursor (one partition or all) so the next run starts again.
    func resetCursor(stream: String, partition: String?) async throws(StateError) -> Int
    /// Records an alarm, unless one of the same kind for the same pixel is still active.
    func raiseAlarm(kind: String, pixelID: String?, message: String, now: Int64) async throws(StateError)
    /// Clears the active alarms of `kind` for `pixelID`; returns how many.
    @discardableResult
    func clearAlarms(kind: String, pixelID: String?, now: Int64) async throws(StateError) -> Int
    /// Alarms not yet cleared, oldest first.
    func activeAlarms() async throws(StateError) -> [AlarmRecord]
    func registerSchema(id: String, body: String, now: Int64) async throws(StateError)
}

/// Streams the registry can read back.
public enum StateStream: String, Sendable, CaseIterable {
    case deliveredEvents = "delivered_events"
    case deliveryStatuses = "delivery_statuses"
    case matchQuality = "match_quality"
}
