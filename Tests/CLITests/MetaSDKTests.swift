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
        #expect(MetaSDK.available, "facebook-business is not installed (pip install facebook-business)")
        let (sandbox, port) = try await CLIRunner.startListening(["sandbox", "--listen", "127.0.0.1:0"])
        defer {
            sandbox.terminate()
            sandbox.waitUntilExit()
        }

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
