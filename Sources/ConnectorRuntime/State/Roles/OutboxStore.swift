import CAPICore

/// What the forwarder (and readiness) needs: leased claims of due rows and the outcome of each.
public protocol OutboxStore: Sendable {
    /// Leases up to `limit` rows due by `dueBy` (`next_attempt_at <= dueBy`, no live lease at `now`)
    /// to `owner` until `now + lease`. On Postgres concurrent claimers skip each other's rows; an
    /// expired lease is claimable again. A one-shot flush passes its start as `dueBy`, so a row it
    /// rescheduled (full jitter can make the wait a few milliseconds) is not sent again in the same run.
    func claimOutbox(
        limit: Int,
        owner: String,
        lease: Duration,
        now: UnixMillis,
        dueBy: UnixMillis,
        pixelID: String?
    ) async throws(StateError)
        -> [OutboxEntry]
    /// Removes sent rows and records the outcome in `delivered_events`.
    func markForwarded(_ entries: [OutboxEntry], fbtraceID: String?, now: UnixMillis) async throws(StateError)
    /// Moves the lease of rows `owner` still holds to `until`, so rows in a long delivery are not
    /// claimed twice, while a dead process's rows return within one short lease.
    func extendLease(_ entries: [OutboxEntry], owner: String, until: UnixMillis) async throws(StateError)
    /// Releases the lease and schedules another attempt; `spendingAttempt` counts it against the
    /// events' retry budget. A pixel's pause (Meta refused its credentials, permissions or API
    /// version, not its events) does not: a long pause would otherwise leave the events with no
    /// budget, and the first transient error after it would dead-letter them.
    func reschedule(_ entries: [OutboxEntry], nextAttemptAt: UnixMillis, lastError: String, spendingAttempt: Bool) async throws(StateError)
    /// Moves rows to the dead-letter queue with their reason, and records the outcome.
    func deadLetter(_ entries: [OutboxEntry], reason: DeadLetterReason, now: UnixMillis) async throws(StateError)
    /// Rows waiting to be sent (leased or not).
    func outboxDepth() async throws(StateError) -> Int
    /// Events in the dead-letter queue.
    func deadLetterCount() async throws(StateError) -> Int
    /// Age of the oldest due row, for readiness (`nil` when empty).
    func oldestDueOutboxAge(now: UnixMillis) async throws(StateError) -> Duration?
}

extension OutboxStore {
    /// Leases rows due now: ``claimOutbox(limit:owner:lease:now:dueBy:pixelID:)`` with `dueBy` = `now`.
    public func claimOutbox(limit: Int, owner: String, lease: Duration, now: UnixMillis, pixelID: String?) async throws(StateError) -> [OutboxEntry] {
        try await claimOutbox(limit: limit, owner: owner, lease: lease, now: now, dueBy: now, pixelID: pixelID)
    }

    /// Schedules another attempt after one that failed, spending one of the events' retries.
    public func reschedule(_ entries: [OutboxEntry], nextAttemptAt: UnixMillis, lastError: String) async throws(StateError) {
        try await reschedule(entries, nextAttemptAt: nextAttemptAt, lastError: lastError, spendingAttempt: true)
    }
}
