import Foundation
import Testing

@testable import CAPICore

private let normalizer = Normalizer(today: vectorToday)

private func canonical(_ key: UserDataKey, _ value: String, country: String? = nil) -> String? {
    switch normalizer.normalize(key, value, country: country) {
    case .success(.hashed(let normalized, _)): normalized
    case .success(.digest(let digest)): digest.hex
    case .success(.passthrough(let value)): value
    case .failure: nil
    }
}

@Suite("Normalization rules")
struct NormalizerRuleTests {
    @Test(
        "phone numbers become E.164 with the country's calling code and trunk rule",
        arguments: [
            ("(650) 555-1212", "us", "16505551212"), ("1-650-555-1212", "us", "16505551212"),
            ("020 7946 0958", "gb", "442079460958"), ("07700 900123", "gb", "447700900123"),
            ("090-1234-5678", "jp", "819012345678"), ("03-1234-5678", "jp", "81312345678"),
            ("030 123456", "de", "4930123456"), ("0170 1234567", "de", "491701234567"),
            ("01 23 45 67 89", "fr", "33123456789"), ("06 1234 5678", "it", "390612345678"),
            ("347 123 4567", "it", "393471234567"), ("912 345 678", "es", "34912345678"),
            ("8 495 123-45-67", "ru", "74951234567"), ("(02) 9876 5432", "au", "61298765432"),
            ("+44 (0)20 7946 0958", nil, "442079460958"), ("0044 (0) 20 7946 0958", nil, "442079460958"),
            ("+44 020 7946 0958", nil, "442079460958"), ("+39 06 1234 5678", nil, "390612345678"),
            ("tel:+1-650-555-1212", nil, "16505551212"), ("+1 (650) 555.1212", "de", "16505551212"),
            ("442079460958", "gb", "442079460958"), ("16505551212", nil, "16505551212"),
            ("0016505551212", "jp", "16505551212"),
            // A `+` before the `00` dialling prefix: Meta removes leading zeros, the SDK up to two.
            ("+0044 20 7946 0958", nil, "442079460958"), ("+00 39 06 6982 1234", nil, "390669821234"),
            ("+0 44 20 7946 0958", "us", "442079460958"),
        ]
    )
    func phones(value: String, country: String?, expected: String) {
        #expect(canonical(.phone, value, country: country) == expected)
    }

    @Test(
        "unusable phone numbers are dropped",
        arguments: [
            ("+1 800 FLOWERS", nil), ("555-12", "us"), ("0201234567", nil), ("+", nil), ("12345678901234567", nil),
            ("650#555", "us"), ("+000 44 20 7946 0958", nil), ("1+650", nil),
        ] as [(String, String?)]
    )
    func badPhones(value: String, country: String?) {
        #expect(canonical(.phone, value, country: country) == nil)
    }

    @Test(
        "birth dates in common layouts become YYYYMMDD",
        arguments: [
            ("1990-01-15", "19900115"), ("1990/1/5", "19900105"), ("01/15/1990", "19900115"), ("1/5/1990", "19900105"),
            ("15/01/1990", "19900115"), ("15.01.1990", "19900115"), ("05.01.1990", "19900105"), ("January 15, 1990", "19900115"),
            ("15 Jan 1990", "19900115"), ("jan 15 1990", "19900115"), ("Sept 3, 1985", "19850903"), ("1990-01-15T00:00:00Z", "19900115"),
            ("19900115", "19900115"), ("02161997", "19970216"), ("2000-02-29", "20000229"), ("12-25-1980", "19801225"),
            // Non-ASCII text takes the Unicode tokenizer: a no-break space separates like a space.
            ("15\u{A0}Jan 1990", "19900115"), ("1990\u{3000}01\u{3000}15", "19900115"),
            // Ordinals, weekdays, `of`; the months of other languages; Chinese, Japanese and Korean marks.
            ("16th February 1997", "19970216"), ("February 16th, 1997", "19970216"), ("the 1st of March, 2000", "20000301"),
            ("Sun, 16 Feb 1997", "19970216"), ("16 février 1997", "19970216"), ("16. Februar 1997", "19970216"),
            ("16 de febrero de 1997", "19970216"), ("3 maart 1997", "19970303"), ("25 dicembre 1980", "19801225"),
            ("4 de março de 1985", "19850304"), ("1997年2月16日", "19970216"), ("1997년 2월 16일", "19970216"),
        ]
    )
    func birthDates(value: String, expected: String) {
        #expect(canonical(.dateOfBirth, value) == expected)
    }

