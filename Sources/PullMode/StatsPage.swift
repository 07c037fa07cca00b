import CAPICore
import ConnectorRuntime
import Foundation

/// One page of `GET /{pixel}/stats?aggregation=event` as `delivery_statuses` records.
///
/// Meta answers hourly buckets `{"start_time": "2026-11-20T10:00:00+0000", "data": [{"value":
/// "Purchase", "count": 57}]}`; counts may arrive as numbers or strings.
public enum StatsPage {
    public static func records(from body: JSONValue, pixelID: String, eventSource: String, window: DateWindows.Window) -> [DeliveryStatusRecord] {
        guard let buckets = body["data"]?.arrayValue else { return [] }
        var records: [DeliveryStatusRecord] = []
        for bucket in buckets {
            guard let text = bucket["start_time"]?.stringValue, let start = parseTime(text), start >= window.start, start < window.end else { continue }
            for entry in bucket["data"]?.arrayValue ?? [] {
                guard let name = entry["value"]?.stringValue, !name.isEmpty else { continue }
                let count: Int64? = switch entry["count"] {
                case .integer(let value)?: value
                case .number(let value)?: Int64(value)
                case .string(let value)?: Int64(value)
                default: nil
                }
                guard let count else { continue }
                records.append(DeliveryStatusRecord(pixelID: pixelID, bucketStart: start, eventName: name, eventSource: eventSource, count: count))
            }
        }
        return records
    }

    /// `2026-11-20T10:00:00+0000`, `…Z`, `…+00:00` or Unix seconds.
    static func parseTime(_ text: String) -> Int64? {
        if let seconds = Int64(text) { return seconds }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        for format in ["yyyy-MM-dd'T'HH:mm:ssZ", "yyyy-MM-dd'T'HH:mm:ssXXXXX"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970) }
        }
        return nil
    }
}
