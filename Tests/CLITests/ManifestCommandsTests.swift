import Foundation
import TestSupport
import Testing

let shippedEnvironment = [
    "META_PIXEL_ID": "998877665544",
    "META_ACCESS_TOKEN": "EAAB-secret-access-token-4242",
    "CAPI_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "CAPI_INGEST_TOKEN": "ingest-secret-token-7373",
]

@Suite("validate and discover")
struct ManifestCommandsTests {
    @Test("the shipped manifest validates")
    func shippedManifestValidates() async throws {
        let result = try await CLIRunner.run(["validate"], environment: shippedEnvironment)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("a broken manifest prints one FILE:LINE:COL line per problem and exits 2")
    func brokenManifest() async throws {
        let path = TemporaryPaths.url("broken", suffix: ".yaml").path
        let text = try String(
            contentsOfFile: CLIRunner.repositoryRoot.appendingPathComponent("manifests/meta_conversions_api.yaml").path,
            encoding: .utf8
        )
        .replacingOccurrences(of: "version: v26.0", with: "version: 26")
        .replacingOccurrences(of: "max_events: 1000", with: "max_event: 1000")
        .replacingOccurrences(of: "scheme: standard_webhooks", with: "scheme: hmac")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }

        let result = try await CLIRunner.run(["validate", "--manifest", path], environment: shippedEnvironment)
        #expect(result.status == 2)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(lines)")
        let pattern = try Regex("^\(path):[0-9]+:[0-9]+: .+$")
        #expect(lines.allSatisfy { $0.wholeMatch(of: pattern) != nil })
        #expect(lines.contains { $0.contains("graph_api.version") })
        #expect(lines.contains { $0.contains("unknown key `max_event`") && $0.contains("did you mean `max_events`?") })
        #expect(lines.contains { $0.contains("push.sources[0].scheme") })
        for secret in shippedEnvironment.values {
            #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret))
        }
    }

    @Test("validate notes a schema folder it cannot find, and still exits 0; the shipped layout has none to note")
    func validateNotesMissingSchemas() async throws {
        let shipped = try await CLIRunner.run(["validate"], environment: shippedEnvironment)
        #expect(shipped.status == 0 && !shipped.stderr.contains("schema_registry.path"), "\(shipped.stderr)")
        let folder = TemporaryPaths.url("lonely-manifest")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let copy = folder.appendingPathComponent("m.yaml")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: RepositoryPaths.shippedManifest), to: copy)
        // From the repository, `schemas` is found in the working directory; from elsewhere it is not.
        let elsewhere = try await CLIRunner.run(["validate", "--manifest", copy.path], environment: shippedEnvironment, directory: folder.path)
        #expect(elsewhere.status == 0, "\(elsewhere.stderr)")
        #expect(elsewhere.stderr.contains("note: schema_registry.path `schemas` is not a folder here"), "\(elsewhere.stderr)")
        #expect(elsewhere.stderr.contains(folder.appendingPathComponent("schemas").path))
    }

    @Test("discover prints both streams for the configured pixel")
    func discover() async throws {
        let result = try await CLIRunner.run(["discover"], environment: shippedEnvironment)
        #expect(result.status == 0, "\(result.stderr)")
        let catalog = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let pixels = try #require(catalog["pixels"] as? [[String: Any]])
        #expect(pixels.count == 1)
        #expect(pixels[0]["pixel_id"] as? String == "998877665544")
        let streams = try #require(pixels[0]["streams"] as? [[String: Any]])
        #expect(Set(streams.compactMap { $0["name"] as? String }) == ["delivered_events", "delivery_statuses", "match_quality"])
        #expect(streams.allSatisfy { $0["schema_id"] is String && $0["cursor_field"] is String && $0["key"] is [String] })
    }

    @Test("discover on an invalid manifest exits 2 with the problems on standard error")
    func discoverInvalid() async throws {
        var environment = shippedEnvironment
        environment["META_PIXEL_ID"] = "pixel-one"
        let result = try await CLIRunner.run(["discover"], environment: environment)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("pixels[0].id"), "\(result.stderr)")
    }

    @Test("discover, like poll and flush, needs no webhook secret; serve and validate name the missing variable")
    func intakeSecretsOnlyForIntake() async throws {
        var environment = shippedEnvironment
        environment["CAPI_WEBHOOK_SECRET"] = nil
        let discover = try await CLIRunner.run(["discover"], environment: environment)
        #expect(discover.status == 0, "\(discover.stderr)")
        for command in [["validate"], ["serve", "--listen", "127.0.0.1:0"]] {
            let result = try await CLIRunner.run(command, environment: environment)
            #expect(result.status == 2, "\(command)")
            #expect((result.stdout + result.stderr).contains("CAPI_WEBHOOK_SECRET is not set"), "\(command): \(result.stderr)")
        }
    }
}
