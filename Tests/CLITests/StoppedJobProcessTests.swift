import CAPICore
import ConnectorRuntime
import Foundation
import Hummingbird
import PostgresNIO
import Synchronization
import TestSupport
import Testing

/// The scheduled jobs as a container platform stops them: SIGTERM while they work. What is in
/// flight is finished and recorded, the run says it was stopped, and the next run goes on.
@Suite("scheduled jobs stopped by SIGTERM", .serialized)
struct StoppedJobProcessTests {
    @Test("poll --once on SIGTERM commits the window in flight, records the run as interrupted and exits 1; the next poll finishes")
    func pollStopped() async throws {
        let graph = SlowGraph(delay: .milliseconds(150))
        try await withLoopbackServer(graph.router(), label: "slow-graph") { port in
            let folder = try TemporaryPaths.folder("poll-stop")
            let state = "sqlite:" + folder.appendingPathComponent("state.sqlite").path
            let log = folder.appendingPathComponent("poll.log").path
            let environment = ["META_PIXEL_ID": "555000111", "CAPI_GRAPH_URL": "http://127.0.0.1:\(port)", "CAPI_LOG_LEVEL": "info"]
            let process = try CLIRunner.start(["poll", "--once", "--state", state], environment: environment, logTo: log)
            try await process.stopped {
                try await eventually("the first window is committed") {
                    (try? String(contentsOfFile: log, encoding: .utf8))?.contains("\"message\":\"window committed\"") == true
                }
            }
            #expect(process.terminationStatus == 1)
            #expect(process.terminationReason == .exit, "it exited by itself rather than being killed by the signal")
            let lines = try String(contentsOfFile: log, encoding: .utf8)
            #expect(lines.contains("shutdown asked for: finishing the work in flight, then stopping"), "\(lines)")
            #expect(lines.contains("capi-connector: stopped by a signal; the windows committed so far are kept"), "\(lines)")
            let committed = lines.components(separatedBy: "\"message\":\"window committed\"").count - 1
            let windows = try #require(Self.windowCount(lines))
            #expect(committed >= 1 && committed < windows, "\(committed) of \(windows) windows")

            let stopped = try await Self.runs(state: state)
            #expect(stopped.first?["status"] as? String == "interrupted" && stopped.first?["ended_at"] != nil, "\(stopped)")

            let next = try await CLIRunner.run(["poll", "--once", "--state", state], environment: environment)
            #expect(next.status == 0, "\(next.stderr)")
            let runs = try await Self.runs(state: state)
            #expect(runs.map { $0["status"] as? String } == ["ok", "interrupted"], "\(runs)")
        }
    }

