import CAPICore
import ConnectorRuntime
import Foundation

/// The JSON shape of each stream's records, as `read` prints them (one object per line).
enum StreamRecordJSON {
    static func objects(_ records: StreamRecords) -> [JSONValue] {
        switch records {
        case .deliveredEvents(let events): events.map(delivered)
        case .deliveryStatuses(let statuses): statuses.map(status)
        case .matchQuality(let snapshots): snapshots.map(\.quality.record)
        case .adInsights(let rows): rows.map(insights)
        }
    }

    /// Numbers as numbers; what Meta did not report as `null`, never 0.
    static func insights(_ stored: StoredAdInsights) -> JSONValue {
        let row = stored.insights
        func number(_ value: Double?) -> JSONValue { value.map(JSONValue.number) ?? .null }
        func counts(_ values: [String: Double]) -> JSONValue { .object(JSONObject(values.mapValues(JSONValue.number))) }
        return .object([
            "account_id": .string(row.accountID),
            "level": .string(row.level),
            "level_id": .string(row.levelID),
            "level_name": row.levelName.map(JSONValue.string) ?? .null,
            "day": .string(row.day.description),
            "currency": .string(row.currency),
            "time_zone": row.timeZone.map(JSONValue.string) ?? .null,
            "pixels": row.pixels.map { .array($0.map(JSONValue.string)) } ?? .null,
            "spend": number(row.spend),
            "impressions": row.impressions.map(JSONValue.integer) ?? .null,
            "clicks": row.clicks.map(JSONValue.integer) ?? .null,
            "conversions": .array(
                row.conversions.map { conversion in
                    .object([
                        "event_name": .string(conversion.eventName),
                        "action_type": .string(conversion.actionType),
                        "count": number(conversion.count),
                        "value": number(conversion.value),
                        "windows": counts(conversion.windows),
                        "value_windows": counts(conversion.valueWindows),
                    ])
                }
            ),
            "pulled_at": .string(stored.pulledAt.seconds.iso8601),
            "run_id": .string(stored.runID),
        ])
    }

    /// The record intake wrote, with its delivery outcome.
    static func delivered(_ event: DeliveredEvent) -> JSONValue {
        var object = (try? JSONValue(parsing: event.record))?.objectValue ?? [:]
        object["outcome"] = .string(event.outcome.rawValue)
        object["fbtrace_id"] = event.fbtraceID.map(JSONValue.string) ?? .null
        object["dead_letter_reason"] =
            event.deadLetterReason.flatMap { reason in
                (try? JSONEncoder().encode(reason)).flatMap { try? JSONValue(parsing: $0) }
            } ?? .null
        return .object(object)
    }

    static func status(_ stored: StoredDeliveryStatus) -> JSONValue {
        .object([
            "pixel_id": .string(stored.status.pixelID),
            "bucket_start": .string(stored.status.bucketStart.iso8601),
            "event_name": .string(stored.status.eventName),
            "event_source": .string(stored.status.eventSource),
            "count": .integer(stored.status.count),
            "pulled_at": .string(stored.pulledAt.seconds.iso8601),
            "run_id": .string(stored.runID),
        ])
    }
}
