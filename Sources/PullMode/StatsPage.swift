import CAPICore
import ConnectorRuntime
import GraphAPI

/// One page of `GET /{pixel}/stats?aggregation=event` as `delivery_statuses` records.
///
/// Meta answers hourly buckets `{"start_time": "2026-11-20T10:00:00+0000", "data": [{"value":
/// "Purchase", "count": 57}]}`; counts may arrive as numbers or strings. An answer of any other
/// shape is an error, never an empty page: a window read as empty replaces the stored counts.
public enum StatsPage {
    public static func records(
        from body: JSONValue,
        pixelID: String,
        eventSource: String,
        window: DateWindows.Window
    ) throws(GraphError) -> [DeliveryStatusRecord] {
        guard case .array(let buckets)? = body["data"] else { throw malformed("has no `data` array") }
        var records: [DeliveryStatusRecord] = []
        for bucket in buckets {
            guard case .string(let text)? = bucket["start_time"], let start = UTCTimestamp.parse(text) else {
                throw malformed("has a bucket without a readable `start_time`")
            }
            let bucketStart = UnixSeconds(start)
            guard bucketStart >= window.start, bucketStart < window.end else { continue }
            guard case .array(let entries)? = bucket["data"] else { throw malformed("has a bucket without a `data` array") }
            for entry in entries {
                guard let name = entry["value"]?.stringValue, !name.isEmpty else { continue }
                let count: Int64? =
                    switch entry["count"] {
                    case .integer(let value)?: value
                    case .number(let value)?: Bounded.int64(exactly: value)
                    case .string(let value)?: Bounded.digits(value)
                    default: nil
                    }
                guard let count, count >= 0 else { throw malformed("has a count that is not a non-negative integer") }
                records.append(
                    DeliveryStatusRecord(pixelID: pixelID, bucketStart: bucketStart, eventName: name, eventSource: eventSource, count: count)
                )
            }
        }
        return records
    }

    static func malformed(_ what: String) -> GraphError {
        GraphError(errorClass: .transient, message: "the stats answer \(what)", transport: .malformedResponse)
    }
}
