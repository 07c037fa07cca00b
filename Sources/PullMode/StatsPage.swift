import CAPICore
import ConnectorRuntime
import GraphAPI

/// One page of `GET /{pixel}/stats?aggregation=event` as `delivery_statuses` records.
///
/// Meta answers hourly buckets `{"start_time": "2026-11-20T10:00:00+0000", "data": [{"value":
/// "Purchase", "count": 57}]}`; counts may arrive as numbers or strings. An answer of any other
/// shape is an error naming the field, never an empty page: a window read as empty replaces the
/// stored counts.
public enum StatsPage {
    public static func records(
        from body: JSONValue,
        pixelID: String,
        eventSource: String,
        window: DateWindows.Window
    ) throws(AnswerShapeProblem) -> [DeliveryStatusRecord] {
        guard case .array(let buckets)? = body["data"] else { throw problem("data", "an array") }
        var records: [DeliveryStatusRecord] = []
        for bucket in buckets {
            guard case .string(let text)? = bucket["start_time"], let start = UTCTimestamp.parse(text) else {
                throw problem("data[].start_time", "an ISO 8601 time")
            }
            let bucketStart = UnixSeconds(start)
            guard bucketStart >= window.start, bucketStart < window.end else { continue }
            guard case .array(let entries)? = bucket["data"] else { throw problem("data[].data", "an array") }
            for entry in entries {
                // A renamed `value` would otherwise read as a window without events.
                guard let name = entry["value"]?.stringValue else { throw problem("data[].data[].value", "a string") }
                guard !name.isEmpty else { continue }
                let count: Int64? =
                    switch entry["count"] {
                    case .integer(let value)?: value
                    case .number(let value)?: Bounded.int64(exactly: value)
                    case .string(let value)?: Bounded.digits(value)
                    default: nil
                    }
                guard let count, count >= 0 else { throw problem("data[].data[].count", "a non-negative integer") }
                records.append(
                    DeliveryStatusRecord(pixelID: pixelID, bucketStart: bucketStart, eventName: name, eventSource: eventSource, count: count)
                )
            }
        }
        return records
    }

    static func problem(_ field: String, _ expectation: String) -> AnswerShapeProblem {
        AnswerShapeProblem(answer: "stats", field: field, expectation: expectation)
    }
}