    @Test(
        "impossible, ancient, future and two-digit-year dates are dropped",
        arguments: [
            "19900230", "1899-12-31", "2027-01-01", "2026-11-24", "1900-02-29", "13/13/1990", "01/15/90", "Smarch 3 1990", "yesterday", "1990-13-01",
            // Filler words alone make no date.
            "16 th 1997", "monday 1997", "16 février", "30 février 1997",
        ]
    )
    func badBirthDates(value: String) {
        #expect(canonical(.dateOfBirth, value) == nil)
    }

    @Test(
        "US states map to their codes; other regions keep letters only",
        arguments: [
            ("New York", nil, "ny"), ("N.Y.", nil, "ny"), ("california", "us", "ca"), ("District of Columbia", nil, "dc"),
            ("Puerto Rico", nil, "pr"), ("TX", "us", "tx"), ("British Columbia", "ca", "britishcolumbia"), ("Île-de-France", "fr", "îledefrance"),
            ("Washington", "gb", "washington"),
        ]
    )
    func states(value: String, country: String?, expected: String) {
        #expect(canonical(.state, value, country: country) == expected)
    }

    @Test(
        "countries by code, alpha-3 and name",
        arguments: [
            ("US", "us"), ("USA", "us"), ("United States of America", "us"), ("u.s.a.", "us"), ("Deutschland", "de"),
            ("Germany", "de"), ("DEU", "de"), ("UK", "gb"), ("United Kingdom", "gb"), ("Japan", "jp"), ("日本", "jp"),
            ("España", "es"), ("Côte d'Ivoire", "ci"), ("South Korea", "kr"),
        ]
    )
    func countries(value: String, expected: String) {
        #expect(canonical(.country, value) == expected)
    }

    @Test(
        "countries as people write them: with or without the article, & for and, St for Saint, without ISO's brackets or accents",
        arguments: [
            ("The Bahamas", "bs"), ("Gambia, The", "gm"), ("the United Kingdom", "gb"), ("The United States", "us"),
            ("Democratic Republic of the Congo", "cd"), ("Republic of Korea", "kr"), ("Bosnia & Herzegovina", "ba"),
            ("Trinidad & Tobago", "tt"), ("St Kitts & Nevis", "kn"), ("Holy See", "va"), ("Falkland Islands", "fk"),
            ("Saint Martin", "mf"), ("Sint Maarten", "sx"), ("U.S. Virgin Islands", "vi"), ("Aland Islands", "ax"),
            ("Cote d'Ivoire", "ci"), ("Sao Tome and Principe", "st"), ("Republic of Ireland", "ie"), ("East Timor", "tl"),
        ]
    )
    func countrySpellings(value: String, expected: String) {
        #expect(canonical(.country, value) == expected)
    }

    @Test(
        "countries by their own names, in any script and in either Unicode form",
        arguments: [
            ("Ísland", "is"), ("I\u{301}sland", "is"), ("Lietuva", "lt"), ("Latvija", "lv"), ("Eesti", "ee"), ("Hrvatska", "hr"),
            ("Srbija", "rs"), ("Србија", "rs"), ("Shqipëria", "al"), ("България", "bg"), ("ΕΛΛΆΔΑ", "gr"), ("ประเทศไทย", "th"),
            ("السعودية", "sa"), ("台湾", "tw"), ("香港", "hk"), ("中华人民共和国", "cn"), ("Slovensko", "sk"), ("Polska", "pl"),
        ]
    )
    func countryOwnNames(value: String, expected: String) {
        #expect(canonical(.country, value) == expected)
    }

    @Test("a name two countries share is not guessed", arguments: ["Virgin Islands", "virgin islands"])
    func sharedCountryNames(value: String) {
        #expect(canonical(.country, value) == nil)
    }

