import Foundation
import Testing

@testable import CAPICore

@Suite("JSON parsing and serialization")
struct JSONValueTests {
    @Test("values parse with integers kept apart from other numbers")
    func parses() throws {
        let value = try JSONValue(parsing: #" {"a": [1, -2, 3.5, 1e3, true, false, null], "b": "x\"y\\z\/\n\u00e9\ud83d\ude00", "c": {}} "#)
        #expect(value["a"] == .array([.integer(1), .integer(-2), .number(3.5), .number(1000), .bool(true), .bool(false), .null]))
        #expect(value["b"] == .string("x\"y\\z/\né😀"))
        #expect(value["c"] == .object([:]))
    }

    @Test("what Foundation's decoder reads, this parser reads the same")
    func agreesWithFoundation() throws {
        let documents = [
            #"{"event_name":"Purchase","event_time":1795000000,"user_data":{"em":["abc"],"fn":"Zoë"},"custom_data":{"value":129.5,"contents":[{"id":"a","quantity":2}]}}"#,
            #"[0, -0.5, 12345678901234, "tab\there", {"nested": [[[]]]}]"#,
        ]
        for document in documents {
            #expect(try JSONValue(parsing: document) == JSONDecoder().decode(JSONValue.self, from: Data(document.utf8)))
        }
    }

    @Test(
        "malformed documents are refused",
        arguments: [
            "", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "tru", "\"\\x\"", "\"\\ud83d\"", "\"a\u{01}b\"", "{\"a\" 1}", "[1] 2", "NaN", "{'a':1}",
        ]
    )
    func refuses(text: String) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: text) }
    }

    @Test("serialization sorts keys and round-trips")
    func serializes() throws {
        let value: JSONValue = .object(["b": .array([.integer(1), .number(2.5), .null]), "a": .string("q\"u\n/é"), "c": .bool(true)])
        #expect(value.serialized == #"{"a":"q\"u\n/é","b":[1,2.5,null],"c":true}"#)
        #expect(try JSONValue(parsing: value.serialized) == value)
    }

    @Test("very deep nesting is refused rather than overflowing the stack")
    func depth() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: deep) }
    }
}

@Suite("UTC timestamps")
struct UTCTimestampTests {
    @Test("arithmetic formatting agrees with Foundation", arguments: [Int64(0), 951_782_400_123, 1_795_463_794_999, 4_102_444_799_000, -1000])
    func agrees(milliseconds: Int64) {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        #expect(UTCTimestamp.iso8601(milliseconds: milliseconds) == formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000)))
    }
}
