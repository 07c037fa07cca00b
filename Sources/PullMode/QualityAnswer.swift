import CAPICore
import ConnectorRuntime

/// `GET /dataset_quality?fields=web{…}` as `match_quality` records, with the score and the shape
/// problems the drift monitor watches.
///
/// A dataset without quality data yet answers without `web`. A `web` of another shape fails the
/// read; a row without an event name cannot be stored and is reported, never dropped unnoticed;
/// a row whose score is unreadable is stored as Meta sent it and reported.
public enum QualityAnswer {
    public struct Row: Sendable, Equatable {
        public var record: MatchQualityRecord
        /// `event_match_quality.composite_score` (0–10), when Meta reported one.
        public var score: Double?
        public var problems: [AnswerShapeProblem]
    }

    public struct Reading: Sendable, Equatable {
        public var rows: [Row]
        /// Problems of the answer as a whole (rows that could not be stored).
        public var problems: [AnswerShapeProblem]
    }

    public static func read(_ body: JSONValue, pixelID: String, snapshotAt: UnixMillis, runID: String) throws(AnswerShapeProblem) -> Reading {
        let entries: [JSONValue]
        switch body["web"] {
        case nil, .null?: entries = []
        case .array(let rows)?: entries = rows
        default: throw problem("web", "an array")
        }
        var reading = Reading(rows: [], problems: [])
        for entry in entries {
            guard var record = entry.objectValue, let name = record["event_name"]?.stringValue, !name.isEmpty else {
                reading.problems.append(problem("web[].event_name", "a non-empty string"))
                continue
            }
            var problems: [AnswerShapeProblem] = []
            var score: Double?
            switch record["event_match_quality"] {
            case nil, .null?: break  // no score yet for this event
            case .object(let quality)?:
                switch quality["composite_score"] {
                case .integer(let value)? where (0...10).contains(value): score = Double(value)
                case .number(let value)? where (0...10).contains(value): score = value
                default: problems.append(problem("web[].event_match_quality.composite_score", "a number from 0 to 10"))
                }
            default: problems.append(problem("web[].event_match_quality", "an object"))
            }
            record["pixel_id"] = .string(pixelID)
            record["snapshot_at"] = .string(snapshotAt.iso8601)
            record["run_id"] = .string(runID)
            reading.rows.append(
                Row(record: MatchQualityRecord(pixelID: pixelID, eventName: name, record: .object(record)), score: score, problems: problems)
            )
        }
        return reading
    }

    static func problem(_ field: String, _ expectation: String) -> AnswerShapeProblem {
        AnswerShapeProblem(answer: "dataset_quality", field: field, expectation: expectation)
    }
}