    @Test("the name table is sorted by its bytes, in NFC, with every name leading to a country code")
    func countryTable() {
        #expect(CountryCodes.codes.count == 249)
        let lines = CountryData.names.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        #expect(lines.count > 30_000)
        #expect(lines.allSatisfy { $0.count == 2 && CountryCodes.codes.contains(String($0[1])) })
        let keys = lines.map { Array($0[0].utf8) }
        // Strictly increasing: the binary search relies on it, and a key twice would be ambiguous.
        #expect(zip(keys, keys.dropFirst()).allSatisfy { $0.lexicographicallyPrecedes($1) })
        #expect(lines.allSatisfy { String($0[0]).precomposedStringWithCanonicalMapping.utf8.elementsEqual($0[0].utf8) })
        // The first and the last line are found too (the search's edges).
        for line in [lines.first!, lines.last!] {
            #expect(CountryCodes.name(forKey: String(line[0])) == String(line[1]))
        }
        #expect(CountryCodes.name(forKey: "") == nil && CountryCodes.name(forKey: "zzzzzzzz") == nil && CountryCodes.name(forKey: "a") == nil)
    }

    @Test("unknown countries are dropped", arguments: ["XX", "Atlantis", "u", "12"])
    func badCountries(value: String) {
        #expect(canonical(.country, value) == nil)
    }

    @Test(
        "postcodes",
        arguments: [
            ("94025-1234", nil, "94025"), ("940251234", "us", "94025"), ("M1 1AE", "gb", "m11ae"), ("100-0001", "jp", "1000001"),
            ("H0H 0H0", "ca", "h0h0h0"), ("75001", "fr", "75001"),
        ]
    )
    func postcodes(value: String, country: String?, expected: String) {
        #expect(canonical(.zip, value, country: country) == expected)
    }

    @Test(
        "names lose punctuation but keep letters of any script and inner spaces",
        arguments: [
            ("O'Brien", "obrien"), ("Mary-Jane", "maryjane"), ("  José  ", "josé"), ("Mary Ann", "mary ann"),
            ("ΟΔΥΣΣΕΥΣ", "οδυσσευς"), ("İstanbul", "i\u{307}stanbul"), ("Jean-Luc.", "jeanluc"),
        ]
    )
    func names(value: String, expected: String) {
        #expect(canonical(.firstName, value) == expected)
    }

    @Test(
        "first-five, initial and birth-date parts",
        arguments: [
            (UserDataKey.firstNameFirst5, "Alexander", "alexa"), (.lastNameFirst5, "Łukasiewicz", "łukas"), (.firstInitial, "Émile", "é"),
            (.birthDay, "5", "05"), (.birthMonth, "12", "12"), (.birthYear, "1990", "1990"),
        ]
    )
    func parts(key: UserDataKey, value: String, expected: String) {
        #expect(canonical(key, value) == expected)
    }

    @Test(
        "bad birth-date parts are dropped",
        arguments: [
            (UserDataKey.birthDay, "32"), (.birthDay, "0"), (.birthMonth, "13"), (.birthYear, "90"), (.birthYear, "1850"), (.birthDay, "ab"),
        ]
    )
    func badParts(key: UserDataKey, value: String) {
        #expect(canonical(key, value) == nil)
    }

    @Test(
        "digits of any script and full-width forms are read as the ASCII they stand for, in numbers and codes only",
        arguments: [
            (UserDataKey.phone, "+1 ６５０ ５５５ １２１２", nil, "16505551212"), (.phone, "０９０－１２３４－５６７８", "jp", "819012345678"),
            (.phone, "（６５０）５５５．１２１２", "us", "16505551212"), (.phone, "+١ ٦٥٠ ٥٥٥ ١٢١٢", nil, "16505551212"),
            (.phone, "۰۹۱۲ ۳۴۵ ۶۷۸۹", "ir", "989123456789"), (.phone, "६५० ५५५ १२१२", "us", "16505551212"),
            (.zip, "９４０２５－１２３４", "us", "94025"), (.zip, "１００－０００１", "jp", "1000001"), (.zip, "Ｍ１ １ＡＥ", "gb", "m11ae"),
            (.dateOfBirth, "１９９０－０１－１５", nil, "19900115"), (.dateOfBirth, "١٥/١٢/١٩٩٠", nil, "19901215"),
            (.birthDay, "５", nil, "05"), (.birthYear, "۱۹۹۰", nil, "1990"), (.country, "ＪＰ", nil, "jp"), (.state, "ＣＡ", "us", "ca"),
            (.state, "Ｔｏｋｙｏ", "jp", "tokyo"),
            // Names and emails are not numbers: their full-width letters stay as written.
            (.firstName, "Ｊａｎｅ", nil, "ｊａｎｅ"),
        ] as [(UserDataKey, String, String?, String)]
    )
    func digitsOfAnyScript(key: UserDataKey, value: String, country: String?, expected: String) {
        #expect(canonical(key, value, country: country) == expected)
    }

