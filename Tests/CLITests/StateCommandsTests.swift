import CAPICore
import ConnectorRuntime
import Foundation
import Logging
import TestSupport
import Testing

@Suite("state and read commands")
struct StateCommandsTests {
    let url = "sqlite:" + TemporaryPaths.url("cli-state").appendingPathComponent("state.sqlite").path

    /// `url`'s store created and migrated, as `serve` would leave it.
    func created() async throws -> String {
        try await withStateRegistry(.sqlite(path: String(url.dropFirst("sqlite:".count))), logger: Logger(label: "test")) { _ in }
        return url
    }

    @Test("state show prints the registry as JSON on a fresh store")
    func show() async throws {
        let url = try await created()
        let result = try await CLIRunner.run(["state", "show", "--state", url])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(document["outbox_depth"] as? Int == 0)
        #expect(document["dead_letters"] as? Int == 0)
        #expect(document["schema_version"] as? Int == 12)
        #expect(document["cursors"] as? [Any] != nil && document["recent_runs"] as? [Any] != nil)
        #expect((document["alarms"] as? [Any])?.isEmpty == true)
    }

    @Test("commands that inspect a store refuse a SQLite path with no store (exit 2, naming it) and create nothing")
    func noStore() async throws {
        let path = String(url.dropFirst("sqlite:".count))
        let commands: [[String]] = [
            ["state", "show"], ["read", "delivered_events"], ["dlq", "list"], ["schema", "alarms"], ["state", "reset", "delivery_statuses", "--yes"],
            ["reconcile", "--since", "-7d", "--until", "0d"],
        ]
        for command in commands {
            let result = try await CLIRunner.run(command + ["--state", url])
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("no state store at \(path)"), "\(command): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: path), "\(command) created the store")
        }
    }

