import Testing

@testable import CAPICore

/// The byte-level path for ASCII values must answer exactly as the general, scalar-level rules:
/// the same canonical text, digest, dropped values and reasons. Inputs are the shared vectors, the
/// edge cases each rule turns on, and seeded random text from each rule's alphabet.
@Suite("Normalizer: the ASCII byte path answers as the general rules")
struct NormalizerASCIIPathTests {
    static let normalizer = Normalizer(today: vectorToday)
    static let countries: [String?] = [nil, "us", "gb", "de", "it", "jp", "fr"]
    static let keys = UserDataKey.all.filter { $0.isHashed && $0 != .externalID }

    static let edgeCases: [String] = [
        "", " ", "\t\n", "a", "A", "a@b.c", "@a.b", "a@.b", "a@b.", "a@bc", "ab@c.d", "a@@b.c", "a b@c.d", " John.Doe@Example.COM ",
        "x@y.z.", "x@.yz", "x@y..z", "Mary-Ann", "O'Brien", "  J. R. R.  ", "-", "...", "Jo{}hn", "Jo$hn", "Jo+hn", "Jo<>hn", "a_b",
        "New York", "St. Louis", "N.Y.", "ny", "California", "cali fornia", "Texas", "D.C.", "Ontario", "",
        "94025", "94025-1234", "94025 1234", "9402", "940251234", "sw1a 1aa", "SW1A-1AA", "10115", "a1b2c3", "1-2-3-4-5", "12345-678a",
        "US", "us", "U.S.A.", "usa", "United States", "uk", "UK", "gb", "zz", "Deutschland", "germany", "x",
        "m", "M", "male", "Man", "f", "female", "WOMAN", "other", "", "01/15/1990", "1990-01-15", "15.01.1990", "19900115",
        "January 15, 1990", "15 Jan 1990", "2/30/1990", "1899-12-31", "+1 (650) 555-1212", "(650) 555-1212", "0044 (0) 20 7946 0958",
        "tel:+16505551212", "650.555.1212", "555-1212", "+44 020 7946 0958", "06505551212", "abc", "12a34567", "+1+650",
        "1990-01-15t10:00:00z", "1990-01-15 10:00", "1990-01-15T10", "19900115t", "01.15.1990", "1.2.1990", "13/01/1990", "1990/1/2",
        "1990.01.15", "123456789", "1 2 3 4", ",1990,01,15", "01-15-1990", "15-01-1990", "12.01.1990", "12/01-1990", "1990-13-01",
        "01 15 1990", "1 2 1990", "01, 15, 1990", "13 01 1990", "02/29/2000", "02/29/1900", "1/2/3", "10/10/10", "1990\r\n0115", "1990-01-15\r",
        "00:0)", "+(0)44 20", "00 (0) 44 20 7946 0958", "+0044 20 7946 0958", "+000 44 20", "+0 (0)44", "+00(0)",
        "+", "++1", "1+1", "callto:6505551212", "t:1", ":1234567", "tel 6505551212", "650_555_1212", "650\t555\t1212",
        String(repeating: "a", count: 64), String(repeating: "F", count: 64), String(repeating: "0", count: 63) + "g",
        "  " + String(repeating: "b", count: 64) + "\t", "15", "1", "00", "32", "12", "13", "1990", "2099", "0990",
    ]

    /// Characters each rule reacts to, plus white space and the ASCII control range.
    static let alphabet: [UInt8] =
        Array("aAbBcCmMfFtTzZ0123456789 \t\r\n\u{0B}\u{0C}\u{1C}\u{1F}@.-+()/:,'_{}$<>=^`~!#%&*;?[]\\|\"".utf8) + [0x01, 0x7F]

    static func randomValues(count: Int, seed: UInt64) -> [String] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let length = Int.random(in: 0...24, using: &generator)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Digit groups and the separators dates and phone numbers are written with.
    static func shapedValues(count: Int, seed: UInt64) -> [String] {
        var generator = SeededGenerator(seed: seed)
        let separators = [".", ".", "/", "-", " ", " ", ", ", "t", "(", ")", "(0)", "+", "00", ":", "tel:", "\t", ""]
        return (0..<count).map { _ in
            var text = Bool.random(using: &generator) ? "" : separators.randomElement(using: &generator)!
            for _ in 0..<[1, 2, 3, 3, 3, 4].randomElement(using: &generator)! {
                let width = [1, 2, 2, 2, 4, 4, 8, 3, 10].randomElement(using: &generator)!
                text += String((0..<width).map { _ in "0123456789".randomElement(using: &generator)! })
                text += separators.randomElement(using: &generator)!
            }
            return text
        }
    }

    func expectSameAnswer(_ key: UserDataKey, _ value: String, country: String?) {
        let normalizer = Self.normalizer
        guard let fast = normalizer.normalizeASCII(key, value, country: country) else {
            Issue.record("the ASCII path declined an ASCII value for \(key.rawValue)")
            return
        }
        let general = normalizer.normalizeScalars(key, value, country: country)
        #expect(fast == general, "\(key.rawValue) \(String(reflecting: value)) country \(country ?? "nil")")
    }

    @Test("edge cases of every rule, with and without a country", arguments: keys)
    func edgeCases(_ key: UserDataKey) {
        for value in Self.edgeCases {
            for country in Self.countries { expectSameAnswer(key, value, country: country) }
        }
    }

    @Test("the ASCII rows of the shared vectors", arguments: keys)
    func vectors(_ key: UserDataKey) {
        let rows = NormalizationVector.all.filter { $0.field == key.rawValue && $0.value.utf8.allSatisfy { $0 < 0x80 } }
        for row in rows {
            let country = row.country.flatMap(CountryCodes.alpha2(for:))
            expectSameAnswer(key, row.value, country: country)
        }
    }

    @Test("seeded random text from each rule's alphabet", arguments: keys)
    func random(_ key: UserDataKey) async {
        for (index, value) in Self.randomValues(count: 3_000, seed: UInt64(key.ordinal) + 1).enumerated() {
            if index % 200 == 0 { await Task.yield() }
            expectSameAnswer(key, value, country: Self.countries[index % Self.countries.count])
        }
    }

    @Test("seeded digit groups and separators, as dates and phone numbers are written", arguments: keys)
    func shaped(_ key: UserDataKey) async {
        for (index, value) in Self.shapedValues(count: 3_000, seed: UInt64(key.ordinal) + 101).enumerated() {
            if index % 200 == 0 { await Task.yield() }
            expectSameAnswer(key, value, country: Self.countries[index % Self.countries.count])
        }
    }

    @Test("text with a byte outside ASCII is left to the general rules")
    func nonASCIIDeclined() {
        for value in ["José", "Zürich", "São Paulo", "e\u{301}", "\u{A0}jane@example.com", "Ólafur"] {
            #expect(Self.normalizer.normalizeASCII(.firstName, value, country: nil) == nil)
        }
    }
}