    @Test("a superscript or fraction is no digit: the phone number is still refused")
    func superscriptsAreNoDigits() {
        #expect(canonical(.phone, "6505551212²", country: "us") == nil)
        #expect(canonical(.phone, "650555121½", country: "us") == nil)
    }

    @Test("trimming uses Python's white-space set")
    func whitespaceSet() {
        #expect(canonical(.email, "\u{2003}\u{1C}a@b.co\u{3000}\u{85}") == "a@b.co")
        // U+200B and U+FEFF are not white space: they stay (and make a different digest).
        #expect(canonical(.email, "\u{FEFF}a@b.co") == "\u{FEFF}a@b.co")
    }

    /// Python's `strip` cuts between code points. A prepended concatenation mark (U+0600–U+0605,
    /// U+06DD, U+070F, U+08E2, U+110BD) forms one grapheme cluster with the space after it, and a
    /// trim that sliced a `String` by its characters kept that space, so the digest differed from
    /// the SDK's.
    @Test("trimming cuts between scalars, not grapheme clusters")
    func trimmingCutsScalars() {
        #expect(TextFolding.trimmed("\u{600} ") == "\u{600}")
        #expect(TextFolding.trimmed("\u{110BD}\u{A0}\u{85}").unicodeScalars.map(\.value) == [0x110BD])
        #expect(canonical(.firstName, " \u{6DD}\u{A0}") == "\u{6DD}")
        #expect(canonical(.city, "\u{70F}x ") == "x")
        #expect(canonical(.email, "a@b.co\u{8E2} ") == "a@b.co\u{8E2}")
    }

    @Test("NFC and NFD hash differently: bytes are hashed, not characters")
    func normalizationFormsDiffer() throws {
        let nfc = try #require(try? normalizer.normalize(.firstName, "Jos\u{E9}").get())
        let nfd = try #require(try? normalizer.normalize(.firstName, "Jose\u{301}").get())
        guard case .hashed(_, let nfcDigest) = nfc, case .hashed(_, let nfdDigest) = nfd else {
            Issue.record("expected both to be hashed: \(nfc), \(nfd)")
            return
        }
        #expect(nfcDigest != nfdDigest)
    }

    @Test("external_id is hashed as given after trimming, or passed through when configured")
    func externalID() throws {
        #expect(try normalizer.normalize(.externalID, "  User-42 ").get() == .hashed(normalized: "User-42", digest: SHA256Hex.hexDigest("User-42")))
        let passthrough = Normalizer(today: vectorToday, externalIDPolicy: .passthrough)
        #expect(try passthrough.normalize(.externalID, " User-42 ").get() == .passthrough("User-42"))
    }

    @Test("an MD5 is not a digest Meta accepts: it is an ordinary (invalid) email")
    func md5IsNotADigest() {
        #expect(canonical(.email, "d41d8cd98f00b204e9800998ecf8427e") == nil)
        #expect(canonical(.city, "d41d8cd98f00b204e9800998ecf8427e") == "ddcdfbeecfe")
    }

    @Test("drop reasons name the key and never the value")
    func reasonsHideValues() {
        for (key, value) in [
            (UserDataKey.email, "secret.person@nowhere"), (.phone, "+1 555 SECRET"), (.dateOfBirth, "31/31/1999"), (.gender, "unknowable"),
        ] {
            guard case .failure(let issue) = normalizer.normalize(key, value) else {
                Issue.record("\(key) accepted")
                continue
            }
            #expect(issue.key == key.rawValue)
            #expect(!issue.description.lowercased().contains(value.lowercased()))
        }
    }
}
