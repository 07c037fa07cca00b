import CAPICore
import ConnectorRuntime
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
        public var periodStart: UnixSeconds
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
    ///   - delivered: `delivered_events` (the event name is read from each record).
    ///   - statuses: `delivery_statuses`; only `event_source: server` counts are compared.
    ///   - since, until: the event times compared, `until` excluded.
    ///   - threshold: percentage beyond which a period is flagged.
    public init(
        delivered: [DeliveredEvent],
        statuses: [StoredDeliveryStatus],
        since: UnixSeconds,
        until: UnixSeconds,
        by granularity: Granularity,
        threshold: Double = 5
    ) {
        struct Key: Hashable { var pixel: String, name: String, period: UnixSeconds }
        var table: [Key: Row] = [:]
        func period(_ time: UnixSeconds) -> UnixSeconds {
            UnixSeconds(time.rawValue - ((time.rawValue % granularity.seconds) + granularity.seconds) % granularity.seconds)
        }
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
        for event in delivered {
            let time = event.key.eventTime
            guard time >= since, time < until, let name = (try? JSONValue(parsing: event.record))?["event_name"]?.stringValue else { continue }
            let key = Key(pixel: event.key.pixelID, name: name, period: period(time))
            var current = row(key)
            switch event.outcome {
            case .forwarded: current.forwarded += 1
            case .deadLettered: current.deadLettered += 1
            case .pending: current.pending += 1
            }
            table[key] = current
        }
        for stored in statuses where stored.status.eventSource == "server" {
            let status = stored.status
            guard status.bucketStart >= since, status.bucketStart < until else { continue }
            let key = Key(pixel: status.pixelID, name: status.eventName, period: period(status.bucketStart))
            var current = row(key)
            current.metaReceived += status.count
            table[key] = current
        }
        rows = table.values.map { row in
            var flagged = row
            flagged.diverges = row.forwarded == 0 ? row.metaReceived > 0 : abs(row.differencePercent ?? 0) > threshold
            return flagged
        }.sorted { ($0.pixelID, $0.eventName, $0.periodStart) < ($1.pixelID, $1.eventName, $1.periodStart) }
    }
}
