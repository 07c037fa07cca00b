import CAPICore

/// One accepted event for the intake commit: ledger row, outbox row and `delivered_events` record,
/// written together or not at all.
public struct IntakeItem: Sendable {
    public var key: EventKey
    /// SHA-256 of the prepared event's canonical JSON: same key with other content is a conflict.
    public var contentHash: String
    /// The hashed event exactly as it will be sent (JSON).
    public var payload: String
    /// The 202 answer, returned again to a retry of the same event.
    public var answer: String
    /// The analytics record for `delivered_events` (JSON, salted identifiers only).
    public var deliveredRecord: String
    public var receivedAt: Int64
    /// When Meta stops accepting the event (Unix ms); the forwarder dead-letters it before then.
    public var expiresAt: Int64

    /// - Parameter expiresAt: default: Meta's 7-day limit after `event_time`.
    public init(
        key: EventKey,
        contentHash: String,
        payload: String,
        answer: String,
        deliveredRecord: String,
        receivedAt: Int64,
        expiresAt: Int64? = nil
    ) {
        self.key = key
        self.contentHash = contentHash
        self.payload = payload
        self.answer = answer
        self.deliveredRecord = deliveredRecord
        self.receivedAt = receivedAt
        self.expiresAt = expiresAt ?? Bounded.product(Bounded.sum(key.eventTime, MetaLimits.maximumEventAgeSeconds), 1000)
    }
}

/// What the intake commit made of one item.
public enum IntakeOutcome: Sendable, Equatable {
    /// New: ledger, outbox and stream rows are committed.
    case accepted
    /// Seen before with the same content: the original answer.
    case duplicate(answer: String)
    /// Seen before with different content.
    case conflict
}

/// An outbox row claimed for sending, under a lease.
public struct OutboxEntry: Sendable, Equatable {
    public var id: Int64
    public var key: EventKey
    public var payload: String
    /// Failed sends so far (the retry budget is per event).
    public var attempts: Int
    public var createdAt: Int64
    /// Claims since the last recorded outcome, this one included: above 1, an earlier claimer died
    /// holding the row, possibly after Meta received it, so sending now may be a re-send.
    public var claims: Int
    /// When Meta stops accepting the event (Unix ms).
    public var expiresAt: Int64

    public init(id: Int64, key: EventKey, payload: String, attempts: Int, createdAt: Int64, claims: Int = 1, expiresAt: Int64? = nil) {
        self.id = id
        self.key = key
        self.payload = payload
        self.attempts = attempts
        self.createdAt = createdAt
        self.claims = claims
        self.expiresAt = expiresAt ?? Bounded.product(Bounded.sum(key.eventTime, MetaLimits.maximumEventAgeSeconds), 1000)
    }
}

/// Why an event was dead-lettered: Meta's error fields or the connector's own reason.
public struct DeadLetterReason: Sendable, Equatable, Codable {
    public var errorClass: String
    public var code: Int?
    public var subcode: Int?
    public var message: String
    public var fbtraceID: String?

    public init(errorClass: String, code: Int? = nil, subcode: Int? = nil, message: String, fbtraceID: String? = nil) {
        self.errorClass = errorClass
        self.code = code
        self.subcode = subcode
        self.message = message
        self.fbtraceID = fbtraceID
    }
}

/// A dead-lettered event, as `dlq list` shows it (no payload: it is hashed, but still not for terminals).
public struct DeadLetter: Sendable, Equatable {
    public var id: Int64
    public var key: EventKey
    public var reason: DeadLetterReason
    public var attempts: Int
    public var createdAt: Int64
}

/// Where a stream's cursor lives: one per (connector, stream, partition).
public struct CursorKey: Sendable, Hashable, Codable {
    public var connector: String
    public var stream: String
    public var partition: String

    public init(connector: String, stream: String, partition: String) {
        self.connector = connector
        self.stream = stream
        self.partition = partition
    }
}

/// A cursor position (Unix seconds for date-range streams) and the run that set it.
public struct CursorValue: Sendable, Equatable, Codable {
    public var position: Int64
    public var runID: String
    public var updatedAt: Int64
}

/// One row of run history.
public struct RunRecord: Sendable, Equatable, Codable {
    public var runID: String
    public var mode: String
    public var startedAt: Int64
    public var endedAt: Int64?
    public var status: String
    /// Counters as JSON (`{"records": 120, "windows": 3}`).
    public var counts: String
    public var errorClass: String?

    public init(
        runID: String,
        mode: String,
        startedAt: Int64,
        endedAt: Int64? = nil,
        status: String = "running",
        counts: String = "{}",
        errorClass: String? = nil
    ) {
        self.runID = runID
        self.mode = mode
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.status = status
        self.counts = counts
        self.errorClass = errorClass
    }
}

/// One hourly count Meta reports for a pixel (`delivery_statuses`).
public struct DeliveryStatusRecord: Sendable, Equatable, Codable {
    public var pixelID: String
    /// Unix seconds of the hour bucket's start.
    public var bucketStart: Int64
    public var eventName: String
    /// `all` or `server`.
    public var eventSource: String
    public var count: Int64

    public init(pixelID: String, bucketStart: Int64, eventName: String, eventSource: String, count: Int64) {
        self.pixelID = pixelID
        self.bucketStart = bucketStart
        self.eventName = eventName
        self.eventSource = eventSource
        self.count = count
    }
}

/// What `state show` prints.
public struct StateSummary: Sendable, Equatable {
    public var cursors: [(CursorKey, CursorValue)]
    public var recentRuns: [RunRecord]
    public var outboxDepth: Int
    public var deadLetters: Int
    public var schemaVersion: Int

    public static func == (lhs: StateSummary, rhs: StateSummary) -> Bool {
        lhs.cursors.map(\.0) == rhs.cursors.map(\.0) && lhs.cursors.map(\.1) == rhs.cursors.map(\.1)
            && lhs.recentRuns == rhs.recentRuns && lhs.outboxDepth == rhs.outboxDepth && lhs.deadLetters == rhs.deadLetters
    }
}

/// One event name's dataset quality for a pixel (`match_quality`), as a JSON record.
public struct MatchQualityRecord: Sendable, Equatable {
    public var pixelID: String
    public var eventName: String
    public var record: JSONValue

    public init(pixelID: String, eventName: String, record: JSONValue) {
        self.pixelID = pixelID
        self.eventName = eventName
        self.record = record
    }
}

/// A raised alarm (a paused pixel, later schema drift): active until `clearedAt` is set.
public struct AlarmRecord: Sendable, Equatable {
    public var id: Int64
    public var kind: String
    public var pixelID: String?
    /// What happened, without personal values or secrets.
    public var message: String
    public var raisedAt: Int64
    public var clearedAt: Int64?

    public init(id: Int64, kind: String, pixelID: String?, message: String, raisedAt: Int64, clearedAt: Int64?) {
        self.id = id
        self.kind = kind
        self.pixelID = pixelID
        self.message = message
        self.raisedAt = raisedAt
        self.clearedAt = clearedAt
    }
}
