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
    public var fields: [String: JSONValue]
    /// `user_data`, hashed and already written as text.
    public var userData: PreparedUserData
    /// Values dropped or fields passed through with a remark; field paths only.
    public var warnings: [String]

    /// Meta's server-event object, exactly as it will be sent, as a tree (built on each call: for
    /// readers off the hot path).
    public var payload: JSONValue {
        var object = fields
        object["user_data"] = .object(userData.object)
        return .object(object)
    }

    /// The payload's canonical text (keys sorted, so equal content is equal text): what is stored,
    /// content-hashed and sent.
    public var payloadText: String { JSONValue.serializedObject(fields, adding: "user_data", text: userData.text) }

    /// `user_data` keys present after normalization (match-quality drivers), in Meta's key order.
    public var matchKeys: [String] { userData.keys }

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
/// Ids compare byte for byte, as Meta and both stores compare them: `String`'s own equality holds
/// canonically equivalent spellings ("é" composed or decomposed) equal, and so answered the second
/// of two events the store had taken as distinct `conflict`.
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
        left.eventTime == right.eventTime && left.eventID.utf8.elementsEqual(right.eventID.utf8)
            && left.pixelID.utf8.elementsEqual(right.pixelID.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(eventTime)
        Self.combineBytes(of: eventID, into: &hasher)
        Self.combineBytes(of: pixelID, into: &hasher)
    }

    private static func combineBytes(of text: String, into hasher: inout Hasher) {
        let hashed = text.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil { Array(text.utf8).withUnsafeBytes { hasher.combine(bytes: $0) } }
        // 0xFF never occurs in UTF-8: it ends the field, so ("ab", "c") and ("a", "bc") differ.
        hasher.combine(UInt8(0xFF))
    }
}
