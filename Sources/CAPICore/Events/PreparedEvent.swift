/// An event ready for Meta: validated, personal data normalized and hashed, original fields kept.
///
/// This is what is committed durably and forwarded; it holds no raw personal value.
public struct PreparedEvent: Sendable, Equatable {
    public var pixelID: String
    public var eventID: String
    public var eventName: String
    public var eventTime: Int64
    public var actionSource: ActionSource
    /// Meta's server-event object, exactly as it will be sent.
    public var payload: JSONValue
    /// `user_data` keys present after normalization (match-quality drivers), in Meta's key order.
    public var matchKeys: [String]
    /// Values dropped or fields passed through with a remark; field paths only.
    public var warnings: [String]

    /// The idempotency key: Meta's own de-duplication identity plus the pixel.
    public var key: EventKey { EventKey(pixelID: pixelID, eventID: eventID, eventTime: UnixSeconds(eventTime)) }
}

/// (pixel_id, event_id, event_time): an event is sent at most once per key.
public struct EventKey: Sendable, Hashable, Codable, CustomStringConvertible {
    public var pixelID: String
    public var eventID: String
    public var eventTime: UnixSeconds

    public init(pixelID: String, eventID: String, eventTime: UnixSeconds) {
        self.pixelID = pixelID
        self.eventID = eventID
        self.eventTime = eventTime
    }

    public var description: String { "\(pixelID)/\(eventID)@\(eventTime.rawValue)" }
}
