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
    public var receivedAt: UnixMillis
    /// When Meta stops accepting the event; the forwarder dead-letters it before then.
    public var expiresAt: UnixMillis
    /// The `test_event_code` the event goes to Meta with, when its request named one (the Graph
    /// route); `nil` sends it with its pixel's code from the manifest, if any.
    public var testEventCode: String?

    /// - Parameter expiresAt: default: Meta's 7-day limit after `event_time`.
    public init(
        key: EventKey,
        contentHash: String,
        payload: String,
        answer: String,
        deliveredRecord: String,
        receivedAt: UnixMillis,
        expiresAt: UnixMillis? = nil,
        testEventCode: String? = nil
    ) {
        self.key = key
        self.contentHash = contentHash
        self.payload = payload
        self.answer = answer
        self.deliveredRecord = deliveredRecord
        self.receivedAt = receivedAt
        self.expiresAt = expiresAt ?? MetaLimits.expiry(of: key.eventTime, actionSource: nil)
        self.testEventCode = testEventCode
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
