import CAPICore
import Foundation

/// JSON as commands print it: sorted keys, unescaped slashes.
enum JSONOutput {
    static func pretty(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func line(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// Times as operators type and read them.
enum Timestamps {
    static func iso(seconds: Int64) -> String { UTCTimestamp.iso8601(seconds: seconds) }

    static func iso(milliseconds: Int64) -> String { UTCTimestamp.iso8601(seconds: milliseconds / 1000) }

    /// Unix seconds from an ISO 8601 time, a date, or digits; strict (no `T25:00`, no 30 February)
    /// and within years 1–9999, so callers may multiply by 1000 safely.
    static func parse(_ text: String) -> Int64? { UTCTimestamp.parse(text) }
}
