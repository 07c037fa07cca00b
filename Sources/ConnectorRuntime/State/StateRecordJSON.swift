import CAPICore
import Foundation

/// JSON shapes of stream records as `read` prints them.
enum StateRecordJSON {
    static func delivered(record: String, outcome: String, fbtraceID: String?, deadLetterReason: String?) -> JSONValue {
        var object = (try? JSONValue(parsing: record))?.objectValue ?? [:]
        object["outcome"] = .string(outcome)
        object["fbtrace_id"] = fbtraceID.map(JSONValue.string) ?? .null
        object["dead_letter_reason"] = deadLetterReason.flatMap { try? JSONValue(parsing: $0) } ?? .null
        return .object(object)
    }

    static func status(_ record: DeliveryStatusRecord, pulledAt: Int64, runID: String) -> JSONValue {
        .object([
            "pixel_id": .string(record.pixelID),
            "bucket_start": .string(isoSeconds(record.bucketStart)),
            "event_name": .string(record.eventName),
            "event_source": .string(record.eventSource),
            "count": .integer(record.count),
            "pulled_at": .string(isoSeconds(pulledAt / 1000)),
            "run_id": .string(runID),
        ])
    }

    static func isoSeconds(_ seconds: Int64) -> String { UTCTimestamp.iso8601(seconds: seconds) }
}
