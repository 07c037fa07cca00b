import CAPICore

/// What `state show` prints.
public struct StateSummary: Sendable, Equatable {
    public var cursors: [(CursorKey, CursorValue)]
    public var recentRuns: [RunRecord]
    public var outboxDepth: Int
    public var deadLetters: Int
    public var schemaVersion: Int

    public init(cursors: [(CursorKey, CursorValue)], recentRuns: [RunRecord], outboxDepth: Int, deadLetters: Int, schemaVersion: Int) {
        self.cursors = cursors
        self.recentRuns = recentRuns
        self.outboxDepth = outboxDepth
        self.deadLetters = deadLetters
        self.schemaVersion = schemaVersion
    }

    public static func == (lhs: StateSummary, rhs: StateSummary) -> Bool {
        lhs.cursors.map(\.0) == rhs.cursors.map(\.0) && lhs.cursors.map(\.1) == rhs.cursors.map(\.1)
            && lhs.recentRuns == rhs.recentRuns && lhs.outboxDepth == rhs.outboxDepth && lhs.deadLetters == rhs.deadLetters
            && lhs.schemaVersion == rhs.schemaVersion
    }
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
