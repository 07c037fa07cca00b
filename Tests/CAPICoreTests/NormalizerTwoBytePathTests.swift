import Testing

@testable import CAPICore

/// The byte path for names and cities in one- and two-byte UTF-8 must answer exactly as the general
/// rules, and must take the values it is there for: a path that declined everything would keep every
/// answer right and save nothing.
@Suite("Normalizer: the two-byte path answers as the general rules")
struct NormalizerTwoBytePathTests {
    static let normalizer = Normalizer(today: vectorToday)
    static let keys: [UserDataKey] = [.firstName, .lastName, .firstNameFirst5, .lastNameFirst5, .firstInitial, .city]
    /// Every scalar the path reads from its table.
    static let twoByteScalars = (0x80..<UInt32(0x800)).map { Unicode.Scalar($0)! }

    /// What the table must decline: capital sigma, and scalars whose lowercase is not one scalar
    /// below U+0800. Derived from the scalar properties directly, not from the table.
    static func mustDecline(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value == 0x03A3 { return true }
        guard scalar.properties.changesWhenLowercased else { return false }
        let lower = Array(scalar.properties.lowercaseMapping.unicodeScalars)
        return lower.count != 1 || lower[0].value >= 0x800
    }

    /// The two-byte path's answer, which must exist, equal to the general rules'.
    func expectSameAnswer(_ key: UserDataKey, _ value: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let fast = Self.normalizer.normalizeTwoByte(key, value) else {
            Issue.record("the two-byte path declined \(String(reflecting: value)) for \(key.rawValue)", sourceLocation: sourceLocation)
            return
        }
        let general = Self.normalizer.normalizeScalars(key, value, country: nil)
        #expect(fast == general, "\(key.rawValue) \(String(reflecting: value))", sourceLocation: sourceLocation)
    }

    @Test("every scalar from U+0080 to U+07FF, alone and among letters, spaces and punctuation", arguments: keys)
    func everyScalar(_ key: UserDataKey) async {
        var declined = 0
        for (index, scalar) in Self.twoByteScalars.enumerated() {
            if index % 64 == 0 { await Task.yield() }
            let character = String(Character(scalar))
            let values = [
                character, "A\(character)b", " \(character)\u{A0}", "\(character)\(character)\(character)\(character)\(character)\(character)x",
                "-\(character).", "O'\(character)", "\u{85}Zo\(character)\t", "\(character)Ä",
            ]
            if Self.mustDecline(scalar) {
                declined += 1
                #expect(Self.normalizer.normalizeTwoByte(key, "A\(character)b") == nil, "U+\(String(scalar.value, radix: 16, uppercase: true))")
                continue
            }
            for value in values { expectSameAnswer(key, value) }
        }
        // Capital sigma and the few scalars whose lowercase is two scalars or a three-byte one.
        #expect(declined > 0 && declined < 20, "declined \(declined) of \(Self.twoByteScalars.count)")
    }

    @Test("the table's entries are the general rules' own answers for each scalar")
    func tableEntries() {
        for value in 0..<UInt32(0x800) {
            let scalar = Unicode.Scalar(value)!
            let entry = TwoByteScalars.table[Int(value)]
            #expect((entry & TwoByteScalars.space != 0) == TextFolding.isSpace(scalar))
            #expect((entry & TwoByteScalars.punctuation != 0) == TextFolding.isPunctuation(scalar))
            #expect((entry & TwoByteScalars.letterOrMark != 0) == TextFolding.isLetterOrMark(scalar))
            guard value >= 0x80 else { continue }
            #expect((entry & TwoByteScalars.declines != 0) == Self.mustDecline(scalar))
            if entry & TwoByteScalars.declines == 0 {
                let lower = TextFolding.lowercased(Substring(String(Character(scalar))))
                #expect(lower.unicodeScalars.map(\.value) == [UInt32(entry & TwoByteScalars.lowercaseMask)])
            }
        }
    }