    @Test("poll --once whose window is still being read after --shutdown-timeout cancels it, says so and exits 1; the next poll reads it")
    func pollCancelled() async throws {
        try await Self.withStatsHeld { graph, state, log, environment in
            let process = try CLIRunner.start(
                ["poll", "--once", "--state", state, "--shutdown-timeout", "0.5"],
                environment: environment,
                logTo: log
            )
            let took = try await process.timedStop(after: {
                try await eventually("the first stats request is held") { graph.requests > 0 }
            })
            #expect(process.terminationStatus == 1 && process.terminationReason == .exit)
            let lines = try String(contentsOfFile: log, encoding: .utf8)
            #expect(
                lines.contains(
                    "capi-connector: stopped by a signal; the work still in flight after --shutdown-timeout (0.5 s), or at a second signal, was cancelled"
                ),
                "\(lines)"
            )
            #expect(!lines.contains("shutdown did not finish in time"), "the cancelled window stopped without the watchdog")
            #expect(took < .seconds(5), "the shutdown took \(took), with a timeout of 0.5 s")
            let cancelled = try await Self.runs(state: state)
            #expect(cancelled.first?["status"] as? String == "interrupted" && cancelled.first?["ended_at"] is String, "\(cancelled)")

            graph.hold(false)
            let next = try await CLIRunner.run(["poll", "--once", "--state", state], environment: environment)
            #expect(next.status == 0, "\(next.stderr)")
            let runs = try await Self.runs(state: state)
            #expect(runs.count == 2 && runs.first?["status"] as? String == "ok", "\(runs)")
            #expect(runs.last?["status"] as? String == "interrupted", "the cancelled run is never left running: \(runs)")
        }
    }

    @Test("a second SIGINT cancels what is still in flight at once instead of waiting out --shutdown-timeout")
    func secondSignal() async throws {
        try await Self.withStatsHeld { graph, state, log, environment in
            let process = try CLIRunner.start(["poll", "--once", "--state", state], environment: environment, logTo: log)
            // SIGKILL afterwards only if the test failed before the process ended.
            let took = try await process.stopped(with: SIGKILL) {
                try await eventually("the first stats request is held") { graph.requests > 0 }
                kill(process.processIdentifier, SIGINT)
                let first = ContinuousClock.now
                // The second once the first is heard: the job says it is finishing what is in flight.
                try await eventually("the shutdown began") {
                    (try? String(contentsOfFile: log, encoding: .utf8))?.contains("shutdown asked for") == true
                }
                kill(process.processIdentifier, SIGINT)
                return await process.exited() - first
            }
            #expect(process.terminationStatus == 1 && process.terminationReason == .exit)
            #expect(took < .seconds(10), "the default --shutdown-timeout is 25 s; it took \(took)")
            let lines = try String(contentsOfFile: log, encoding: .utf8)
            #expect(lines.contains("or at a second signal, was cancelled"), "\(lines)")
        }
    }

    @Test(
        "the scheduled poll and flush (no --once) cut short by --shutdown-timeout say so and exit 1, as serve does, instead of 'stopped' and 0",
        arguments: ["poll", "flush"]
    )
    func scheduledCutShort(command: String) async throws {
        let graph = SlowGraph(delay: .milliseconds(10))
        graph.hold(true)
        let release: @Sendable () -> Void = { graph.hold(false) }
        try await withLoopbackServer(graph.router(), label: "stuck-graph", beforeShutdown: release) { port in
            let folder = try TemporaryPaths.folder("scheduled-cut-short")
            let log = folder.appendingPathComponent("\(command).log").path
            var state = "sqlite:" + folder.appendingPathComponent("state.sqlite").path
            var environment = ["META_PIXEL_ID": "555000111", "CAPI_GRAPH_URL": "http://127.0.0.1:\(port)", "CAPI_LOG_LEVEL": "info"]
            if command == "flush" {
                let queued = try await FlushProcessTests.queued(100, sandboxPort: port)
                (state, environment) = ("sqlite:" + queued.path, queued.environment)
            }
            let process = try CLIRunner.start([command, "--state", state, "--shutdown-timeout", "0.5"], environment: environment, logTo: log)
            let took = try await process.timedStop(after: {
                try await eventually("the first request is held") { graph.requests > 0 }
            })
            #expect(process.terminationStatus == 1 && process.terminationReason == .exit)
            let lines = try String(contentsOfFile: log, encoding: .utf8)
            #expect(lines.contains("shutdown took longer than --shutdown-timeout, or a second signal came"), "\(lines)")
            #expect(!lines.contains("\"message\":\"stopped\""), "\(lines)")
            #expect(!lines.contains("shutdown did not finish in time"), "the cancelled work stopped without the watchdog")
            #expect(took < .seconds(5), "the shutdown took \(took), with a timeout of 0.5 s")
        }
    }

    @Test(
        "the scheduled poll and flush, SIGTERM while their store refuses connections: exit 1 at once saying why, not 'cut short'",
        arguments: ["poll", "flush"]
    )
    func scheduledStoreRefusing(command: String) async throws {
        // A port that refuses every connection: the store never answers, so the job waits for it.
        try await withHeldLoopbackPort(.refusing) { port in
            let log = TemporaryPaths.url("\(command)-store-refusing", suffix: ".log").path
            let environment = ["META_PIXEL_ID": "555000111", "CAPI_GRAPH_URL": "http://127.0.0.1:9", "CAPI_LOG_LEVEL": "info"]
            let process = try CLIRunner.start(
                [command, "--state", "postgres://capi@127.0.0.1:\(port)/capi", "--shutdown-timeout", "20"],
                environment: environment,
                logTo: log
            )
            let took = try await process.timedStop(after: {
                try await eventually("the job to try the store") {
                    (try? String(contentsOfFile: log, encoding: .utf8))?.contains("the state store does not answer yet; waiting for it") == true
                }
                // Into its wait: the pool retrying, the probe asking once a second.
                try await Task.sleep(for: .seconds(1))
            })
            #expect(process.terminationStatus == 1 && process.terminationReason == .exit)
            #expect(took < .seconds(10), "the shutdown took \(took); --shutdown-timeout is 20 s")
            let lines = try String(contentsOfFile: log, encoding: .utf8)
            #expect(lines.contains("stopped while the state store could not be reached"), "\(lines)")
            #expect(!lines.contains("shutdown took longer than --shutdown-timeout"), "\(lines)")
        }
    }

    @Test("flush --once on SIGTERM records the batches in flight, prints what is left and exits 1; the next run sends the rest once")
    func flushStopped() async throws {
        let graph = SlowGraph(delay: .milliseconds(300))
        try await withLoopbackServer(graph.router(), label: "slow-graph") { port in
            let (path, environment) = try await FlushProcessTests.queued(6_000, sandboxPort: port)
            let folder = try TemporaryPaths.folder("flush-stop")
            let log = folder.appendingPathComponent("flush.log").path
            let output = folder.appendingPathComponent("flush.out").path
            let process = try CLIRunner.start(
                ["flush", "--once", "--state", "sqlite:" + path],
                environment: environment,
                logTo: log,
                outputTo: output
            )
            try await process.stopped {
                try await eventually("the first batch reaches the stand-in") { graph.requests > 0 }
            }
            #expect(process.terminationStatus == 1)
            #expect(process.terminationReason == .exit)
            let summary = try FlushProcessTests.summary(try String(contentsOfFile: output, encoding: .utf8))
            let sent = graph.eventsReceived
            #expect(summary["forwarded"] == sent, "every batch that reached the stand-in was recorded: \(summary), \(sent) received")
            #expect(sent > 0 && sent < 6_000 && summary["remaining"] == 6_000 - sent, "\(summary)")
            let lines = try String(contentsOfFile: log, encoding: .utf8)
            #expect(lines.contains("stopped by a signal after the batches in flight; \(6_000 - sent) rows wait in the outbox"), "\(lines)")

            let rest = try await CLIRunner.run(["flush", "--once", "--state", "sqlite:" + path], environment: environment)
            #expect(rest.status == 0, "\(rest.stderr)")
            #expect(try FlushProcessTests.summary(rest.stdout)["forwarded"] == 6_000 - sent)
            #expect(graph.eventsReceived == 6_000 && graph.distinctEvents == 6_000, "each event reached the stand-in once")
        }
    }

    @Test(
        "flush --once whose PostgreSQL database stops taking connections, then SIGTERM: exits 1 at once saying why, not after --shutdown-timeout, and loses nothing",
        .enabled(if: TestPostgres.enabled)
    )
    func flushStoreGone() async throws {
        let graph = SlowGraph(delay: .milliseconds(10))
        graph.hold(true)
        let release: @Sendable () -> Void = { graph.hold(false) }
        try await withLoopbackServer(graph.router(), label: "stuck-graph", beforeShutdown: release) { port in
            let (database, stateURL) = try await TestPostgres.createDatabase(prefix: "capi_flush_gone")
            try await FlushProcessTests.enqueue(3_000, at: try StateLocation(parsing: stateURL))
            var environment = ServeProcessTests.environment(graphURL: "http://127.0.0.1:\(port)")
            environment["CAPI_WEBHOOK_SECRET"] = nil
            let log = TemporaryPaths.url("flush-store-gone", suffix: ".log").path
            let process = try CLIRunner.start(
                ["flush", "--once", "--state", stateURL, "--shutdown-timeout", "20"],
                environment: environment,
                logTo: log
            )
            let took = try await process.timedStop(
                after: {
                    try await eventually("the first batch is held") { graph.requests > 0 }
                    // The store goes away: no new connection, and the flush's own are ended.
                    try await TestPostgres.withClient { client in
                        try await client.query(PostgresQuery(unsafeSQL: "ALTER DATABASE \(database) ALLOW_CONNECTIONS false"))
                        try await client.query(
                            PostgresQuery(unsafeSQL: "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)'")
                        )
                    }
                },
                meanwhile: {
                    try await eventually("the shutdown began") {
                        (try? String(contentsOfFile: log, encoding: .utf8))?.contains("shutdown asked for") == true
                    }
                    // Meta answers the batch in flight; its outcome cannot be recorded.
                    graph.hold(false)
                }
            )
            #expect(process.terminationStatus == 1 && process.terminationReason == .exit)
            #expect(took < .seconds(10), "the shutdown took \(took); --shutdown-timeout is 20 s")
            let lines = try String(contentsOfFile: log, encoding: .utf8)
            #expect(lines.contains("the state store cannot be reached as the process stops"), "\(lines)")
            #expect(lines.contains("capi-connector: stopped by a signal while the state store could not be reached"), "\(lines)")
            #expect(!lines.contains("was cancelled"), "\(lines)")

            // Back: nothing was lost. The batches whose outcome went unrecorded wait out their lease.
            try await TestPostgres.withClient { client in
                try await client.query(PostgresQuery(unsafeSQL: "ALTER DATABASE \(database) ALLOW_CONNECTIONS true"))
            }
            let rest = try await CLIRunner.run(["flush", "--once", "--state", stateURL], environment: environment)
            let summary = try FlushProcessTests.summary(rest.stdout)
            #expect(rest.status == 0 && summary["dead_lettered"] == 0, "\(summary) \(rest.stderr)")
            #expect((summary["forwarded"] ?? 0) + (summary["remaining"] ?? 0) == 3_000, "\(summary)")
        }
    }

    /// A stand-in whose stats requests are held until the test ends (or releases them), and a
    /// poll's SQLite store, log file and environment pointing at it.
    static func withStatsHeld(
        _ body: @Sendable (_ graph: SlowGraph, _ state: String, _ log: String, _ environment: [String: String]) async throws -> Void
    ) async throws {
        let graph = SlowGraph(delay: .milliseconds(10))
        graph.hold(true)
        let release: @Sendable () -> Void = { graph.hold(false) }
        try await withLoopbackServer(graph.router(), label: "stuck-graph", beforeShutdown: release) { port in
            let folder = try TemporaryPaths.folder("poll-held")
            let environment = ["META_PIXEL_ID": "555000111", "CAPI_GRAPH_URL": "http://127.0.0.1:\(port)", "CAPI_LOG_LEVEL": "info"]
            try await body(
                graph,
                "sqlite:" + folder.appendingPathComponent("state.sqlite").path,
                folder.appendingPathComponent("poll.log").path,
                environment
            )
        }
    }

    /// The windows a poll plans, from its first progress line (`window 1/N`).
    static func windowCount(_ log: String) -> Int? {
        guard let range = log.range(of: #"window 1/(\d+)"#, options: .regularExpression) else { return nil }
        return Int(log[range].dropFirst("window 1/".count))
    }

    /// `state show`'s recent runs, newest first.
    static func runs(state: String) async throws -> [[String: Any]] {
        let show = try await CLIRunner.run(["state", "show", "--state", state])
        let document = try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any]
        return document?["recent_runs"] as? [[String: Any]] ?? []
    }
}

