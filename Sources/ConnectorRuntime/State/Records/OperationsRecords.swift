import CAPICore

/// What `state show` prints.
public struct StateSummary: Sendable, Equatable {
    public var cursors: [(CursorKey, CursorValue)]
    public var recentRuns: [RunRecord]
    public var outboxDepth: Int
    /// Per pixel, what waits in the outbox and why.
    public var outbox: [OutboxPixelSummary]
    public var deadLetters: Int
    public var schemaVersion: Int

    public init(
        cursors: [(CursorKey, CursorValue)],
        recentRuns: [RunRecord],
        outboxDepth: Int,
        outbox: [OutboxPixelSummary] = [],
        deadLetters: Int,
        schemaVersion: Int
    ) {
        self.cursors = cursors
        self.recentRuns = recentRuns
        self.outboxDepth = outboxDepth
        self.outbox = outbox
        self.deadLetters = deadLetters
        self.schemaVersion = schemaVersion
    }

    public static func == (lhs: StateSummary, rhs: StateSummary) -> Bool {
        lhs.cursors.map(\.0) == rhs.cursors.map(\.0) && lhs.cursors.map(\.1) == rhs.cursors.map(\.1)
            && lhs.recentRuns == rhs.recentRuns && lhs.outboxDepth == rhs.outboxDepth && lhs.outbox == rhs.outbox
            && lhs.deadLetters == rhs.deadLetters && lhs.schemaVersion == rhs.schemaVersion
    }
}

/// One pixel's part of the outbox: an operator's first question when events do not reach Meta is
/// whether they wait, since when, and what the last attempt was told.
public struct OutboxPixelSummary: Sendable, Equatable {
    public var pixelID: String
    public var queued: Int
    /// Rows with at least one failed attempt.
    public var retrying: Int
    public var oldestQueuedAt: UnixMillis
    public var nextAttemptAt: UnixMillis
    /// The latest failure's description (Meta's error class, code and message), if any row failed.
    public var lastError: String?

    public init(pixelID: String, queued: Int, retrying: Int, oldestQueuedAt: UnixMillis, nextAttemptAt: UnixMillis, lastError: String?) {
        self.pixelID = pixelID
        self.queued = queued
        self.retrying = retrying
        self.oldestQueuedAt = oldestQueuedAt
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
    }

    /// The query both stores run: one row per pixel, the latest failure by its next attempt.
    public static let query = """
        SELECT pixel_id, COUNT(*) AS queued, SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END) AS retrying,
          MIN(created_at) AS oldest, MIN(next_attempt_at) AS next_attempt,
          (SELECT e.last_error FROM outbox e WHERE e.pixel_id = o.pixel_id AND e.last_error IS NOT NULL
           ORDER BY e.next_attempt_at DESC LIMIT 1) AS last_error
        FROM outbox o GROUP BY pixel_id ORDER BY pixel_id
        """
}

/// A raised alarm (a paused pixel, a drift): active until `clearedAt` is set.
public struct AlarmRecord: Sendable, Equatable {
    public var id: Int64
    public var subject: AlarmSubject
    public var severity: AlarmSeverity
    /// What happened, latest sighting; never a personal value or a secret.
    public var message: String
    /// First seen.
    public var raisedAt: UnixMillis
    public var lastSeen: UnixMillis
    /// Sightings while active.
    public var occurrences: Int
    public var clearedAt: UnixMillis?

    public var kind: String { subject.kind }
    public var pixelID: String? { subject.pixelID }

    public init(
        id: Int64,
        subject: AlarmSubject,
        severity: AlarmSeverity,
        message: String,
        raisedAt: UnixMillis,
        lastSeen: UnixMillis,
        occurrences: Int,
        clearedAt: UnixMillis?
    ) {
        self.id = id
        self.subject = subject
        self.severity = severity
        self.message = message
        self.raisedAt = raisedAt
        self.lastSeen = lastSeen
        self.occurrences = occurrences
        self.clearedAt = clearedAt
    }
}
