import CAPICore
import Foundation

/// Column encodings both backends share, so a value is stored and read back the same way on each.
enum StateColumns {
    /// `dead_letter_reason` as stored in `delivered_events`.
    static func json(_ reason: DeadLetterReason) -> String {
        String(decoding: (try? JSONEncoder().encode(reason)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func deadLetterReason(_ text: String?) throws(StateError) -> DeadLetterReason? {
        guard let text else { return nil }
        do {
            return try JSONDecoder().decode(DeadLetterReason.self, from: Data(text.utf8))
        } catch {
            throw StateError(.query, "column `dead_letter_reason` does not hold a dead-letter reason")
        }
    }

    /// A column holding a JSON document the connector wrote.
    static func jsonColumn(_ text: String, column: String) throws(StateError) -> JSONValue {
        do { return try JSONValue(parsing: text) } catch { throw StateError(.query, "column `\(column)` does not hold JSON") }
    }

    /// A value the connector stores as JSON (drift counters and baselines).
    static func encoded(_ value: some Encodable) -> String {
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func decoded<Value: Decodable>(_ text: String, column: String, as type: Value.Type) throws(StateError) -> Value {
        do { return try JSONDecoder().decode(type, from: Data(text.utf8)) } catch {
            throw StateError(.query, "column `\(column)` does not hold what this build wrote there")
        }
    }

    static func value<Value: RawRepresentable<String>>(_ raw: String, column: String, as type: Value.Type) throws(StateError) -> Value {
        guard let value = Value(rawValue: raw) else { throw StateError(.query, "column `\(column)` holds an unknown value") }
        return value
    }
}