/// A Graph stand-in that answers after `delay`, so a job is surely mid-way when the test signals
/// it: stats pages and match quality empty, every batch accepted whole and its event ids counted.
final class SlowGraph: Sendable {
    let delay: Duration
    private let received = Mutex<(requests: Int, events: Int, ids: Set<String>)>((0, 0, []))
    private let requestsHeld = Mutex(false)

    init(delay: Duration) { self.delay = delay }

    /// While held, stats requests and batches are not answered: a window or a batch stuck as when
    /// Meta stops answering.
    func hold(_ held: Bool) { requestsHeld.withLock { $0 = held } }

    var requests: Int { received.withLock { $0.requests } }
    var eventsReceived: Int { received.withLock { $0.events } }
    var distinctEvents: Int { received.withLock { $0.ids.count } }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/v26.0/:pixel/stats") { _, _ -> Response in
            self.received.withLock { $0.requests += 1 }
            try await self.whileHeld()
            try await Task.sleep(for: self.delay)
            return Self.json(#"{"data":[]}"#)
        }
        router.get("/v26.0/dataset_quality") { _, _ -> Response in Self.json(#"{"web":[]}"#) }
        router.post("/v26.0/:pixel/events") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 16 << 20)
            let events = try JSONValue(parsing: Array(buffer: body))["data"]?.arrayValue ?? []
            self.received.withLock { $0.requests += 1 }
            try await self.whileHeld()
            try await Task.sleep(for: self.delay)
            self.received.withLock {
                $0.events += events.count
                for event in events { if let id = event["event_id"]?.stringValue { $0.ids.insert(id) } }
            }
            return Self.json(#"{"events_received":\#(events.count),"messages":[],"fbtrace_id":"ASlowTrace"}"#)
        }
        return router
    }

    private func whileHeld() async throws {
        while requestsHeld.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(20)) }
    }

    static func json(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
