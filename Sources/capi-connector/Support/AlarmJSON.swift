import CAPICore
import ConnectorRuntime

/// An alarm as `state show` and `schema alarms` print it.
enum AlarmJSON {
    static func object(_ alarm: AlarmRecord) -> JSONValue {
        func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
        return .object([
            "id": .integer(alarm.id),
            "kind": .string(alarm.kind),
            "severity": .string(alarm.severity.rawValue),
            "pixel_id": optional(alarm.subject.pixelID),
            "stream": optional(alarm.subject.stream),
            "event_name": optional(alarm.subject.eventName),
            "field": optional(alarm.subject.field),
            "message": .string(alarm.message),
            "raised_at": .string(alarm.raisedAt.seconds.iso8601),
            "last_seen": .string(alarm.lastSeen.seconds.iso8601),
            "count": .integer(Int64(alarm.occurrences)),
            "cleared_at": alarm.clearedAt.map { .string($0.seconds.iso8601) } ?? .null,
        ])
    }
}
