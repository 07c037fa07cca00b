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
        }
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
