import ConnectorRuntime
import Foundation
import Logging
import TestSupport
import Testing

/// `dlq list|replay|purge` against a real SQLite store holding dead letters.
@Suite("dlq commands", .serialized)
struct DLQCommandsTests {
    /// A migrated store with two dead letters, written the way the forwarder writes them (the
    /// second from a request with its own `test_event_code`).
    static func storeWithDeadLetters() async throws -> String {
        let path = TemporaryPaths.url("dlq").appendingPathComponent("state.sqlite").path
        try await withStateRegistry(.sqlite(path: path), logger: Logger(label: "test")) { _ in }
        let script = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            for i, code in ((1, None), (2, "TEST42")):
                db.execute("INSERT INTO dead_letters (pixel_id, event_id, event_time, payload, error_class, code, subcode, message, fbtrace_id, attempts, created_at, expires_at, test_event_code) "
                           "VALUES ('555', ?, 1795000000, '{}', 'invalid', 100, 2804003, 'event too old', 'trace-1', 1, 1, 9999999999999, ?)", (f"dl-{i}", code))
            db.commit()
            """
        let seeded = try await ProcessRunner.run("/usr/bin/env", ["python3", "-c", script, path])
        #expect(seeded.status == 0, "\(seeded.stderr)")
        return "sqlite:" + path
    }

    @Test("list prints each dead letter with its reason; replay moves one back to the outbox; purge needs --yes")
    func listReplayPurge() async throws {
        let state = try await Self.storeWithDeadLetters()
        let list = try await CLIRunner.run(["dlq", "list", "--state", state])
        #expect(list.status == 0)
        let letters = list.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(letters.count == 2)
        #expect(letters.map { $0["event_id"] as? String } == ["dl-1", "dl-2"])
        #expect(list.stdout.contains("2804003") && list.stdout.contains("event too old"))
        // A test event's dead letter says so; a live one has no such key.
        #expect(letters.map { $0["test_event_code"] as? String } == [nil, "TEST42"])
        #expect(letters.first?.keys.contains("test_event_code") == false)

        let id = try #require(letters.first?["id"] as? Int)
        let replay = try await CLIRunner.run(["dlq", "replay", "--id", String(id), "--state", state])
        #expect(replay.status == 0, "\(replay.stderr)")
        // The same id again, and one that never was: nothing to do is said, with exit 1.
        let again = try await CLIRunner.run(["dlq", "replay", "--id", String(id), "--id", "987654", "--state", state])
        #expect(again.status == 1 && again.stderr.contains("replayed 0 dead letters"), "\(again.stderr)")
        #expect(again.stderr.contains("2 of the ids given matched no dead letter"), "\(again.stderr)")
        let missing = try await CLIRunner.run(["dlq", "purge", "--id", "987654", "--yes", "--state", state])
        #expect(missing.status == 1 && missing.stderr.contains("1 of the ids given matched no dead letter"), "\(missing.stderr)")
        let after = try await CLIRunner.run(["state", "show", "--state", state])
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])
        #expect(summary["outbox_depth"] as? Int == 1 && summary["dead_letters"] as? Int == 1)

        let refused = try await CLIRunner.run(["dlq", "purge", "--all", "--state", state])
        #expect(refused.status != 0)
        let purge = try await CLIRunner.run(["dlq", "purge", "--all", "--yes", "--state", state])
        #expect(purge.status == 0, "\(purge.stderr)")
        #expect(try await CLIRunner.run(["dlq", "list", "--state", state]).stdout.isEmpty)
    }

    @Test("--manifest names the store by its state.url for the store's commands; --state wins over it")
    func storeFromManifest() async throws {
        let state = try await Self.storeWithDeadLetters()
        // The shipped manifest with its store moved; no webhook secret is set, as in an operator's shell.
        let shipped = try String(contentsOfFile: RepositoryPaths.shippedManifest, encoding: .utf8)
        let line = "url: ${env:CAPI_STATE_URL:-sqlite:.capi/state.sqlite}"
        #expect(shipped.contains(line))
        let folder = try TemporaryPaths.folder("dlq-manifest")
        let manifest = folder.appendingPathComponent("connector.yaml").path
        try shipped.replacingOccurrences(of: line, with: "url: \(state)").write(toFile: manifest, atomically: true, encoding: .utf8)

        let list = try await CLIRunner.run(["dlq", "list", "--manifest", manifest], directory: folder.path)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.split(separator: "\n").count == 2 && list.stdout.contains("dl-1") && list.stdout.contains("dl-2"))
        for command in [
            ["state", "show"], ["schema", "list"], ["read", "delivered_events"], ["reconcile", "--since", "2026-11-01", "--until", "2026-11-02"],
        ] {
            let run = try await CLIRunner.run(command + ["--manifest", manifest], directory: folder.path)
            #expect(run.status == 0, "\(command): \(run.stderr)")
        }
        let purge = try await CLIRunner.run(["dlq", "purge", "--all", "--manifest", manifest], directory: folder.path)
        #expect(purge.status != 0 && purge.stderr.contains("add --yes"), "\(purge.stderr)")
        let shown = try await CLIRunner.run(["state", "show", "--manifest", manifest], directory: folder.path)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        #expect(summary["dead_letters"] as? Int == 2)

        // --state wins, and a missing store is named by where its URL came from.
        let missing = folder.appendingPathComponent("missing.sqlite").path
        let overridden = try await CLIRunner.run(["dlq", "list", "--manifest", manifest, "--state", "sqlite:" + missing], directory: folder.path)
        #expect(overridden.status == 2 && overridden.stderr.contains("check --state or CAPI_STATE_URL"), "\(overridden.stderr)")
        try shipped.replacingOccurrences(of: line, with: "url: sqlite:\(missing)").write(toFile: manifest, atomically: true, encoding: .utf8)
        let moved = try await CLIRunner.run(["dlq", "list", "--manifest", manifest], directory: folder.path)
        #expect(moved.status == 2 && moved.stderr.contains("check state.url in \(manifest)"), "\(moved.stderr)")
        // A manifest that does not load is its problems and exit 2, as for every command.
        let absent = try await CLIRunner.run(["dlq", "list", "--manifest", folder.appendingPathComponent("nope.yaml").path], directory: folder.path)
        #expect(absent.status == 2 && absent.stderr.contains("cannot read the manifest"), "\(absent.stderr)")
    }

    @Test("--class and --pixel narrow list, replay and purge; --all alone or not at all; a cut list says how many more")
    func filters() async throws {
        let state = try await Self.storeWithDeadLetters()
        let script = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.execute("INSERT INTO dead_letters (pixel_id, event_id, event_time, payload, error_class, message, attempts, created_at, expires_at) "
                       "VALUES ('777', 'dl-t', 1795000000, '{}', 'transient', 'retries exhausted after 8 attempts: http 503', 8, 2, 9999999999999)")
            db.commit()
            """
        let seeded = try await ProcessRunner.run("/usr/bin/env", ["python3", "-c", script, String(state.dropFirst("sqlite:".count))])
        #expect(seeded.status == 0, "\(seeded.stderr)")
        func listed(_ arguments: [String]) async throws -> [String] {
            let result = try await CLIRunner.run(["dlq", "list", "--state", state] + arguments)
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["event_id"] as? String
            }
        }
        #expect(try await listed(["--class", "transient"]) == ["dl-t"])
        #expect(try await listed(["--class", "invalid", "--pixel", "555"]) == ["dl-1", "dl-2"])
        #expect(try await listed(["--class", "transient", "--pixel", "555"]).isEmpty)
        let cut = try await CLIRunner.run(["dlq", "list", "--limit", "2", "--state", state])
        #expect(cut.stderr.contains("listed the oldest 2 of 3 dead letters; --limit 3 lists them all"), "\(cut.stderr)")

