import Foundation
import CAPICore

/// Pure bookkeeping for an intake commit: which items the ledger took, which must be compared
/// with an existing row, and the outcome of each, in the caller's order.
struct IntakePlan {
    let items: [IntakeItem]
    /// Indexes of items that are new (the first occurrence of each inserted key).
    private(set) var accepted: [Int] = []
    /// Keys whose ledger row existed before this commit.
    private(set) var lookups: [EventKey] = []
    private var firstIndexOf: [EventKey: Int] = [:]

    init(items: [IntakeItem], insertedKeys: Set<EventKey>) {
        self.items = items
        var lookupSet = Set<EventKey>()
        for (index, item) in items.enumerated() {
            if firstIndexOf[item.key] == nil {
                firstIndexOf[item.key] = index
                if insertedKeys.contains(item.key) {
                    accepted.append(index)
                } else if lookupSet.insert(item.key).inserted {
                    lookups.append(item.key)
                }
            }
        }
    }

    /// Outcomes in item order; `existing` holds the stored hash and answer of looked-up keys.
    func outcomes(existing: [EventKey: (hash: String, answer: String)]) -> [IntakeOutcome] {
        let acceptedSet = Set(accepted)
        return items.enumerated().map { index, item in
            if acceptedSet.contains(index) { return .accepted }
            let reference: (hash: String, answer: String)
            if let stored = existing[item.key] {
                reference = stored
            } else if let first = firstIndexOf[item.key], acceptedSet.contains(first) {
                reference = (items[first].contentHash, items[first].answer)
            } else {
                return .conflict
            }
            return reference.hash == item.contentHash ? .duplicate(answer: reference.answer) : .conflict
        }
    }
}

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
