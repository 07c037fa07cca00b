import Foundation
import TestSupport
import Testing

@Suite("schema commands", .serialized)
struct SchemaCommandsTests {
    @Test("serve registers the shipped schemas; list shows them; check refuses a copy without event_id; diff names versions")
    func registryFromOutside() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("schemas-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let state = "sqlite:" + folder.appendingPathComponent("state.sqlite").path
        let (serve, _) = try await CLIRunner.startListening(["serve", "--sandbox", "--state", state], environment: ServeProcessTests.environment())
        kill(serve.processIdentifier, SIGTERM)
        serve.waitUntilExit()

        let list = try await CLIRunner.run(["schema", "list", "--state", state])
        #expect(list.status == 0, "\(list.stderr)")
        let rows = list.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(rows.compactMap { $0["id"] as? String } == ["delivered_event", "delivery_status", "match_quality"])
        #expect(rows.allSatisfy { ($0["version"] as? Int) == 1 && ($0["hash"] as? String)?.count == 64 })

        let shipped = try String(contentsOf: RepositoryPaths.schemas.appendingPathComponent("delivered_event.v1.json"), encoding: .utf8)
        var json = try #require(try JSONSerialization.jsonObject(with: Data(shipped.utf8)) as? [String: Any])
        json["required"] = (json["required"] as? [String])?.filter { $0 != "event_id" }
        var properties = json["properties"] as? [String: Any]
        properties?["event_id"] = nil
        json["properties"] = properties
        let broken = folder.appendingPathComponent("delivered_event.v2.json")
        try JSONSerialization.data(withJSONObject: json).write(to: broken)
        let check = try await CLIRunner.run(["schema", "check", broken.path, "--state", state])
        #expect(check.status == 1)
        #expect(check.stdout.contains("delivered_event: `event_id` (required since version 1) is dropped or renamed"))

        let same = try await CLIRunner.run([
            "schema", "check", RepositoryPaths.schemas.appendingPathComponent("delivered_event.v1.json").path, "--state", state,
        ])
        #expect(same.status == 0 && same.stdout.contains("identical to version 1"))
        let diff = try await CLIRunner.run(["schema", "diff", "delivered_event", "--state", state])
        #expect(diff.status == 0 && diff.stdout.contains("same fields"))
        let unknown = try await CLIRunner.run(["schema", "diff", "nope", "--state", state])
        #expect(unknown.status == 2 && unknown.stderr.contains("no schema `nope`"))
    }
}