        for refused in [["--all", "--class", "transient"], []] {
            let result = try await CLIRunner.run(["dlq", "replay", "--state", state] + refused)
            #expect(result.status == 64, "\(refused): \(result.stderr)")
        }
        let unknown = try await CLIRunner.run(["dlq", "replay", "--class", "flaky", "--state", state])
        #expect(unknown.status == 64 && unknown.stderr.contains("too_old"), "the classes are listed: \(unknown.stderr)")

        let replay = try await CLIRunner.run(["dlq", "replay", "--class", "transient", "--class", "throttled", "--state", state])
        #expect(replay.status == 0 && replay.stderr.contains("replayed 1 dead letter into the outbox"), "\(replay.stderr)")
        let purge = try await CLIRunner.run(["dlq", "purge", "--pixel", "555", "--class", "invalid", "--yes", "--state", state])
        #expect(purge.status == 0 && purge.stderr.contains("purged 2 dead letters"), "\(purge.stderr)")
        let after = try await CLIRunner.run(["state", "show", "--state", state])
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])
        #expect(summary["outbox_depth"] as? Int == 1 && summary["dead_letters"] as? Int == 0)
    }

    @Test("dlq list --limit below 1 is refused naming the option")
    func limitBelowOne() async throws {
        for limit in ["--limit=0", "--limit=-1", "--limit -1"] {
            let result = try await CLIRunner.run(
                ["dlq", "list"] + limit.split(separator: " ").map(String.init) + ["--state", "sqlite:/nonexistent/never-opened.sqlite"]
            )
            #expect(result.status == 64, "\(result.stderr)")
            #expect(result.stderr.contains("--limit must be at least 1"), "\(result.stderr)")
        }
    }
}
