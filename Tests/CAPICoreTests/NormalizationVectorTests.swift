import Foundation
import Testing

@testable import CAPICore

/// One row of `shared/vectors/normalization.jsonl`.
struct NormalizationVector: Decodable, CustomTestStringConvertible, Sendable {
    var id: String
    var field: String
    var value: String
    var kind: String
    var expect: String
    var normalized: String?
    var hash: String?
    var country: String?

    var testDescription: String { "\(id) (\(kind))" }

    static let all: [NormalizationVector] = {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("shared/vectors/normalization.jsonl")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map { try! JSONDecoder().decode(NormalizationVector.self, from: Data($0.utf8)) }
    }()
}

/// The vectors were generated with Meta's SDK and the documented rules; fixed so they never age out.
let vectorToday = CalendarDate(year: 2026, month: 11, day: 23)

@Suite("Normalization vectors")
struct NormalizationVectorTests {
    @Test("the shared vector file is present and complete")
    func vectorsPresent() {
        #expect(NormalizationVector.all.count >= 170)
    }

    @Test("every row of shared/vectors/normalization.jsonl", arguments: NormalizationVector.all)
    func vector(_ row: NormalizationVector) throws {
        let normalizer = Normalizer(today: vectorToday)
        let key = try #require(UserDataKey(name: row.field))
        let country = row.country.flatMap(CountryCodes.alpha2(for:))
        let result = normalizer.normalize(key, row.value, country: country)
        switch (row.expect, result) {
        case ("ok", .success(.hashed(let normalized, let digest))):
            #expect(normalized == row.normalized)
            #expect(Array(normalized.utf8) == Array((row.normalized ?? "").utf8), "bytes differ")
            #expect(digest.hex == row.hash)
        case ("ok", .success(.digest(let digest))):
            #expect(digest.hex == row.normalized)
            #expect(digest.hex == row.hash)
        case ("ok", .success(.passthrough(let value))):
            #expect(value == row.normalized)
            #expect(row.hash == nil)
        case ("error", .failure(let issue)):
            #expect(issue.key == key.rawValue)
            #expect(!issue.reason.contains(row.value) || row.value.count < 3, "the reason echoes the value")
        default:
            Issue.record("expected \(row.expect), got \(result)")
        }
    }

    @Test("the normalize line protocol answers every row in the documented shape", arguments: NormalizationVector.all.prefix(40))
    func lineProtocol(_ row: NormalizationVector) throws {
        var request: [String: String] = ["field": row.field, "value": row.value]
        request["country"] = row.country
        let line = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
        let answer = NormalizationLine.respond(to: line, normalizer: Normalizer(today: vectorToday))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any])
        #expect(object["field"] as? String == row.field)
        if row.expect == "ok" {
            #expect(object["normalized"] as? String == row.normalized)
            if let hash = row.hash { #expect(object["hash"] as? String == hash) } else { #expect(object["hash"] is NSNull) }
        } else {
            #expect(object["error"] is String)
            #expect(object["normalized"] == nil)
        }
    }
}
