import CAPICore
import ConnectorRuntime
import Foundation
import Logging
import TestSupport
import Testing

@Suite("schema commands", .serialized)
struct SchemaCommandsTests {
    @Test("serve registers the shipped schemas; list shows them; check refuses a copy without event_id; diff names versions")
    func registryFromOutside() async throws {
        let folder = TemporaryPaths.url("schemas")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let state = "sqlite:" + folder.appendingPathComponent("state.sqlite").path
        let (serve, _) = try await CLIRunner.startListening(["serve", "--sandbox", "--state", state], environment: ServeProcessTests.environment())
        kill(serve.processIdentifier, SIGTERM)
        await serve.exited()

        let list = try await CLIRunner.run(["schema", "list", "--state", state])
        #expect(list.status == 0, "\(list.stderr)")
        let rows = list.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(rows.compactMap { $0["id"] as? String } == ["ad_insights", "delivered_event", "delivery_status", "match_quality"])
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
        #expect(diff.status == 0 && diff.stdout.isEmpty)
        #expect(diff.stderr.contains("delivered_event: only version 1 is registered; nothing to compare"), "\(diff.stderr)")
        let unknown = try await CLIRunner.run(["schema", "diff", "nope", "--state", state])
        #expect(unknown.status == 2 && unknown.stderr.contains("no schema `nope` is registered; see `capi-connector schema list`"))
        // The stream's name where its record schema's is meant.
        let plural = try await CLIRunner.run(["schema", "diff", "delivered_events", "--state", state])
        #expect(plural.status == 2 && plural.stderr.contains("did you mean `delivered_event`?"), "\(plural.stderr)")
    }
}

@Suite("schema alarms command")
struct SchemaAlarmsCommandTests {
    @Test("listings of an empty store print no line, and say so on standard error")
    func listNothingRegistered() async throws {
        let path = TemporaryPaths.url("schemas-none").appendingPathComponent("state.sqlite").path
        try await withStateRegistry(.sqlite(path: path), logger: Logger(label: "test.state")) { _ in }
        let list = try await CLIRunner.run(["schema", "list", "--state", "sqlite:" + path])
        #expect(list.status == 0)
        #expect(list.stdout.isEmpty)
        #expect(list.stderr.contains("no schema is registered in this store"), "\(list.stderr)")
        // The other listings of an empty store say so too, and keep standard output empty.
        for (arguments, note) in [
            (["dlq", "list"], "no dead letters"), (["schema", "alarms", "--active"], "no active drift alarms"),
            (["read", "delivered_events", "--since", "-1d"], "no delivered_events records since -1d"),
        ] {
            let result = try await CLIRunner.run(arguments + ["--state", "sqlite:" + path])
            #expect(result.status == 0 && result.stdout.isEmpty && result.stderr.contains(note), "\(arguments): \(result.stderr)")
        }
        // The report keeps its header (or `[]`), and says why it has no row.
        let report = try await CLIRunner.run(["reconcile", "--since", "-3d", "--until", "0d", "--format", "json", "--state", "sqlite:" + path])
        #expect(report.status == 0 && report.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        #expect(report.stderr.contains("nothing to report for that period"), "\(report.stderr)")
    }

    @Test("drift alarms as JSON lines; --active leaves out cleared ones; --all adds the pixel-pause alarms")
    func alarms() async throws {
        let path = TemporaryPaths.url("alarms").appendingPathComponent("state.sqlite").path
        try await withStateRegistry(.sqlite(path: path), logger: .init(label: "test")) { registry in
            let coverage = AlarmSubject(kind: "schema_drift_coverage", pixelID: "555", stream: "delivered_events", eventName: "Purchase", field: "em")
            try await registry.raiseAlarm(
                coverage,
                severity: .warning,
                message: "em coverage fell from 100% to 0% over 100 events",
                now: .init(1_795_000_000_000)
            )
            try await registry.raiseAlarm(
                coverage,
                severity: .warning,
                message: "em coverage fell from 100% to 0% over 100 events",
                now: .init(1_795_000_060_000)
            )
            let missing = AlarmSubject(
                kind: "schema_drift_missing_field",
                pixelID: "555",
                stream: "delivered_events",
                eventName: "Purchase",
                field: "currency"
            )
            try await registry.raiseAlarm(missing, severity: .critical, message: "currency missing", now: .init(1_795_000_000_000))
            try await registry.clearAlarms(missing, now: .init(1_795_000_120_000))
            try await registry.raiseAlarm(
                AlarmSubject(kind: "pixel_paused_auth", pixelID: "555"),
                severity: .critical,
                message: "auth",
                now: .init(1)
            )
        }
        func lines(_ arguments: [String]) async throws -> [[String: Any]] {
            let result = try await CLIRunner.run(["schema", "alarms", "--state", "sqlite:" + path] + arguments)
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        let drift = try await lines([])
        #expect(drift.compactMap { $0["kind"] as? String } == ["schema_drift_coverage", "schema_drift_missing_field"])
        let em = try #require(drift.first)
        #expect(em["field"] as? String == "em" && em["event_name"] as? String == "Purchase" && em["stream"] as? String == "delivered_events")
        #expect(em["count"] as? Int == 2 && em["severity"] as? String == "warning" && em["last_seen"] as? String == "2026-11-18T11:07:40Z")
        #expect(drift.last?["cleared_at"] as? String == "2026-11-18T11:08:40Z")
        #expect(try await lines(["--active"]).count == 1)
        #expect(try await lines(["--all"]).count == 3)
    }
}
