import Foundation
import Testing

@testable import CAPICore

/// One row of `Vectors/libphonenumber-e164.jsonl` (`scripts/generate_phone_vectors.py`).
private struct PhoneVector: Decodable {
    var value: String
    var normalized: String
    var country: String?
    var `case`: String

    static let all: [PhoneVector] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/libphonenumber-e164.jsonl")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map { try! JSONDecoder().decode(PhoneVector.self, from: Data($0.utf8)) }
    }()
}

private let normalizer = Normalizer(today: vectorToday)

private func e164(_ value: String, country: String?) -> String? {
    if case .success(.hashed(let normalized, let digest)) = normalizer.normalize(.phone, value, country: country) {
        #expect(digest.hex == SHA256Hex.digest(normalized))
        return normalized
    }
    return nil
}

/// Numbers as people write them, read the way libphonenumber (the numbering-plan data Meta's
/// matching rests on) reads them.
@Suite("Phone numbers against libphonenumber")
struct PhoneNumberPlanTests {
    @Test("every example number of every region and type, written nationally and internationally")
    func libphonenumberExamples() {
        let vectors = PhoneVector.all
        #expect(vectors.count >= 3000, "Vectors/libphonenumber-e164.jsonl is missing or short")
        var wrong: [String] = []
        for vector in vectors {
            let answer = e164(vector.value, country: vector.country)
            if answer != vector.normalized {
                wrong.append("\(vector.case): \(vector.value) → \(answer ?? "dropped"), libphonenumber \(vector.normalized)")
            }
        }
        let mismatches = wrong.count
        #expect(mismatches == 0, "\(mismatches) of \(vectors.count):\n\(wrong.prefix(40).joined(separator: "\n"))")
    }

    @Test(
        "a national prefix that is more than a leading 0 is taken off as in the country",
        arguments: [
            // Argentina: a mobile number dialled `0 11 15 …` is `+54 9 11 …`.
            ("011 15-2345-6789", "ar", "5491123456789"), ("+54 011 15-2345-6789", nil, "5491123456789"),
            // Belarus dials a trunk 8, often followed by 0.
            ("8 029 491-19-11", "by", "375294911911"), ("+375 8 029 491-19-11", nil, "375294911911"),
            // Hungary's trunk prefix is 06; Russia's and Kazakhstan's 8, also written after +7.
            ("+36 06 20 123 4567", nil, "36201234567"), ("06 20 123 4567", "hu", "36201234567"),
            ("+7 8 (912) 345-67-89", nil, "79123456789"), ("+7 8 (771) 000 9998", nil, "77710009998"),
            // A carrier-selection code before a Brazilian number.
            ("0 21 11 91234-5678", "br", "5511912345678"),
            // A seven-digit local number in the Caribbean gains its area code.
            ("460 1234", "ag", "12684601234"),
            // A trunk 1 written after +1.
            ("+1 1 650 555 1212", nil, "16505551212"),
        ] as [(String, String?, String)]
    )
    func nationalPrefixes(value: String, country: String?, expected: String) {
        #expect(e164(value, country: country) == expected)
    }

    @Test(
        "digits that belong to the number are kept",
        arguments: [
            // St Petersburg's area code starts with 8; the whole is already ten digits.
            ("+7 812 123 4567", nil, "78121234567"), ("812 123 4567", "ru", "78121234567"),
            // Italy keeps its leading 0, before and after +39.
            ("+39 06 1234 5678", nil, "390612345678"), ("06 1234 5678", "it", "390612345678"),
            // A US area code never starts with 1, so `+1 650` has nothing to take off.
            ("+1 650 555 1212", nil, "16505551212"),
        ] as [(String, String?, String)]
    )
    func significantDigits(value: String, country: String?, expected: String) {
        #expect(e164(value, country: country) == expected)
    }

    @Test(
        "a foreign number written with the country's own international prefix keeps its calling code",
        arguments: [
            // Dialled from the United States, Australia, Japan and Russia (`8`, a tone, `10`).
            ("011 44 20 7946 0958", "us", "442079460958"), ("0011 1 650 555 1212", "au", "16505551212"),
            ("010-1-650-555-1212", "jp", "16505551212"), ("8 10 44 20 7946 0958", "ru", "442079460958"),
            // Brazil's `00` takes a carrier code, so `0015 44` is the UK, not `+1 5 44 …`.
            ("0015 44 20 7946 0958", "br", "442079460958"),
            // Korea's `008` leads to no calling code in `0082 10 …`: it is `00` and Korea's own.
            ("0082 10 1234 5678", "kr", "821012345678"),
            // `00` is read everywhere, also where the country's own prefix is another.
            ("00 44 20 7946 0958", "us", "442079460958"),
            // A national number is not read as a prefix: Japan's `090`, China's mobile `138`.
            ("090-1234-5678", "jp", "819012345678"), ("138 0013 8000", "cn", "8613800138000"),
        ] as [(String, String?, String)]
    )
    func internationalPrefixes(value: String, country: String?, expected: String) {
        #expect(e164(value, country: country) == expected)
    }
}
