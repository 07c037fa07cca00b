import CAPICore
import Testing

@testable import ConnectorRuntime

/// The rows the PostgreSQL intake statement inserts: what `DISTINCT ON` and its sort chose in SQL
/// before, chosen in Swift so that the statement can stream its arrays.
@Suite("intake rows")
struct IntakeRowsTests {
    @Test("the first item of each key, keys compared and ordered by their bytes")
    func firstOfEachKeyInByteOrder() {
        let composed = "caf\u{E9}"  // é as one scalar: C3 A9
        let decomposed = "cafe\u{301}"  // e and a combining accent: 65 CC 81
        let items = [
            intake("b", pixel: "2"),
            intake("a", pixel: "2"),
            intake("b", pixel: "2", content: "B"),
            intake(composed, pixel: "2"),
            intake(decomposed, pixel: "2"),
            intake("a", pixel: "2", time: UnixSeconds(1_794_999_999)),
            intake("z", pixel: "10"),
        ]
        let rows = IntakeStatement(items: items).items
        #expect(
            rows.map(\.key) == [
                // "10" before "2": bytes, not numbers.
                EventKey(pixelID: "10", eventID: "z", eventTime: UnixSeconds(1_795_000_000)),
                EventKey(pixelID: "2", eventID: "a", eventTime: UnixSeconds(1_794_999_999)),
                EventKey(pixelID: "2", eventID: "a", eventTime: UnixSeconds(1_795_000_000)),
                EventKey(pixelID: "2", eventID: "b", eventTime: UnixSeconds(1_795_000_000)),
                // Canonically equivalent, but two events: 65 sorts before C3.
                EventKey(pixelID: "2", eventID: decomposed, eventTime: UnixSeconds(1_795_000_000)),
                EventKey(pixelID: "2", eventID: composed, eventTime: UnixSeconds(1_795_000_000)),
            ]
        )
        // The repeat of "b" with other content is not a row: the first occurrence is.
        #expect(rows.first { $0.key.eventID == "b" }?.contentHash == items[0].contentHash)
    }

    @Test("the keys and their order do not depend on the order given")
    func sameOrderForAnyInput() {
        var generator = SeededGenerator(seed: 22)
        // 200 items over 30 keys.
        let items = (0..<200).map { intake("e\($0 % 30)", pixel: "\($0 % 2)", time: UnixSeconds(1_795_000_000 + Int64($0 % 3))) }
        let expected = IntakeStatement(items: items).items.map(\.key)
        #expect(expected.count == 30)
        for _ in 0..<5 {
            let shuffled = items.shuffled(using: &generator)
            #expect(IntakeStatement(items: shuffled).items.map(\.key) == expected)
        }
    }

    @Test("keys compare as their UTF-8 bytes do, prefixes first")
    func byteComparison() {
        let texts = ["", "a", "ab", "abc", "b", "B", "10", "2", "caf\u{E9}", "cafe\u{301}", "\u{1F600}", "z\u{0}", "z"]
        for a in texts {
            for b in texts {
                let expected =
                    Array(a.utf8) == Array(b.utf8) ? 0 : (Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) ? -1 : 1)
                #expect(IntakeStatement.compareBytes(a, b).signum() == expected, "\(Array(a.utf8)) against \(Array(b.utf8))")
            }
        }
    }
}
