import CAPICore

/// An outbox row claimed for sending, under a lease.
public struct OutboxEntry: Sendable, Equatable {
    public var id: Int64
    public var key: EventKey
    public var payload: String
    /// Failed sends so far (the retry budget is per event).
    public var attempts: Int
    public var createdAt: UnixMillis
    /// Claims since the last recorded outcome, this one included: above 1, an earlier claimer died
    /// holding the row, possibly after Meta received it, so sending now may be a re-send.
    public var claims: Int
    /// When Meta stops accepting the event.
    public var expiresAt: UnixMillis
    /// The request's own `test_event_code` (``IntakeItem/testEventCode``); `nil` for the pixel's.
    public var testEventCode: String?

    public init(
        id: Int64,
        key: EventKey,
        payload: String,
        attempts: Int,
        createdAt: UnixMillis,
        claims: Int = 1,
        expiresAt: UnixMillis? = nil,
        testEventCode: String? = nil
    ) {
        self.id = id
        self.key = key
        self.payload = payload
        self.attempts = attempts
        self.createdAt = createdAt
        self.claims = claims
        self.expiresAt = expiresAt ?? MetaLimits.expiry(of: key.eventTime, actionSource: nil)
        self.testEventCode = testEventCode
    }
}

/// Why an event was dead-lettered, as a class: Meta's error classes, and the connector's own.
public enum DeadLetterClass: String, Sendable, Codable, CaseIterable {
    // Meta's (see `GraphErrorClass`): what the last answer was when the retries ran out or the
    // event was refused.
    case transient, throttled, blocked, auth, permission, invalid, deprecated
    /// The event's pixel is not (or no longer) in the manifest.
    case configuration
    /// Meta would refuse it as older than its age limit before it could be delivered.
    case tooOld = "too_old"
}

/// Why an event was dead-lettered: Meta's error fields or the connector's own reason.
public struct DeadLetterReason: Sendable, Equatable, Codable {
    public var errorClass: DeadLetterClass
    public var code: Int?
    public var subcode: Int?
    public var message: String
    public var fbtraceID: String?

    public init(errorClass: DeadLetterClass, code: Int? = nil, subcode: Int? = nil, message: String, fbtraceID: String? = nil) {
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
    public var createdAt: UnixMillis
    /// The request's own `test_event_code`: a test event, which an operator may rather purge.
    public var testEventCode: String?

    public init(id: Int64, key: EventKey, reason: DeadLetterReason, attempts: Int, createdAt: UnixMillis, testEventCode: String? = nil) {
        self.id = id
        self.key = key
        self.reason = reason
        self.attempts = attempts
        self.createdAt = createdAt
        self.testEventCode = testEventCode
    }
}
