import Foundation
import TestSupport
import Testing

/// Meta's official Python SDK (`facebook-business`) against `capi-connector sandbox`.
///
/// CI installs the SDK and sets `CAPI_TEST_META_SDK=1`; there the test must run. Elsewhere it runs
/// when the SDK is importable.
enum MetaSDK {
    static let required = ProcessInfo.processInfo.environment["CAPI_TEST_META_SDK"] == "1"
    /// Checked once, before any test runs (a trait cannot await).
    static let available: Bool = {
        guard
            let result = try? ProcessRunner.runBlocking("/usr/bin/env", ["python3", "-c", "import facebook_business"], environment: [:], stdin: nil)
        else { return false }
        return result.status == 0
    }()
    static var enabled: Bool { required || available }

    /// Whether the SDK imports, asked from a test. Never `available` there: its first read runs
    /// python3 and waits for it on one of the two threads Swift's tasks share, and Foundation's
    /// `Process` learns that a child ended when a socket the child holds closes, which every
    /// process started meanwhile (a sandbox another test runs) inherits. The wait then lasted
    /// until that sandbox stopped, which needed the threads it held: the suite hung.
    static func importable() async -> Bool {
        (try? await ProcessRunner.run("/usr/bin/env", ["python3", "-c", "import facebook_business"]))?.status == 0
    }

    /// Runs `Scripts/meta_sdk_events.py` against a Graph endpoint; one JSON object per step it printed.
    static func steps(
        baseURL: String,
        pixelID: String,
        token: String,
        prefix: String
    ) async throws -> (status: Int32, stderr: String, steps: [[String: Any]]) {
        let script = CLIRunner.repositoryRoot.appendingPathComponent("Tests/CLITests/Scripts/meta_sdk_events.py").path
        let result = try await ProcessRunner.run("/usr/bin/env", ["python3", script, baseURL, pixelID, token, prefix])
        let steps = result.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        return (result.status, result.stderr, steps)
    }
}

@Suite("Meta's official SDK", .enabled(if: MetaSDK.enabled))
struct MetaSDKTests {
    @Test("the SDK gets events_received from the sandbox, and code 100 for an 8-day-old event")
    func sdkAgainstSandbox() async throws {
        #expect(await MetaSDK.importable(), "facebook-business is not installed (pip install facebook-business)")
        try await CLIRunner.withSandbox { port in

            let (status, stderr, steps) = try await MetaSDK.steps(
                baseURL: "http://127.0.0.1:\(port)",
                pixelID: "1234567890",
                token: "sdk-token",
                prefix: "sdk"
            )
            #expect(status == 0, "\(stderr)")
            #expect(steps.first?["events_received"] as? Int == 3)
            #expect(steps.last?["code"] as? Int == 100)
            #expect(steps.last?["subcode"] as? Int == 2_804_003)
        }
    }

    /// The vectors hold the SDK's answers for chosen values; this draws many more: emails, names,
    /// cities, regions and postcodes from the characters the rules turn on (Unicode white space,
    /// prepended and combining marks, sigma, case mappings that change length or script, several
    /// scripts' punctuation), and international phone numbers with `+`, `00` or `+00`. It requires
    /// `normalize` to answer as the SDK, byte for byte, wherever the SDK's answer is the documented
    /// canonical form. It found trimming that kept a space after U+0600, and `+0044 …` refused;
    /// no vector had either.
    @Test("normalize answers as the SDK on seeded random text, wherever the SDK's answer is canonical")
    func normalizeParity() async throws {
        #expect(await MetaSDK.importable(), "facebook-business is not installed (pip install facebook-business)")
        let script = CLIRunner.repositoryRoot.appendingPathComponent("Tests/CLITests/Scripts/meta_sdk_normalize.py").path
        let count = 20_000
        let generated = try await ProcessRunner.run("/usr/bin/env", ["python3", script, "20261204", "\(count)"])
        #expect(generated.status == 0, "\(generated.stderr)")
        // JSONDecoder, not JSONSerialization: the latter drops a U+FEFF that starts a string.
        let rows = Self.lines(generated.stdout).compactMap { try? JSONDecoder().decode(ParityRow.self, from: $0) }
        try #require(rows.count == count)

        let input = try rows.map { String(decoding: try JSONEncoder().encode(ParityInput(field: $0.field, value: $0.value)), as: UTF8.self) }
        let result = try await CLIRunner.run(["normalize"], stdin: input.joined(separator: "\n") + "\n")
        #expect(result.status == 0, "\(result.stderr)")
        let answers = Self.lines(result.stdout).map { try? JSONDecoder().decode(ParityAnswer.self, from: $0) }
        try #require(answers.count == count)

        let scalars = { (text: String?) in text.map { $0.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " ") } ?? "nil" }
        var mismatches: [String] = []
        // Bytes, not `String`s: `==` would take NFC and NFD as equal, and their digests differ.
        for (row, answer) in zip(rows, answers) where answer?.normalized.map({ Array($0.utf8) }) != Array(row.sdk.utf8) {
            mismatches.append("\(row.field) [\(scalars(row.value))]: SDK [\(scalars(row.sdk))], ours [\(scalars(answer?.normalized))]")
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(count) differ, e.g. \(mismatches.prefix(5).joined(separator: "; "))")
        // Each field took part, so a generator that stopped varying would show here.
        #expect(Set(rows.map(\.field)).count == 10)
    }

    /// Lines split on the newline byte: `String.split` works on characters, and would keep a line
    /// break that follows a carriage return, or joins a combining mark, inside one line.
    static func lines(_ text: String) -> [Data] {
        text.utf8.split(separator: UInt8(ascii: "\n")).map { Data($0) }
    }
}

/// A line of `meta_sdk_normalize.py`: a value and the SDK's normalized text for it.
private struct ParityRow: Decodable {
    var field: String
    var value: String
    var sdk: String
}

private struct ParityInput: Encodable {
    var field: String
    var value: String
}

/// A line of `capi-connector normalize`'s output.
private struct ParityAnswer: Decodable {
    var normalized: String?
}
