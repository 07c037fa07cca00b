import Testing

@testable import CAPICore

/// The shape checks that keep emails and phone numbers out of what is stored, sent and logged.
@Suite("PersonalData shapes")
struct PersonalDataTests {
    @Test(
        "emails: x@y.z and x@y. count, anywhere in the text; an @ without a dot after it does not",
        arguments: [
            ("jane.doe@example.com", true),
            ("/u/jane@x.com/orders", true),
            ("?email=jane%2Bx@gmail.com&a=1", true),
            ("jane.doe@gmail.", true),
            ("mailto:jane@example.org", true),
            ("Zoë@exämple.de", true),
            ("order@2026", false),
            ("@example.com", false),
            ("jane@.com", false),
            (" @example.com", false),
            ("jane@", false),
            ("a@b", false),
            ("", false),
            ("no at sign. at all.", false),
            ("x@y@z.com", true),
        ]
    )
    func emails(text: String, expected: Bool) {
        #expect(PersonalData.containsEmail(text) == expected)
        #expect(PersonalData.looksPersonal(text) == expected || PersonalData.looksLikePhone(text))
    }

    @Test(
        "phones: 7 to 15 digits in groups as people write them; bare runs, dates and words do not count",
        arguments: [
            ("+1 650 555 1212", true),
            ("(650) 555-1212", true),
            ("650-555-1212", true),
            ("650.555.1212", true),
            ("650\u{A0}555\u{A0}1212", true),
            ("+44 20 7946 0958", true),
            ("650-555-1212 ", true),
            (" 650 555 1212", true),
            ("555-1212", false),
            ("6505551212", false),
            ("2026-11-20", false),
            ("1 2 3 4 5 6 7", false),
            ("+1 650 555 1212 ext", false),
            ("1+650 555 1212", false),
            ("650 555 1212 1234 5678", false),
            ("(0) 12", false),
            ("650–555–1212", false),
            ("", false),
        ]
    )
    func phones(text: String, expected: Bool) {
        #expect(PersonalData.looksLikePhone(text) == expected)
    }

    @Test("names may be shown unless they hold an @, a control character, or look personal")
    func showable() {
        #expect(PersonalData.isShowable(name: "coupon_code"))
        #expect(!PersonalData.isShowable(name: "@example.com"))
        #expect(!PersonalData.isShowable(name: "jane@example.com"))
        #expect(!PersonalData.isShowable(name: "(650) 555-1212"))
        #expect(PersonalData.isShowable(name: "2026-11-20"))
        for control in ["Pur\u{0}chase", "line\nbreak", "tab\tbed", "del\u{7F}"] {
            #expect(!PersonalData.isShowable(name: control), "\(control.debugDescription)")
            #expect(PersonalData.shown(name: control) == "<redacted>")
        }
    }

    /// The checks read the bytes in place; these are the earlier checks, which walked the text
    /// through its generic views, kept as the reference the byte loops must agree with. The
    /// delimiters are shared: the change did not touch them.
    enum Reference {
        static func containsEmail(_ text: some StringProtocol) -> Bool {
            guard text.utf8.contains(UInt8(ascii: "@")) else { return false }
            let bytes = Array(text.utf8)
            var index = 0
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "@"), index > 0, !PersonalData.isDelimiter(bytes[index - 1]) {
                    var cursor = index + 1
                    while cursor < bytes.count, !PersonalData.isDelimiter(bytes[cursor]), bytes[cursor] != UInt8(ascii: "@") {
                        if bytes[cursor] == UInt8(ascii: "."), cursor > index + 1 { return true }
                        cursor += 1
                    }
                }
                index += 1
            }
            return false
        }

        static func looksLikePhone(_ text: some StringProtocol) -> Bool {
            guard text.utf8.lazy.filter({ $0 >= 0x30 && $0 <= 0x39 }).count >= 7 else { return false }
            var digits = 0
            var groups: [Int] = []
            var current = 0
            var plus = false
            var parenthesis = false
            var first = true
            for scalar in text.unicodeScalars {
                switch scalar {
                case "0"..."9":
                    digits += 1
                    current += 1
                case "+" where first:
                    plus = true
                case "(", ")", " ", "-", ".", "\u{A0}":
                    if scalar == "(" { parenthesis = true }
                    if current > 0 { groups.append(current) }
                    current = 0
                default:
                    return false
                }
                first = false
            }
            if current > 0 { groups.append(current) }
            guard (7...15).contains(digits), groups.count >= 2 else { return false }
            if plus || parenthesis { return true }
            return groups.count >= 3 && groups[0] <= 4 && groups[groups.count - 1] >= 4 && digits >= 10
        }
    }

    @Test("the byte loops answer as the reference on 200,000 seeded texts, as strings and as substrings")
    func agreesWithReference() async {
        // Characters the checks care about, their neighbours, and multi-byte text (a no-break
        // space, `©` which shares its lead byte, an emoji); one alphabet mostly of what phone
        // numbers are written with and one of what addresses are, so both shapes are common.
        let alphabets: [[String]] = [
            [
                "0", "1", "5", "9", "+", "(", ")", " ", "-", ".", "\u{A0}", "@", "a", "Z", "/", "?", "&", "=", ":", "\"", "[",
                "é", "Â", "©", "\u{2013}", "😀", "\t", "_",
            ],
            ["0", "1", "2", "5", "7", "9", "3", "4", "+", "(", ")", " ", "-", ".", "\u{A0}", "©", "x"],
            ["a", "b", "j", ".", "@", "/", " ", "é", "=", "-", "1"],
        ]
        var generator = SeededGenerator(seed: 14)
        var disagreements: [String] = []
        for round in 0..<200_000 {
            if round % 2_000 == 0 { await Task.yield() }
            let alphabet = alphabets[round % alphabets.count]
            let length = Int.random(in: 0...18, using: &generator)
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! }.joined())
            let cut = text.dropFirst(length > 2 ? 1 : 0)
            for sample in [Substring(text), cut] {
                if PersonalData.containsEmail(sample) != Reference.containsEmail(sample)
                    || PersonalData.looksLikePhone(sample) != Reference.looksLikePhone(sample)
                    || PersonalData.looksPersonal(sample) != (Reference.containsEmail(sample) || Reference.looksLikePhone(sample))
                    || PersonalData.isShowable(name: sample)
                        != (!sample.utf8.contains(UInt8(ascii: "@")) && !sample.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
                            && !Reference.containsEmail(sample) && !Reference.looksLikePhone(sample))
                {
                    disagreements.append(String(sample).debugDescription)
                }
            }
            if PersonalData.looksLikePhone(text) != Reference.looksLikePhone(text)
                || PersonalData.containsEmail(text) != Reference.containsEmail(text)
            {
                disagreements.append(text.debugDescription)
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(20))")
    }
}
