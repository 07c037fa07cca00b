import CAPICore

/// Where an event stands in delivery.
public enum DeliveryOutcome: String, Sendable, Codable, CaseIterable {
    case pending, forwarded
    case deadLettered = "dead_lettered"
}

/// Where a paged read of `delivered_events` stopped: the last record's place in the stream's order
/// (received, then the key).
public struct DeliveredEventPosition: Sendable, Equatable {
    public var receivedAt: UnixMillis
    public var key: EventKey

    public init(after event: DeliveredEvent) {
        self.receivedAt = event.receivedAt
        self.key = event.key
    }
}

/// One `delivered_events` row: the analytics record written at intake and its delivery outcome.
public struct DeliveredEvent: Sendable, Equatable {
    public var key: EventKey
    public var receivedAt: UnixMillis
    public var outcome: DeliveryOutcome
    /// The record as intake wrote it (JSON object: salted identifiers, no personal values).
    public var record: String
    public var fbtraceID: String?
    public var deadLetterReason: DeadLetterReason?

    public init(
        key: EventKey,
        receivedAt: UnixMillis,
        outcome: DeliveryOutcome,
        record: String,
        fbtraceID: String?,
        deadLetterReason: DeadLetterReason?
    ) {
        self.key = key
        self.receivedAt = receivedAt
        self.outcome = outcome
        self.record = record
        self.fbtraceID = fbtraceID
        self.deadLetterReason = deadLetterReason
    }
}

/// One stored `delivery_statuses` row: Meta's count and when which run pulled it.
public struct StoredDeliveryStatus: Sendable, Equatable {
    public var status: DeliveryStatusRecord
    public var pulledAt: UnixMillis
    public var runID: String

    public init(status: DeliveryStatusRecord, pulledAt: UnixMillis, runID: String) {
        self.status = status
        self.pulledAt = pulledAt
        self.runID = runID
    }
}

/// One stored `match_quality` row.
public struct StoredMatchQuality: Sendable, Equatable {
    public var quality: MatchQualityRecord
    public var snapshotAt: UnixMillis
    public var runID: String

    public init(quality: MatchQualityRecord, snapshotAt: UnixMillis, runID: String) {
        self.quality = quality
        self.snapshotAt = snapshotAt
        self.runID = runID
    }
}