    /// Letters of several scripts, marks, the two-byte spaces (U+0085, U+00A0) and punctuation
    /// (U+00A1, U+00AB, U+00B7, U+037E, U+0589, U+05BE, U+060C), with ASCII letters, digits,
    /// white space and punctuation.
    static let alphabet: [String] =
        ["a", "Z", "k", "0", "7", " ", " ", "\t", "\n", "\u{1C}", ".", "-", "'", "_", "$", "+", "{", "@"]
        + ["é", "Ö", "ß", "ÿ", "Ÿ", "Ł", "ł", "ı", "Ǆ", "ǅ", "Ά", "ν", "ί", "ς", "σ", "Ж", "ё", "Ѐ", "Ա", "א", "ש", "م", "ح", "ً"]
        + ["\u{301}", "\u{308}", "\u{345}", "\u{85}", "\u{A0}", "¡", "«", "·", "¿", "©", "°", "µ", "ª", ";", "։", "־", "،"]

    static func randomValues(count: Int, seed: UInt64) -> [String] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let length = Int.random(in: 0...16, using: &generator)
            return (0..<length).map { _ in alphabet.randomElement(using: &generator)! }.joined()
        }
    }

    @Test("seeded random text of one- and two-byte scalars", arguments: keys)
    func random(_ key: UserDataKey) async {
        for (index, value) in Self.randomValues(count: 4_000, seed: 0x2B + UInt64(key.ordinal)).enumerated() {
            if index % 200 == 0 { await Task.yield() }
            expectSameAnswer(key, value)
        }
    }

    @Test("the shared vectors' names and cities in one- and two-byte UTF-8")
    func vectors() {
        let rows = NormalizationVector.all.filter { row in
            Self.keys.map(\.rawValue).contains(row.field) && row.value.unicodeScalars.allSatisfy { $0.value < 0x800 }
                && !row.value.unicodeScalars.contains { $0.value >= 0x80 && Self.mustDecline($0) }
        }
        #expect(rows.count >= 15)
        for row in rows {
            let key = UserDataKey.all.first { $0.rawValue == row.field }!
            expectSameAnswer(key, row.value)
        }
    }

    @Test("names as people write them, with what the rules make of them")
    func knownAnswers() throws {
        let cases: [(UserDataKey, String, String)] = [
            (.firstName, "Zoë", "zoë"), (.firstName, "  JOSÉ ", "josé"), (.lastName, "O'Brien-Łukasiewicz", "obrienłukasiewicz"),
            (.firstName, "Νίκος", "νίκος"), (.lastName, "ИВАНОВА", "иванова"), (.firstNameFirst5, "Ólafur", "ólafu"),
            (.firstInitial, "Élodie", "é"), (.city, "São Paulo", "sãopaulo"), (.city, "Bad Homburg v.d. Höhe", "badhomburgvdhöhe"),
        ]
        for (key, value, canonical) in cases {
            let answer = try #require(Self.normalizer.normalizeTwoByte(key, value))
            #expect(answer == .success(.canonical(canonical)), "\(key.rawValue) \(value)")
            #expect(
                Self.normalizer.normalize(key, value) == .success(.hashed(normalized: canonical, digest: SHA256Hex.hexDigest(canonical))),
                "\(key.rawValue) \(value)"
            )
        }
        // A digest given with white space around it is taken as a digest, as by the general rules.
        let digest = SHA256Hex.hexDigest("zoë")
        expectSameAnswer(.firstName, "\u{A0}\(digest.hex.uppercased())\u{85}")
        #expect(Self.normalizer.normalizeTwoByte(.firstName, "\u{A0}\(digest.hex)\u{A0}") == .success(.digest(digest)))
        #expect(Self.normalizer.normalizeTwoByte(.firstName, "\u{A0}-\u{A0}") == .failure(NormalizationIssue(key: "fn", reason: "has no letters")))
        #expect(Self.normalizer.normalizeTwoByte(.city, "\u{A0}\u{85}") == .failure(NormalizationIssue(key: "ct", reason: "is empty")))
    }

    @Test("other keys, scalars of three or four bytes and capital sigma go to the general rules")
    func declines() {
        for value in ["李", "\u{212A}ate", "e\u{2019}s", "Zoë 😀", "ΟΔΥΣΣΕΥΣ", "İlknur"] {
            #expect(Self.normalizer.normalizeTwoByte(.firstName, value) == nil, "\(value)")
        }
        for key in UserDataKey.all where !Self.keys.contains(key) {
            #expect(Self.normalizer.normalizeTwoByte(key, "Zoë") == nil, "\(key.rawValue)")
        }
    }
}
