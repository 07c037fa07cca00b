import Foundation
import Testing

@testable import CAPICore

@Suite("normalize lines: the byte fast path and the general parser agree")
struct NormalizationLineTests {
    let normalizer = Normalizer(today: CalendarDate(year: 2026, month: 11, day: 20))

    /// The general path's answer for `line`, written the same way.
    func general(_ line: String, country: String? = nil) -> String {
        var output: [UInt8] = []
        let answer = Array(line.utf8).withUnsafeBytes { NormalizationLine.parseAndEvaluate($0, normalizer: normalizer, defaultCountry: country) }
        NormalizationLine.write(answer, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    @Test(
        "plain lines are scanned off the bytes and answer exactly what the parser-based path answers",
        arguments: [
            #"{"field":"em","value":" Jane.Doe@Example.COM "}"#, #"{"field": "ph", "value": "+1 (650) 555-0001"}"#,
            #"{"value":"0612345678","field":"ph","country":"fr"}"#, #"{"field":"fn","value":"Zoë"}"#, #"{"field":"ct","value":"São Paulo"}"#,
            #"{"field":"db","value":"1990-02-31"}"#, #"{"field":"zp","value":"SW1A 1AA","country":"gb"}"#,
            #"{"field":"external_id","value":"U-1"}"#, #"{"field":"client_user_agent","value":"Mozilla/5.0"}"#,
            #"{"field":"nope","value":"x"}"#, #"{"field":"jane@example.com","value":"x"}"#, #"{"field":"ph","value":"1","country":"zz"}"#,
            #"{"field":"em","value":""}"#, #" { "field" : "em" , "value" : "a@b.co" } "#, #"{"field":"email","value":"a@b.co"}"#,
        ]
    )
    func scannedEqualsParsed(line: String) throws {
        let scanned = Array(line.utf8).withUnsafeBytes { RequestScanner.scan($0) }
        #expect(scanned != nil, "the plain shape is scanned")
        #expect(NormalizationLine.respond(to: line, normalizer: normalizer) == general(line))
        #expect(NormalizationLine.respond(to: line, normalizer: normalizer, defaultCountry: "fr") == general(line, country: "fr"))
        // And the answer is what JSONValue would serialize.
        let parsed = try JSONValue(parsing: Array(NormalizationLine.respond(to: line, normalizer: normalizer).utf8))
        #expect(parsed.serialized == NormalizationLine.respond(to: line, normalizer: normalizer))
    }

    @Test(
        "escapes, non-strings, repeated or unknown keys, broken JSON and invalid UTF-8 are left to the parser",
        arguments: [
            #"{"field":"em","value":"a\"b@x.com"}"#, #"{"field":"em","value":"J\u00f6rg@x.com"}"#, #"{"field":"ph","value":6505550001}"#,
            #"{"field":"ph","value":null}"#, #"{"field":"em","value":"a@b.co","field":"ph"}"#, #"{"field":"em","value":"a@b.co","x":"y"}"#,
            #"{"field":"em","value":"a@b.co",}"#, #"{"field":"em","value":"a@b.co"} x"#, #"{"value":"a@b.co"}"#, "{}", "[]", "nonsense",
            "{\"field\":\"em\",\"value\":\"tab\there\"}",
        ]
    )
    func declined(line: String) {
        #expect(Array(line.utf8).withUnsafeBytes { RequestScanner.scan($0) } == nil)
        #expect(NormalizationLine.respond(to: line, normalizer: normalizer) == general(line))
    }

    @Test(
        "a member of the wrong type is named with the type found",
        arguments: [
            (#"{"field":"em","value":["a@b.co"]}"#, "`value` must be a string (or a whole number), found an array"),
            (#"{"field":"em","value":true}"#, "`value` must be a string (or a whole number), found a boolean"),
            (
                #"{"field":"ph","value":16505551212.0}"#,
                "`value` must be a string (or a whole number), found a number with a fraction or an exponent (send the value as a string)"
            ),
            (
                #"{"field":"zp","value":9.4025e4}"#,
                "`value` must be a string (or a whole number), found a number with a fraction or an exponent (send the value as a string)"
            ),
            (#"{"field":"ph","value":"650 555 0001","country":1}"#, "`country` must be a string, found a number"),
            (#"{"field":7,"value":"x"}"#, "`field` must be a string, found a number"),
            (#"["em","a@b.co"]"#, "not a JSON object with string fields `field`, `value` and optional `country`, found an array"),
        ]
    )
    func wrongTypes(line: String, message: String) throws {
        let answer = try JSONValue(parsing: NormalizationLine.respond(to: line, normalizer: normalizer))
        #expect(answer["error"] == .string(message), "\(answer)")
    }

    @Test("invalid UTF-8 in a plain-looking line is declined and answered as such")
    func invalidUTF8() {
        let bytes: [UInt8] = Array(#"{"field":"em","value":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
        #expect(bytes.withUnsafeBytes { RequestScanner.scan($0) } == nil)
        #expect(NormalizationLine.respond(to: bytes, normalizer: normalizer) == #"{"error":"the line is not valid UTF-8"}"#)
    }

    /// Lines to be hashed wait for a partner and are hashed two at a time; every answer must still
    /// be its own line's, in its line's place, whatever lies between two such lines.
    @Test("runs of lines answer each line as it answers alone, in order, with hashed lines paired among the others")
    func pairedLines() {
        let pool = [
            #"{"field":"em","value":" Jane.Doe@Example.COM "}"#, #"{"field":"fn","value":"Zoë"}"#,
            #"{"field":"ph","value":"090-1234-5678","country":"jp"}"#,
            #"{"field":"em","value":"a.very.long.local.part.that.takes.two.blocks.of.sha256@example.com"}"#,
            #"{"field":"client_user_agent","value":"Mozilla/5.0"}"#, "{\"field\":\"em\",\"value\":\"\(SHA256Hex.digest("x@y.co"))\"}",
            #"{"field":"nope","value":"x"}"#, #"{"field":"em","value":""}"#, "not json", "   ",
        ]
        var random = SeededGenerator(seed: 46)
        for _ in 0..<300 {
            let lines = (0..<Int.random(in: 1...12, using: &random)).map { _ in pool.randomElement(using: &random)! }
            var output: [UInt8] = []
            Array(lines.joined(separator: "\n").utf8).withUnsafeBytes {
                NormalizationLine.respond(toLines: $0, normalizer: normalizer, defaultCountry: "us", into: &output)
            }
            let alone = lines.filter { !$0.allSatisfy(\.isWhitespace) }.map {
                NormalizationLine.respond(to: $0, normalizer: normalizer, defaultCountry: "us") + "\n"
            }
            #expect(String(decoding: output, as: UTF8.self) == alone.joined(), "\(lines)")
        }
    }

    @Test("lines: CRLF and blank lines, a line over 1 MiB answered as such, the last line without a newline")
    func lines() {
        let long = #"{"field":"em","value":""# + String(repeating: "z", count: 1 << 20) + #""}"#
        let text = "{\"field\":\"em\",\"value\":\"a@b.co\"}\r\n\n   \n\(long)\n{\"field\":\"ph\",\"value\":\"+16505550001\"}"
        var output: [UInt8] = []
        Array(text.utf8).withUnsafeBytes { NormalizationLine.respond(toLines: $0, normalizer: normalizer, defaultCountry: nil, into: &output) }
        let answers = String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(answers.count == 3)
        #expect(answers[0] == NormalizationLine.respond(to: #"{"field":"em","value":"a@b.co"}"#, normalizer: normalizer))
        #expect(answers[1] == NormalizationLine.overlongLine)
        #expect(answers[2].contains(#""normalized":"16505550001""#))
    }
}

extension RequestScanner.Request: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.field == rhs.field && lhs.value == rhs.value && lhs.country == rhs.country }
}