    @Test("a file that is no SQLite database is one clear error and exit 2, never a crash (its connection is closed first)")
    func notADatabase() async throws {
        let path = String(url.dropFirst("sqlite:".count))
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(String(repeating: "root:x:0:0:root:/root:/bin/bash\n", count: 100).utf8).write(to: URL(fileURLWithPath: path))
        for command in [["state", "show"], ["dlq", "list"]] {
            let result = try await CLIRunner.run(command + ["--state", url])
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("file is not a database"), "\(command): \(result.stderr)")
        }
    }

    @Test("a SQLite URL naming a folder is refused saying so, with the file to name instead")
    func storeIsAFolder() async throws {
        let folder = try TemporaryPaths.folder("store-folder").path
        for command in [["state", "show"], ["dlq", "list"]] {
            let result = try await CLIRunner.run(command + ["--state", "sqlite:" + folder])
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(
                result.stderr.contains("sqlite:\(folder) is a folder: name the store's file, such as sqlite:\(folder)/state.sqlite"),
                "\(result.stderr)"
            )
        }
    }

    @Test("read prints nothing for an empty stream and refuses unknown streams")
    func read() async throws {
        let url = try await created()
        let empty = try await CLIRunner.run(["read", "delivered_events", "--state", url, "--since", "2026-11-01"])
        #expect(empty.status == 0 && empty.stdout.isEmpty, "\(empty.stderr)")
        let unknown = try await CLIRunner.run(["read", "clicks", "--state", url])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("unknown stream `clicks`"))
    }

    @Test("read --since takes days or hours before now (-Nd, -Nh), as reconcile takes relative days")
    func readSinceRelative() async throws {
        // One event received two hours ago.
        let received = UnixMillis(WallClock.system.now().rawValue - 2 * 3_600_000)
        let path = String(url.dropFirst("sqlite:".count))
        try await withStateRegistry(.sqlite(path: path), logger: Logger(label: "test")) { registry in
            let time = received.seconds.rawValue
            _ = try await registry.commitIntake([
                IntakeItem(
                    key: EventKey(pixelID: "555000111", eventID: "since-1", eventTime: UnixSeconds(time)),
                    contentHash: SHA256Hex.digest("since-1"),
                    payload: #"{"event_name":"Lead","event_id":"since-1"}"#,
                    answer: "{}",
                    deliveredRecord: #"{"event_name":"Lead","event_id":"since-1"}"#,
                    receivedAt: received
                )
            ])
        }
        for (since, expected) in [("-3h", 1), ("-1h", 0), ("-1d", 1), ("-0d", 0)] {
            let result = try await CLIRunner.run(["read", "delivered_events", "--state", url, "--since", since])
            #expect(result.status == 0, "\(since): \(result.stderr)")
            #expect(result.stdout.split(separator: "\n").count == expected, "\(since): \(result.stdout)")
        }
        for bad in ["-x", "-5", "yesterday", "-3w"] {
            let refused = try await CLIRunner.run(["read", "delivered_events", "--state", url, "--since", bad])
            #expect(refused.status == 64 && refused.stderr.contains("-Nd / -Nh"), "\(bad): \(refused.stderr)")
        }
    }

    @Test("prune counts without --yes and deletes with it; delivered_events keeps events the ledger may still need")
    func prune() async throws {
        let now = WallClock.system.now()
        let path = String(url.dropFirst("sqlite:".count))
        // Two forwarded events received 500 days ago: one with its event time then, one (a clock
        // far off) with an event time of yesterday, which the ledger keeps.
        try await withStateRegistry(.sqlite(path: path), logger: Logger(label: "test")) { registry in
            let received = UnixMillis(now.rawValue - 500 * 86_400_000)
            let items = [("ancient", received.seconds), ("yesterday", UnixSeconds(now.seconds.rawValue - 86_400))].map { id, time in
                IntakeItem(
                    key: EventKey(pixelID: "555000111", eventID: id, eventTime: time),
                    contentHash: SHA256Hex.digest(id),
                    payload: #"{"event_name":"Lead"}"#,
                    answer: "{}",
                    deliveredRecord: #"{"event_name":"Lead","event_id":"\#(id)"}"#,
                    receivedAt: received
                )
            }
            _ = try await registry.commitIntake(items)
            let claimed = try await registry.claimOutbox(limit: 10, owner: "t", lease: .seconds(60), now: now, pixelID: nil)
            try await registry.markForwarded(claimed, fbtraceID: "T", now: now)
        }
        func lines(_ output: String) -> [[String: Any]] {
            output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        let counted = try await CLIRunner.run(["state", "prune", "--older-than", "-400d", "--state", url])
        #expect(counted.status == 0, "\(counted.stderr)")
        #expect(lines(counted.stdout).map { $0["stream"] as? String } == StateStream.allCases.map(\.rawValue))
        #expect(lines(counted.stdout).first?["would_delete"] as? Int == 1)
        #expect(counted.stderr.contains("nothing deleted: add --yes"))
        let deleted = try await CLIRunner.run(["state", "prune", "--older-than", "-400d", "--stream", "delivered_events", "--yes", "--state", url])
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(lines(deleted.stdout).map { $0["deleted"] as? Int } == [1])
        let left = try await CLIRunner.run(["read", "delivered_events", "--state", url])
        #expect(left.stdout.contains("yesterday") && !left.stdout.contains("ancient"), "\(left.stdout)")
        for (arguments, message) in [
            (["--older-than", "1d"], "--older-than must be"), (["--older-than", "2999-01-01"], "must not be in the future"),
            (["--older-than", "-1d", "--stream", "clicks"], "unknown stream `clicks`"),
        ] {
            let refused = try await CLIRunner.run(["state", "prune"] + arguments + ["--state", url])
            #expect(refused.status == 64 && refused.stderr.contains(message), "\(arguments): \(refused.stderr)")
        }
    }

    /// `count` forwarded events received 500 days ago, each with a record of about 3 KB, so that
    /// pruning them frees thousands of pages.
    func seedOldForwardedEvents(_ path: String, count: Int, prefix: String) async throws {
        let now = WallClock.system.now()
        try await withStateRegistry(.sqlite(path: path), logger: Logger(label: "test")) { registry in
            let received = UnixMillis(now.rawValue - 500 * 86_400_000)
            let filler = String(repeating: "x", count: 3_000)
            let items = (0..<count).map { index in
                IntakeItem(
                    key: EventKey(pixelID: "555000111", eventID: "\(prefix)-\(index)", eventTime: received.seconds),
                    contentHash: SHA256Hex.digest("\(prefix)-\(index)"),
                    payload: #"{"event_name":"Lead"}"#,
                    answer: "{}",
                    deliveredRecord: #"{"event_name":"Lead","filler":"\#(filler)"}"#,
                    receivedAt: received
                )
            }
            for chunk in stride(from: 0, to: items.count, by: 500) {
                _ = try await registry.commitIntake(Array(items[chunk..<min(chunk + 500, items.count)]))
            }
            let claimed = try await registry.claimOutbox(limit: count, owner: "t", lease: .seconds(60), now: now, pixelID: nil)
            try await registry.markForwarded(claimed, fbtraceID: "T", now: now)
        }
    }

    /// The database file and its write-ahead log, in bytes.
    func storeBytes(_ path: String) -> Int {
        [path, path + "-wal"].reduce(0) { total, file in
            total + ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0)
        }
    }

    @Test("prune gives the pages it freed back to the file system on a SQLite store")
    func pruneGivesSpaceBack() async throws {
        let path = String(url.dropFirst("sqlite:".count))
        try await seedOldForwardedEvents(path, count: 3_000, prefix: "old")
        let before = storeBytes(path)
        #expect(before > 9_000_000, "\(before)")
        let shown = try await Self.storage(url, tables: true)
        let largest = try #require(shown.tables?.first, "--tables measures each table")
        #expect(largest["table"] as? String == "delivered_events", "the largest table comes first: \(String(describing: shown.tables))")
        #expect((largest["bytes"] as? Int ?? 0) > before * 8 / 10 && shown.bytes >= before * 9 / 10, "\(shown)")
        #expect(shown.incrementalVacuum == true && shown.hint == nil)
        #expect(try await Self.storage(url).tables == nil, "without --tables, no table is measured")
        let pruned = try await CLIRunner.run(["state", "prune", "--older-than", "-400d", "--stream", "delivered_events", "--yes", "--state", url])
        #expect(pruned.status == 0 && pruned.stdout.contains(#""deleted":3000"#), "\(pruned.stdout) \(pruned.stderr)")
        #expect(pruned.stderr.contains("the store's file and its write-ahead log: ") && !pruned.stderr.contains("state vacuum"), "\(pruned.stderr)")
        let after = storeBytes(path)
        #expect(after < before / 10, "\(before) → \(after)")
        // Counting deletes nothing, so it gives nothing back and says nothing about the file.
        let counted = try await CLIRunner.run(["state", "prune", "--older-than", "-400d", "--state", url])
        #expect(counted.status == 0 && !counted.stderr.contains("the store's file"), "\(counted.stderr)")

        // Pages left free, as by a prune stopped while giving them back: the next prune gives them
        // back even when it has nothing to delete.
        try await seedOldForwardedEvents(path, count: 3_000, prefix: "again")
        try await TestStore.rawSQL(.sqlite(path: path), schema: nil, ["DELETE FROM delivered_events"])
        let left = storeBytes(path)
        let resumed = try await CLIRunner.run(["state", "prune", "--older-than", "-400d", "--yes", "--state", url])
        #expect(resumed.status == 0 && resumed.stdout.contains(#""deleted":0"#) && !resumed.stdout.contains(#""deleted":3000"#), "\(resumed.stdout)")
        #expect(storeBytes(path) < left / 10, "\(left) → \(storeBytes(path))")
    }

    /// `state show`'s storage object, and what it said on standard error.
    static func storage(
        _ url: String,
        tables: Bool = false
    ) async throws -> (
        bytes: Int, freeBytes: Int, incrementalVacuum: Bool?, tables: [[String: Any]]?, hint: String?
    ) {
        let show = try await CLIRunner.run(["state", "show", "--state", url] + (tables ? ["--tables"] : []))
        #expect(show.status == 0, "\(show.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        let storage = try #require(document["storage"] as? [String: Any])
        return (
            storage["bytes"] as? Int ?? -1, storage["free_bytes"] as? Int ?? -1, storage["incremental_vacuum"] as? Bool,
            storage["tables"] as? [[String: Any]], show.stderr.isEmpty ? nil : show.stderr
        )
    }

    @Test("a SQLite store made without incremental vacuum keeps its size on prune, says so, and `state vacuum` rewrites it once")
    func vacuumAnOlderStore() async throws {
        let path = String(url.dropFirst("sqlite:".count))
        try await seedOldForwardedEvents(path, count: 3_000, prefix: "first")
        // As a store created before stores had incremental vacuum: the mode a file has without it.
        try await TestStore.rawSQL(.sqlite(path: path), schema: nil, ["PRAGMA auto_vacuum=NONE", "VACUUM"])
        let full = storeBytes(path)
        let pruned = try await CLIRunner.run(["state", "prune", "--older-than", "-400d", "--stream", "delivered_events", "--yes", "--state", url])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(
            pruned.stderr.contains("stay free inside it for new rows") && pruned.stderr.contains("`capi-connector state vacuum`"),
            "\(pruned.stderr)"
        )
        #expect(storeBytes(path) > full * 9 / 10, "\(full) → \(storeBytes(path))")
        // state show says how much is free inside, and what gives it back.
        let kept = try await Self.storage(url)
        #expect(kept.incrementalVacuum == false && kept.freeBytes > full / 2, "\(kept)")
        #expect(kept.hint?.contains("`capi-connector state vacuum` gives them back") == true, "\(kept)")

        let vacuumed = try await CLIRunner.run(["state", "vacuum", "--state", url])
        #expect(vacuumed.status == 0, "\(vacuumed.stderr)")
        let line = try #require(try JSONSerialization.jsonObject(with: Data(vacuumed.stdout.utf8)) as? [String: Any])
        let (bytesBefore, bytesAfter) = (try #require(line["bytes_before"] as? Int), try #require(line["bytes_after"] as? Int))
        #expect(line["incremental_vacuum"] as? Bool == true && bytesAfter < bytesBefore / 10, "\(vacuumed.stdout)")
        #expect(storeBytes(path) == bytesAfter)
        let rewritten = try await Self.storage(url)
        #expect(rewritten.incrementalVacuum == true && rewritten.freeBytes < full / 10 && rewritten.hint == nil, "\(rewritten)")

        // From then on a prune gives space back by itself.
        try await seedOldForwardedEvents(path, count: 3_000, prefix: "second")
        let grown = storeBytes(path)
        let again = try await CLIRunner.run(["state", "prune", "--older-than", "-400d", "--stream", "delivered_events", "--yes", "--state", url])
        #expect(again.status == 0 && !again.stderr.contains("state vacuum"), "\(again.stderr)")
        #expect(storeBytes(path) < grown / 10, "\(grown) → \(storeBytes(path))")

        let postgres = try await CLIRunner.run(["state", "vacuum", "--state", "postgres://capi@127.0.0.1:1/capi"])
        #expect(postgres.status == 2 && postgres.stderr.contains("state vacuum is for SQLite stores"), "\(postgres.stderr)")
    }

    @Test("reconcile without --until runs through today, as a scheduled `--since -1d` expects")
    func reconcileThroughToday() async throws {
        let url = try await created()
        let report = try await CLIRunner.run(["reconcile", "--since", "-1d", "--format", "json", "--state", url])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stderr.contains("nothing to report for that period"), "\(report.stderr)")
        let later = try await CLIRunner.run(["reconcile", "--since", "2d", "--state", url])
        #expect(later.status == 64 && later.stderr.contains("--since must be before --until"), "\(later.stderr)")
    }

    @Test("reconcile --output - is standard output, as for most Unix tools, not a file named -; a file holds what standard output gets")
    func reconcileOutputDash() async throws {
        let url = try await created()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("capi-dash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for format in ["csv", "json"] {
            let plain = try await CLIRunner.run(["reconcile", "--since", "-1d", "--format", format, "--state", url], directory: folder.path)
            let dash = try await CLIRunner.run(
                ["reconcile", "--since", "-1d", "--format", format, "--state", url, "--output", "-"],
                directory: folder.path
            )
            #expect(dash.status == 0 && !dash.stdout.isEmpty && dash.stdout == plain.stdout, "\(dash.stderr)")
            #expect(!dash.stderr.contains("wrote"))
            // A file holds what standard output gets, its last line ended as a text file's is
            // (a CSV written to a file ended without one, and `wc -l` counted a line short).
            let file = folder.appendingPathComponent("report.\(format)").path
            let written = try await CLIRunner.run(["reconcile", "--since", "-1d", "--format", format, "--state", url, "--output", file])
            #expect(written.status == 0 && written.stderr.contains("wrote \(file)"), "\(written.stderr)")
            #expect(try String(contentsOfFile: file, encoding: .utf8) == plain.stdout)
            #expect(plain.stdout.hasSuffix("\n"))
        }
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("-").path))
    }

    @Test("reconcile says how an account in a zone a part of an hour off UTC compares Meta's hourly counts")
    func reconcilePartHourZone() async throws {
        let url = try await created()
        let today = AccountTimeZone(identifier: "Asia/Kolkata")!.day(of: WallClock.system.seconds())
        let nowMillis = WallClock.system.now()
        try await withStateRegistry(.sqlite(path: String(url.dropFirst("sqlite:".count))), logger: Logger(label: "test")) { registry in
            let record = AdInsightsRecord(
                accountID: "77",
                level: "account",
                levelID: "77",
                day: today.adding(days: -1),
                currency: "INR",
                timeZone: "Asia/Kolkata",
                pixels: ["111"],
                spend: 1200,
                impressions: 10,
                clicks: 1,
                conversions: []
            )
            try await registry.commitInsightsWindow(
                [record],
                account: "77",
                level: "account",
                days: today.adding(days: -1)...today.adding(days: -1),
                cursor: CursorKey(connector: "conn::x", stream: "ad_insights", partition: "act_77"),
                position: UnixSeconds(nowMillis.rawValue / 1000 - 60),
                run: RunRecord(runID: "run-kolkata", mode: .pull, startedAt: nowMillis),
                now: nowMillis
            )
        }
        let report = try await CLIRunner.run(["reconcile", "--since", "-1d", "--format", "json", "--state", url])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(
            report.stderr.contains("account 77 keeps time in Asia/Kolkata, a part of an hour off UTC")
                && report.stderr.contains("forwarded_in_received_hours"),
            "\(report.stderr)"
        )
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [[String: Any]])
        #expect(rows.first?["time_zone"] as? String == "Asia/Kolkata" && rows.first?["spend"] as? Double == 1200, "\(report.stdout)")
    }

    @Test("reset needs --yes")
    func reset() async throws {
        let url = try await created()
        let refused = try await CLIRunner.run(["state", "reset", "delivery_statuses", "--state", url])
        #expect(refused.status != 0 && refused.stderr.contains("--yes"))
        let done = try await CLIRunner.run(["state", "reset", "delivery_statuses", "--partition", "123", "--yes", "--state", url])
        #expect(done.status == 0 && done.stderr.contains("cleared 0 cursors"))
    }

    @Test("a bad or unreachable state URL is a clear error, never a crash, and hides the password")
    func badURLs() async throws {
        let malformed = try await CLIRunner.run(["state", "show", "--state", "mysql://db/x"])
        #expect(malformed.status != 0 && malformed.stderr.contains("must start with postgres:// or sqlite:"))
        let unreachable = try await CLIRunner.run(["state", "show", "--state", "postgres://app:hunter2@127.0.0.1:9/capi"])
        #expect(unreachable.status == 2)
        #expect(unreachable.stderr.contains("state unavailable error"))
        #expect(!unreachable.stderr.contains("hunter2"))
    }
}
