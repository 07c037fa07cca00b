import CAPICore
import Foundation

/// What the connector forwarded and dead-lettered next to what Meta reports receiving from servers,
/// per pixel, event name and period; the reason analytics teams run the pull job.
///
/// Pure: it aggregates stream records handed in, so it is the same for any store.
public struct Reconciliation: Sendable {
    public enum Granularity: String, Sendable, CaseIterable {
        case hour, day
        var seconds: Int64 { self == .hour ? 3600 : 86_400 }
    }

    public struct Row: Sendable, Equatable {
        public var pixelID: String
        public var eventName: String
        public var periodStart: Int64
        public var forwarded: Int64
        public var deadLettered: Int64
        public var pending: Int64
        public var metaReceived: Int64
        /// forwarded − Meta's server count.
        public var difference: Int64 { forwarded - metaReceived }
        /// The difference as a share of what was forwarded (nil when nothing was forwarded).
        public var differencePercent: Double? { forwarded == 0 ? nil : Double(difference) * 100 / Double(forwarded) }
        public var diverges: Bool
    }

    public var rows: [Row]

    /// - Parameters:
    ///   - delivered: `delivered_events` records (`pixel_id`, `event_name`, `event_time`, `outcome`).
    ///   - statuses: `delivery_statuses` records; only `event_source: server` counts are compared.
    ///   - threshold: percentage beyond which a period is flagged.
    public init(delivered: [JSONValue], statuses: [JSONValue], since: Int64, until: Int64, by granularity: Granularity, threshold: Double = 5) {
        struct Key: Hashable { var pixel: String, name: String, period: Int64 }
        var table: [Key: Row] = [:]
        func period(_ time: Int64) -> Int64 { time - ((time % granularity.seconds) + granularity.seconds) % granularity.seconds }
        func row(_ key: Key) -> Row {
            table[key]
                ?? Row(
                    pixelID: key.pixel,
                    eventName: key.name,
                    periodStart: key.period,
                    forwarded: 0,
                    deadLettered: 0,
                    pending: 0,
                    metaReceived: 0,
                    diverges: false
                )
        }
        for record in delivered {
            guard case .integer(let time)? = record["event_time"], time >= since, time < until,
                let pixel = record["pixel_id"]?.stringValue, let name = record["event_name"]?.stringValue
            else { continue }
            let key = Key(pixel: pixel, name: name, period: period(time))
            var current = row(key)
            switch record["outcome"]?.stringValue {
            case "forwarded": current.forwarded += 1
            case "dead_lettered": current.deadLettered += 1
            default: current.pending += 1
            }
            table[key] = current
        }
        for record in statuses where record["event_source"]?.stringValue == "server" {
            guard let bucket = record["bucket_start"]?.stringValue.flatMap(UTCTimestamp.parse), bucket >= since, bucket < until,
                let pixel = record["pixel_id"]?.stringValue, let name = record["event_name"]?.stringValue,
                case .integer(let count)? = record["count"]
            else { continue }
            let key = Key(pixel: pixel, name: name, period: period(bucket))
            var current = row(key)
            current.metaReceived += count
            table[key] = current
        }
        rows = table.values.map { row in
            var flagged = row
            flagged.diverges = row.forwarded == 0 ? row.metaReceived > 0 : abs(row.differencePercent ?? 0) > threshold
            return flagged
        }.sorted { ($0.pixelID, $0.eventName, $0.periodStart) < ($1.pixelID, $1.eventName, $1.periodStart) }
    }
}
