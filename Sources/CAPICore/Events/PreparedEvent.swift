/// An event ready for Meta: validated, personal data normalized and hashed, original fields kept.
///
/// This is what is committed durably and forwarded; it holds no raw personal value.
public struct PreparedEvent: Sendable, Equatable {
    public var pixelID: String
    public var eventID: String
    public var eventName: String
    public var eventTime: Int64
    public var actionSource: ActionSource
    /// Meta's server-event object as it will be sent, except `user_data`.
    public var fields: JSONObject
    /// `user_data`, hashed and already written as text.
    public var userData: PreparedUserData
    /// Values dropped or fields passed through with a remark; field paths only.
    public var warnings: [String]
    /// The event's own `test_event_code` (a mirrored event names the code its request to Meta
    /// had); `nil` when it names none.
    public var testEventCode: String? = nil

    /// Meta's server-event object, exactly as it will be sent, as a tree (built on each call: for
    /// readers off the hot path).
    public var payload: JSONValue {
        var object = fields
        object["user_data"] = .object(userData.object)
        return .object(object)
    }

    /// The payload's canonical text (keys sorted, so equal content is equal text): what is stored,
    /// content-hashed and sent.
    public var payloadText: String { JSONValue.serializedObject(fields, adding: "user_data", text: userData.textBytes) }

    /// `user_data` keys present after normalization (match-quality drivers), in Meta's key order.
    public var matchKeys: [String] { Array(userData.keyNames) }

    /// The idempotency key: Meta's own de-duplication identity plus the pixel.
    public var key: EventKey { EventKey(pixelID: pixelID, eventID: eventID, eventTime: UnixSeconds(eventTime)) }
}

extension PreparedEvent {
    /// From a whole server-event object, `user_data` included (its match keys are the Meta keys
    /// it holds a value for).
    public init(
        pixelID: String,
        eventID: String,
        eventName: String,
        eventTime: Int64,
        actionSource: ActionSource,
        payload: JSONValue,
        warnings: [String]
    ) {
        var fields = payload.objectValue ?? [:]
        let userData = fields.removeValue(forKey: "user_data")?.objectValue ?? [:]
        self.init(
            pixelID: pixelID,
            eventID: eventID,
            eventName: eventName,
            eventTime: eventTime,
            actionSource: actionSource,
            fields: fields,
            userData: PreparedUserData(userData),
            warnings: warnings
        )
    }
}

/// (pixel_id, event_id, event_time): an event is sent at most once per key.
///
/// Ids compare byte for byte (``ExactText``), as Meta and both stores compare them: with `String`'s
/// own equality, the second of two events the store had taken as distinct was answered `conflict`.
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

    public static func == (left: EventKey, right: EventKey) -> Bool {
        left.eventTime == right.eventTime && ExactText(left.eventID) == ExactText(right.eventID)
            && ExactText(left.pixelID) == ExactText(right.pixelID)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(eventTime)
        hasher.combine(ExactText(eventID))
        hasher.combine(ExactText(pixelID))
    }
}
