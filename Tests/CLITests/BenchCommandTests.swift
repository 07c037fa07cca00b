import CAPICore
import ConnectorRuntime
import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

/// `bench ingest --target` drives a sidecar that runs as its own process and reports that
/// process's memory, so the sidecar's figure is not mixed with the load generator's.
@Suite("bench as a process")
struct BenchCommandTests {
    /// `serve --sandbox` on a fresh SQLite store, as a process of its own.
    static func startSidecar() async throws -> (Process, Int) {
        let folder = TemporaryPaths.url("bench")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try await CLIRunner.startListening(
            ["serve", "--sandbox", "--state", "sqlite:" + folder.appendingPathComponent("state.sqlite").path],
            environment: ServeProcessTests.environment()
        )
    }

    /// `bench SUBCOMMAND` on a SQLite store of its own; the result and the store's path.
    static func runOnSQLite(_ subcommand: String, _ arguments: [String]) async throws -> (CLIRunner.Result, String) {
        let folder = TemporaryPaths.url("bench")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("state.sqlite").path
        let result = try await CLIRunner.run(
            ["bench", subcommand, "--state", "sqlite:" + path] + arguments,
            environment: ServeProcessTests.environment()
        )
        return (result, path)
    }

    @Test("bench ingest --target --target-pid reports the sidecar's own resident memory")
    func sidecarMemory() async throws {
        let (serve, port) = try await Self.startSidecar()
        defer {
            serve.terminate()
            serve.waitUntilExit()
        }
        let result = try await CLIRunner.run(
            [
                "bench", "ingest", "--target", "http://127.0.0.1:\(port)", "--target-pid", "\(serve.processIdentifier)",
                "--events", "200", "--rate", "100", "--batch-events", "2000", "--concurrency", "8",
            ],
            environment: ServeProcessTests.environment()
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("(200/200 accepted)"), "\(result.stdout)")
        #expect(result.stdout.contains("(2000/2000 accepted)") && !result.stdout.contains("refused"), "\(result.stdout)")
        let line = try #require(result.stdout.split(separator: "\n").first { $0.contains("sidecar resident memory") })
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        #expect(numbers.count == 2 && numbers[0] > 5 && numbers[0] <= numbers[1], "\(line)")
    }

    @Test("bench ingest --batch-events 0 says the batch stage was skipped, never a rate of 0/s")
    func batchStageSkipped() async throws {
        let (serve, port) = try await Self.startSidecar()
        defer {
            serve.terminate()
            serve.waitUntilExit()
        }
        let result = try await CLIRunner.run(
            [
                "bench", "ingest", "--target", "http://127.0.0.1:\(port)", "--events", "20", "--rate", "10", "--batch-events", "0", "--concurrency",
                "4",
            ],
            environment: ServeProcessTests.environment()
        )
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").first { $0.contains("batch endpoint") }, "\(result.stdout)")
        #expect(line.hasSuffix("skipped (--batch-events 0)") && !result.stdout.contains("0/0 accepted"), "\(result.stdout)")
    }

