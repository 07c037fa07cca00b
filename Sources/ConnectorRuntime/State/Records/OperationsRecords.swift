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

/// A raised alarm (a paused pixel, later schema drift): active until `clearedAt` is set.
public struct AlarmRecord: Sendable, Equatable {
    public var id: Int64
    public var kind: String
    public var pixelID: String?
    /// What happened, without personal values or secrets.
    public var message: String
    public var raisedAt: UnixMillis
    public var clearedAt: UnixMillis?

    public init(id: Int64, kind: String, pixelID: String?, message: String, raisedAt: UnixMillis, clearedAt: UnixMillis?) {
        self.id = id
        self.kind = kind
        self.pixelID = pixelID
        self.message = message
        self.raisedAt = raisedAt
        self.clearedAt = clearedAt
    }
}
