import CAPICore
import ConnectorRuntime

/// One alarm change as a Standard Webhooks message: a JSON body with `type`, `timestamp` and
/// `data`, and the three headers that sign it. The id stays the same across retries, so a
/// receiver can drop a message it already has.
public struct AlarmMessage: Sendable, Equatable {
    public var id: String
    public var timestamp: UnixSeconds
    public var body: [UInt8]

    public init(_ change: AlarmChange, id: String, sentAt: UnixSeconds) {
        self.id = id
        timestamp = sentAt
        var data: JSONObject = [
            "kind": .string(change.subject.kind),
            "severity": .string(change.severity.rawValue),
            "detail": .string(change.detail),
            "at": .string(change.at.iso8601),
        ]
        if let pixel = change.subject.pixelID { data["pixel_id"] = .string(pixel) }
        if let stream = change.subject.stream { data["stream"] = .string(stream) }
        if let name = change.subject.eventName { data["event_name"] = .string(name) }
        if let field = change.subject.field { data["field"] = .string(field) }
        let message: JSONValue = .object([
            "type": .string("alarm.\(change.transition.rawValue)"),
            "timestamp": .string(change.at.iso8601),
            "data": .object(data),
        ])
        body = Array(message.serialized.utf8)
    }

    /// `webhook-id`, `webhook-timestamp` and `webhook-signature`, signed with `key`.
    public func headers(signedWith key: SigningKey) -> [(String, String)] {
        let timestamp = String(timestamp.rawValue)
        return [
            ("webhook-id", id),
            ("webhook-timestamp", timestamp),
            ("webhook-signature", StandardWebhookSignature.sign(key: key, id: id, timestamp: timestamp, body: body)),
        ]
    }
}
