import CAPICore

/// The streams `poll` writes, read a page at a time in their key order. They grow by hours and days,
/// not events, but per pixel, event and hour (or per ad and day) that is still a million rows in a
/// year or two: `read ad_insights` of 300,000 ad-level rows held 2.4 GB at once.
public enum PulledStream: String, Sendable, CaseIterable {
    case deliveryStatuses = "delivery_statuses"
    case matchQuality = "match_quality"
    case adInsights = "ad_insights"

    public init?(_ stream: StateStream) {
        self.init(rawValue: stream.rawValue)
    }

    /// The table's primary key, the order pages come in.
    public var keyColumns: [String] {
        switch self {
        case .deliveryStatuses: ["pixel_id", "bucket_start", "event_name", "event_source"]
        case .matchQuality: ["pixel_id", "event_name", "snapshot_at"]
        case .adInsights: ["account_id", "level", "level_id", "day"]
        }
    }

    /// The columns a page reads, which each backend decodes in this order.
    public var readColumns: String {
        switch self {
        case .deliveryStatuses: "pixel_id, bucket_start, event_name, event_source, count, pulled_at, run_id"
        case .matchQuality: "pixel_id, event_name, snapshot_at, record, run_id"
        case .adInsights: "record, pulled_at, run_id"
        }
    }

    /// The column `since` reads: when the row was pulled.
    public var writtenColumn: String { self == .matchQuality ? "snapshot_at" : "pulled_at" }
}

/// A value bound to a statement both backends run, in their own placeholder syntax.
public enum StatementValue: Sendable, Equatable {
    case text(String)
    case integer(Int64)
}

/// Where a page of a pulled stream stopped: its last row's key values, in key order.
public struct PulledStreamPosition: Sendable, Equatable {
    public var values: [StatementValue]

    /// The position after the last record of `records`; `nil` when there is none, or for
    /// `delivered_events`, which pages by ``DeliveredEventPosition``.
    public init?(after records: StreamRecords) {
        switch records {
        case .deliveredEvents: return nil
        case .deliveryStatuses(let rows):
            guard let last = rows.last?.status else { return nil }
            values = [.text(last.pixelID), .integer(last.bucketStart.rawValue), .text(last.eventName), .text(last.eventSource)]
        case .matchQuality(let rows):
            guard let last = rows.last else { return nil }
            values = [.text(last.quality.pixelID), .text(last.quality.eventName), .integer(last.snapshotAt.rawValue)]
        case .adInsights(let rows):
            guard let last = rows.last?.insights else { return nil }
            values = [.text(last.accountID), .text(last.level), .text(last.levelID), .text(last.day.description)]
        }
    }
}
