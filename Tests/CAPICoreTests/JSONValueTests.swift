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

    @Test(
        "strings must be valid UTF-8, with and without escapes",
        arguments: [
            [0x22, 0xC3, 0x28, 0x22], [0x22, 0x61, 0xFF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0x5C, 0x6E, 0xC3, 0x22],
            [0x7B, 0x22, 0xE2, 0x82, 0x22, 0x3A, 0x31, 0x7D],
        ] as [[UInt8]]
    )
    func refusesInvalidUTF8(bytes: [UInt8]) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: bytes) }
    }

    @Test("ASCII and multi-byte strings read back as sent, escaped or not")
    func readsStrings() throws {
        for text in ["plain ascii", "", "Zürich", "日本語", "emoji 😀 mixed"] {
            #expect(try JSONValue(parsing: Array("\"\(text)\"".utf8)) == .string(text))
            #expect(try JSONValue(parsing: Array("\"\(text)\\n\"".utf8)) == .string(text + "\n"))
        }
    }

    @Test("an object written key by key is the text its JSONValue serializes to")
    func objectText() throws {
        var writer = JSONObjectText()
        writer.add("a", string: "q\"u\n/é\u{01}")
        writer.add("b", stringOrNull: nil)
        writer.add("c", stringOrNull: "x")
        writer.add("d", integer: -42)
        writer.add("e", strings: ["one", "tw\"o", ""])
        writer.add("f") { nested in
            nested.add("x", value: .number(2.5))
            nested.add("y", strings: [])
        }
        writer.add("g") { _ in }
        writer.add("h", value: .object(["z": .integer(1), "k": .array([.null, .bool(false)])]))
        writer.addWritten("i") { $0.append(contentsOf: #"["o\"ne"]"#.utf8) }
        let expected: JSONValue = .object([
            "a": .string("q\"u\n/é\u{01}"), "b": .null, "c": .string("x"), "d": .integer(-42),
            "e": .array([.string("one"), .string("tw\"o"), .string("")]),
            "f": .object(["x": .number(2.5), "y": .array([])]), "g": .object([:]),
            "h": .object(["z": .integer(1), "k": .array([.null, .bool(false)])]), "i": .array([.string("o\"ne")]),
        ])
        let text = writer.finish()
        #expect(text == expected.serialized)
        #expect(try JSONValue(parsing: text) == expected)
        #expect(JSONObjectText().finish() == "{}")
    }

    /// Stored content hashes depend on the key order: every member once, in `String`'s order,
    /// whatever the order given, also with a member added as text.
    @Test("objects of 0 to 40 members in any order are written with their keys sorted")
    func keyOrder() throws {
        var generator = SeededGenerator(seed: 47)
        let alphabet = ["a", "b", "é", "_", "A", "0", "\u{1F600}"]
        for round in 0..<400 {
            var keys = Set<String>()
            let count = round % 41
            while keys.count < count {
                keys.insert((0..<Int.random(in: 0...4, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined())
            }
            let given = keys.shuffled(using: &generator)
            var object = JSONObject()
            for (index, key) in given.enumerated() { object[key] = .integer(Int64(index)) }
            let written = try #require(JSONValue(parsing: JSONValue.object(object).serialized).objectValue)
            #expect(written.keys == keys.sorted(), "round \(round)")
            #expect(written.members.allSatisfy { object[$0.key] == $0.value }, "round \(round)")
            let extra = alphabet.randomElement(using: &generator)! + "x"
            let withExtra = try #require(JSONValue(parsing: JSONValue.serializedObject(object, adding: extra, text: Array("null".utf8))).objectValue)
            #expect(withExtra.keys == Set(keys).union([extra]).sorted(), "round \(round)")
        }
    }

    @Test(
        "an object with one member already written as text serializes as the whole object would",
        arguments: ["", "a", "b", "bb", "c", "user_data", "é", "{"]
    )
    func objectWithTextMember(key: String) throws {
        let member: JSONValue = .object(["em": .array([.string("x\"y")]), "ct": .string("z")])
        let fields: JSONObject = ["b": .integer(1), "bc": .null, "a": .string("q"), "user_data": .string("raw, replaced")]
        var whole = fields
        whole[key] = member
        #expect(JSONValue.serializedObject(fields, adding: key, text: Array(member.serialized.utf8)) == JSONValue.object(whole).serialized)
        #expect(JSONValue.serializedObject([:], adding: key, text: Array("[]".utf8)) == JSONValue.object([key: .array([])]).serialized)
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

@Suite("JSON string escaping")
struct JSONEscapingTests {
    /// Every byte that must be escaped, and neighbours that must not, at every position of short
    /// strings.
    @Test("every string is written so that it reads back as itself")
    func escapesAtEveryPosition() throws {
        let probes: [String] = ["\u{0}", "\u{1F}", "\n", "\"", "\\", " ", "!", "#", "[", "]", "\u{7F}", "é", "😀", "\u{20}\u{21}"]
        for length in 0...24 {
            for position in 0...length {
                for probe in probes {
                    var text = String(repeating: "a", count: length)
                    text.insert(contentsOf: probe, at: text.index(text.startIndex, offsetBy: position))
                    var output: [UInt8] = []
                    JSONValue.writeString(text, into: &output)
                    #expect(try JSONValue(parsing: output) == .string(text))
                    let escaped = output.dropFirst().dropLast()
                    #expect(!escaped.contains { $0 < 0x20 }, "a raw control byte in \(output)")
                }
            }
        }
    }

    @Test("JSON in UTF-16 or UTF-32 is named by its width and byte order, with or without a byte order mark; UTF-8 JSON never is")
    func wideEncodings() {
        let ascii = Array(#"{"a":1}"#.utf8)
        let utf16LE = ascii.flatMap { [$0, 0] as [UInt8] }
        let utf16BE = ascii.flatMap { [0, $0] as [UInt8] }
        let utf32LE = ascii.flatMap { [$0, 0, 0, 0] as [UInt8] }
        let utf32BE = ascii.flatMap { [0, 0, 0, $0] as [UInt8] }
        let cases: [([UInt8], String?)] = [
            ([0xFF, 0xFE] + utf16LE, "UTF-16LE"), (utf16LE, "UTF-16LE"), ([0xFE, 0xFF] + utf16BE, "UTF-16BE"), (utf16BE, "UTF-16BE"),
            ([0xFF, 0xFE, 0, 0] + utf32LE, "UTF-32LE"), (utf32LE, "UTF-32LE"), ([0, 0, 0xFE, 0xFF] + utf32BE, "UTF-32BE"), (utf32BE, "UTF-32BE"),
            (ascii, nil), ([0xEF, 0xBB, 0xBF] + ascii, nil), (Array(" [1]".utf8), nil), ([], nil), ([0x7B], nil),
        ]
        for (bytes, expected) in cases {
            #expect(JSONValue.wideEncoding(startingWith: bytes) == expected, "\(bytes.prefix(4))")
            if let expected {
                #expect(
                    throws: JSONValue.ParseError(
                        offset: 0,
                        reason: "the document is \(expected), and JSON sent between systems must be UTF-8 (RFC 8259)"
                    )
                ) {
                    try JSONValue(parsing: bytes)
                }
            }
        }
    }
}