    @Test("bench ingest against a sidecar that refuses: each stage shows its first refusal, and the run exits 1")
    func refusedLoad() async throws {
        let (serve, port) = try await Self.startSidecar()
        defer {
            serve.terminate()
            serve.waitUntilExit()
        }
        // The load generator signs for a pixel the sidecar does not serve: 50 + 20 x 5 s + 1,500 events.
        var environment = ServeProcessTests.environment()
        environment["META_PIXEL_ID"] = "999000111"
        let result = try await CLIRunner.run(
            [
                "bench", "ingest", "--target", "http://127.0.0.1:\(port)", "--events", "50", "--rate", "20", "--batch-events", "1500",
                "--concurrency", "4",
            ],
            environment: environment
        )
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("(0/50 accepted)") && result.stdout.contains("(0/1500 accepted)"), "\(result.stdout)")
        let refusals = result.stdout.split(separator: "\n").filter { $0.hasPrefix("    refused ") }
        #expect(refusals.count == 3, "\(result.stdout)")
        #expect(refusals.allSatisfy { $0.contains(#""field":"pixel_id""#) }, "\(result.stdout)")
        #expect(refusals.last?.contains("1500 events; the first: 202 ") == true, "\(result.stdout)")
        #expect(result.stderr.contains("1650 events were refused"), "\(result.stderr)")
        // What to check follows what refused them: the pixel (400), not the secret or clock.
        #expect(result.stderr.contains("check the events against the sidecar's manifest, its pixel above all"), "\(result.stderr)")
        #expect(!result.stderr.contains("signing secret"), "\(result.stderr)")
    }

    @Test("bench ingest in process: every row accepted, the backlog forwarded, and a quiet shutdown")
    func inProcess() async throws {
        let (result, _) = try await Self.runOnSQLite("ingest", ["--events", "200", "--rate", "100", "--batch-events", "2000", "--concurrency", "8"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("(200/200 accepted)"), "\(result.stdout)")
        #expect(result.stdout.contains("(500/500 accepted)"), "\(result.stdout)")
        #expect(result.stdout.contains("(2000/2000 accepted)"), "\(result.stdout)")
        #expect(result.stdout.contains("(2700 events, 2700 distinct received)"), "\(result.stdout)")
        // SQLite has no write-ahead log position to read.
        #expect(!result.stdout.contains("WAL written"), "\(result.stdout)")
        let whileForwarding = try #require(result.stdout.split(separator: "\n").first { $0.contains("at 100 events/s, forwarder running") })
        #expect(whileForwarding.contains("(500/500 accepted)"), "\(whileForwarding)")
        // The end is a graceful shutdown: cancelling the server used to log an error here.
        let loud = result.stderr.split(separator: "\n").filter { $0.contains(" error ") || $0.contains(" critical ") }
        #expect(loud.isEmpty, "\(loud)")
    }

    @Test("bench ingest --event-bytes sends large orders, and batch requests small enough for the body limit")
    func largeEvents() async throws {
        let (result, _) = try await Self.runOnSQLite(
            "ingest",
            ["--events", "20", "--rate", "20", "--batch-events", "1200", "--concurrency", "4", "--event-bytes", "8000"]
        )
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        let events = try #require(lines.first { $0.contains("bytes each as sent") })
        let size = try #require(events.split(separator: " ").first { Int($0) != nil }.flatMap { Int($0) })
        #expect((8_000..<8_100).contains(size), "\(events)")
        // 1,000 events of 8 KB would pass the manifest's 5 MiB: the requests carry fewer, and every
        // event is accepted.
        let batch = try #require(lines.first { $0.contains("batch endpoint") })
        let perRequest = try #require(batch.split(separator: "(").dropFirst().first?.split(separator: " ").first.flatMap { Int($0) })
        #expect(perRequest < 1_000 && perRequest * (size + 1) <= 5_242_880, "\(batch)")
        #expect(batch.contains("(1200/1200 accepted)"), "\(batch)")
        #expect(result.stdout.contains("(1320 events, 1320 distinct received)"), "\(result.stdout)")
    }

    /// The cluster's WAL position is shared by every database in it: the runs that read it take turns,
    /// so one run's prepared WAL is never counted in the other's stages.
    @Suite("bench ingest on PostgreSQL", .serialized)
    struct OnPostgreSQL {
        @Test(
            "bench ingest on PostgreSQL prints the WAL written per event and the WAL files created under each stage",
            .enabled(if: TestPostgres.enabled)
        )
        func writeAheadLogPerEvent() async throws {
            let (_, stateURL) = try await TestPostgres.createDatabase(prefix: "bench")
            let result = try await CLIRunner.run(
                [
                    "bench", "ingest", "--state", stateURL,
                    "--events", "200", "--rate", "100", "--batch-events", "2000", "--concurrency", "8",
                ],
                environment: ServeProcessTests.environment()
            )
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            /// Each line `label` with its number (before any unit), and the stage line it sits under.
            func figures(_ label: String) -> [(stage: Substring, value: Int)] {
                lines.indices.filter { lines[$0].hasPrefix("    \(label) ") }.compactMap { index in
                    let value = lines[index].dropFirst(4 + label.count).split(separator: " ").first.flatMap { Int($0) }
                    let stage = lines[..<index].last { !$0.hasPrefix("    ") }
                    return value.flatMap { value in stage.map { ($0, value) } }
                }
            }
            // Four stages, each writing rows (an outbox row, a `delivered_events` row and their index
            // entries are hundreds of bytes), none writing megabytes per event.
            let perEvent = figures("WAL written per event")
            #expect(perEvent.count == 4, "\(result.stdout)")
            #expect(perEvent.allSatisfy { $0.value > 100 && $0.value < 100_000 }, "\(result.stdout)")
            // Under the stage each measures: intake first, intake and forwarding together last.
            #expect(perEvent.first?.stage.hasPrefix("  at 100 events/s ") == true, "\(result.stdout)")
            #expect(perEvent.last?.stage.hasPrefix("  at 100 events/s, forwarder running ") == true, "\(result.stdout)")
            // The test cluster's user may list the WAL directory: a count under each stage, of files
            // added (a run this small adds a few at most), not of the files there are.
            let created = figures("WAL files created")
            #expect(created.map(\.stage) == perEvent.map(\.stage), "\(result.stdout)")
            let files = try await TestPostgres.withClient { client in
                try await client.query("SELECT COUNT(*)::int8 FROM pg_ls_waldir()").collect().first?.decode(Int.self)
            }
            let listed = try #require(files)
            #expect(created.allSatisfy { $0.value >= 0 } && created.map(\.value).reduce(0, +) < listed, "\(result.stdout)")
        }

        @Test(
            "bench ingest --prepare-wal writes and checkpoints WAL before the first stage, and leaves no table behind",
            .enabled(if: TestPostgres.enabled)
        )
        func preparedWriteAheadLog() async throws {
            let (database, stateURL) = try await TestPostgres.createDatabase(prefix: "bench")
            let position = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::int8"
            let before = try #require(
                try await TestPostgres.withClient { try await $0.query(PostgresQuery(unsafeSQL: position)).collect().first?.decode(Int.self) }
            )
            let result = try await CLIRunner.run(
                [
                    "bench", "ingest", "--prepare-wal", "--state", stateURL,
                    "--events", "100", "--rate", "50", "--batch-events", "1000", "--concurrency", "8",
                ],
                environment: ServeProcessTests.environment()
            )
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            // Before the first stage: a run this small prepares the least, 64 MB.
            let prepared = try #require(lines.firstIndex { $0.hasPrefix("  WAL prepared ") }, "\(result.stdout)")
            let firstStage = try #require(lines.firstIndex { $0.hasPrefix("  signed single events ") }, "\(result.stdout)")
            #expect(prepared < firstStage)
            #expect(lines[prepared].contains(" 64 MB written, dropped and checkpointed in "), "\(lines[prepared])")
            // The server really wrote it: the WAL moved by at least that much during the run.
            let after = try #require(
                try await TestPostgres.withClient { try await $0.query(PostgresQuery(unsafeSQL: position)).collect().first?.decode(Int.self) }
            )
            #expect(after - before >= 64_000_000, "WAL moved by \(after - before) bytes")
            let leftovers = try await TestPostgres.withClient(database: database) { client in
                try await client.query("SELECT COUNT(*)::int8 FROM pg_class WHERE relname = 'capi_bench_wal_warmup'").collect().first?.decode(
                    Int.self
                )
            }
            #expect(leftovers == 0)
        }

        @Test("bench state --prepare-wal prepares first, then commits every event once", .enabled(if: TestPostgres.enabled))
        func statePreparedWriteAheadLog() async throws {
            let (_, stateURL) = try await TestPostgres.createDatabase(prefix: "bench")
            let result = try await CLIRunner.run(
                [
                    "bench", "state", "--prepare-wal", "--state", stateURL,
                    "--events", "300",
                ],
                environment: ServeProcessTests.environment()
            )
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.dropFirst().first?.hasPrefix("  WAL prepared ") == true, "\(result.stdout)")
            #expect(lines.dropFirst().first?.contains(" 64 MB written, dropped and checkpointed in ") == true, "\(result.stdout)")
            // 300 single commits, 300 in batches of 500, 300 from the writers, and group commit with
            // one and with two commits in flight, twice each.
            let depth = try #require(lines.first { $0.contains("outbox depth after") })
            #expect(depth.hasSuffix(" 2100"), "\(depth)")
        }
    }

    @Test("bench normalize prepares every sample event, with and without writing its payload text, and times SHA-256 alone and in pairs")
    func normalizeRows() async throws {
        let result = try await CLIRunner.run(["bench", "normalize", "--seconds", "0.2"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        let counts = lines.filter { $0.contains("rejected)") }
        #expect(counts.count == 2 && counts.allSatisfy { $0.hasSuffix("(0 rejected)") }, "\(result.stdout)")
        for row in ["events/s", "events/s with the payload text written"] {
            let line = try #require(lines.first { $0.hasPrefix("  \(row) ") }, "\(result.stdout)")
            let rate = try #require(Int(line.split(separator: " ").last?.dropLast(2) ?? ""), "\(line)")
            #expect(rate > 0)
        }
        // Both hashes are timed; which path the first took is said, not assumed.
        for row in ["ns/SHA-256 of an email, one call", "ns/SHA-256 of an email, swift-crypto", "ns/SHA-256 of an email, two at a time"] {
            let line = try #require(lines.first { $0.hasPrefix("  \(row) ") }, "\(result.stdout)")
            let figure = line.dropFirst(row.count + 2).split(separator: " ").first.flatMap { Int($0) }
            #expect((figure ?? 0) > 0, "\(line)")
        }
        #expect(lines.contains { $0.hasSuffix("(CPU extensions)") || $0.hasSuffix("(no CPU extensions: swift-crypto)") }, "\(result.stdout)")
    }

    @Test("bench state commits every event once and compares group commit only where commits can overlap")
    func stateOnSQLite() async throws {
        let (result, _) = try await Self.runOnSQLite("state", ["--events", "300"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        // SQLite has one writer: group commit runs one commit at a time, twice, and never two.
        #expect(lines.filter { $0.contains("group commit, 64 callers, 1 in flight") }.count == 2, "\(result.stdout)")
        #expect(!result.stdout.contains("2 in flight"), "\(result.stdout)")
        // 300 single commits, 300 in batches of 500, 300 from the writers, 2 x 300 through group commit.
        let depth = try #require(lines.first { $0.contains("outbox depth after") })
        #expect(depth.hasSuffix(" 1500"), "\(depth)")
    }

    @Test("bench state --payload-bytes stores every event with a payload of at least that size, still valid JSON")
    func statePayloadBytes() async throws {
        let (result, path) = try await Self.runOnSQLite("state", ["--events", "20", "--payload-bytes", "5000"])
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").first { $0.contains("payload") })
        let reported = try #require(line.split(separator: " ").dropLast(3).last.flatMap { Int($0) })
        // Past the size asked by less than one more cart item (about 50 bytes) and the event id.
        #expect((5_000..<5_080).contains(reported), "\(line)")
        try await withStateRegistry(.sqlite(path: path), logger: Logger(label: "test")) { registry in
            let entries = try await registry.claimOutbox(limit: 1_000, owner: "t", lease: .seconds(30), now: WallClock.system.now(), pixelID: nil)
            // 20 single commits, 20 in batches, 20 from the writers, 2 x 20 through group commit.
            #expect(entries.count == 100)
            for entry in entries {
                #expect((5_000..<5_080).contains(entry.payload.utf8.count))
                let contents = try JSONValue(parsing: Array(entry.payload.utf8))["custom_data"]?["contents"]?.arrayValue
                #expect((contents?.count ?? 0) > 80)
            }
        }
    }

    @Test(
        "arguments a benchmark cannot run with are refused naming the option and why, never a crash",
        arguments: [
            (["ingest", "--rate", "0"], "--rate must be at least 1"),
            (["ingest", "--events", "0"], "--events must be at least 1"),
            (["ingest", "--concurrency", "0"], "--concurrency must be at least 1"),
            (["ingest", "--batch-events=-1"], "--batch-events must be 0 or more"),
            (["ingest", "--event-bytes", "0"], "--event-bytes must be 1 to 1000000"),
            (["state", "--events", "0"], "--events must be at least 1"),
            (["state", "--payload-bytes", "0"], "--payload-bytes must be 1 to 1000000"),
            (["normalize", "--seconds", "0"], "--seconds must be more than 0"),
            // A negative number after a space is the option's value, not an unknown flag.
            (["ingest", "--rate", "-5"], "--rate must be at least 1"),
            (["ingest", "--batch-events", "-1"], "--batch-events must be 0 or more"),
            (["normalize", "--seconds", "-1"], "--seconds must be more than 0"),
            (["ingest", "--target", "http://127.0.0.1:9", "--target-pid", "-1"], "--target-pid must be a process id"),
            // --prepare-wal needs a PostgreSQL store of the run's own.
            (["ingest", "--prepare-wal", "--state", "sqlite:unused.sqlite"], "--prepare-wal needs a PostgreSQL state"),
            (["ingest", "--prepare-wal", "--target", "http://127.0.0.1:9"], "--prepare-wal prepares this run's own PostgreSQL state"),
            (["state", "--prepare-wal", "--state", "sqlite:unused.sqlite"], "--prepare-wal needs a PostgreSQL state"),
        ]
    )
    func refusesUnusableArguments(arguments: [String], message: String) async throws {
        let result = try await CLIRunner.run(["bench"] + arguments, environment: ServeProcessTests.environment())
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test("--target-pid without --target is refused with a reason")
    func pidNeedsTarget() async throws {
        let result = try await CLIRunner.run(["bench", "ingest", "--target-pid", "1"], environment: ServeProcessTests.environment())
        #expect(result.status == 64)
        #expect(result.stderr.contains("--target-pid needs --target"))
    }
}
