import Foundation
import TestSupport
import Testing

@Suite("poll and reconcile as processes", .serialized)
struct PollProcessTests {
    @Test("poll --once twice exits 0; read totals match the stand-in; state show has the cursor; a held lock is exit 4")
    func pollOnce() async throws {
        try await CLIRunner.withSandbox(["--stats-page-size", "2"]) { sandboxPort in

            try await Self.seed(sandboxPort: sandboxPort)

            let folder = TemporaryPaths.url("poll")
            let state = "sqlite:" + folder.appendingPathComponent("state.sqlite").path
            // A poll job is given no webhook secret: it receives no webhook.
            let environment = [
                "META_PIXEL_ID": "555000111", "CAPI_GRAPH_URL": "http://127.0.0.1:\(sandboxPort)", "CAPI_LOG_LEVEL": "warning",
            ]
            for _ in 0..<2 {
                let run = try await CLIRunner.run(["poll", "--once", "--state", state], environment: environment)
                #expect(run.status == 0, "\(run.stderr)")
            }
            let read = try await CLIRunner.run(["read", "delivery_statuses", "--state", state])
            var totals: [String: Int] = [:]
            for line in read.stdout.split(separator: "\n") {
                guard let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    record["event_source"] as? String == "server"
                else { continue }
                totals[record["event_name"] as? String ?? "", default: 0] += record["count"] as? Int ?? 0
            }
            #expect(totals == ["Purchase": 5, "Lead": 5])
            // The key discover gives is a record's identity: a loader that merges on it keeps every record.
            let discover = try await CLIRunner.run(["discover"], environment: environment)
            let catalog = try #require(try JSONSerialization.jsonObject(with: Data(discover.stdout.utf8)) as? [String: Any], "\(discover.stderr)")
            let streams = ((catalog["pixels"] as? [[String: Any]])?.first?["streams"] as? [[String: Any]]) ?? []
            let key = try #require(streams.first { $0["name"] as? String == "delivery_statuses" }?["key"] as? [String])
            let records = read.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            let identities = Set(records.map { record in key.map { "\(record[$0] ?? "")" }.joined(separator: "|") })
            #expect(Set(records.compactMap { $0["event_source"] as? String }) == ["all", "server"])
            #expect(identities.count == records.count, "\(key) does not tell \(records.count - identities.count) records apart")
            // Every line names its run: the poll run's lines its id, as state show lists it.
            var informed = environment
            informed["CAPI_LOG_LEVEL"] = "info"
            let logged = try await CLIRunner.run(["poll", "--once", "--state", state], environment: informed)
            #expect(logged.status == 0, "\(logged.stderr)")
            let lines = logged.stderr.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(!lines.isEmpty && lines.allSatisfy { $0["run_id"] is String }, "a line without run_id: \(logged.stderr)")
            let show = try await CLIRunner.run(["state", "show", "--state", state])
            let document = try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any]
            let lastRun = try #require(((document?["recent_runs"] as? [[String: Any]])?.first?["run_id"]) as? String, "\(show.stdout)")
            let finished = lines.first { $0["message"] as? String == "poll finished" }
            #expect(finished?["run_id"] as? String == lastRun && lastRun.hasPrefix("pull-"), "\(String(describing: finished))")
            #expect(lines.contains { $0["message"] as? String == "window committed" && $0["run_id"] as? String == lastRun })
            let cursors = document?["cursors"] as? [[String: Any]] ?? []
            #expect(cursors.contains { $0["partition"] as? String == "555000111" && $0["stream"] as? String == "delivery_statuses" })

            // Another poll holds the lock: this one does nothing and exits 4.
            let holdLock = """
                import fcntl, subprocess, sys
                with open(sys.argv[1] + ".poll-lock", "a") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                    sys.exit(subprocess.run(sys.argv[2:]).returncode)
                """
            let locked = try await ProcessRunner.run(
                "/usr/bin/env",
                ["python3", "-c", holdLock, String(state.dropFirst(7)), CLIRunner.executable.path, "poll", "--once", "--state", state],
                environment: environment
            )
            #expect(locked.status == 4)
            #expect(locked.stderr.contains("another poll holds the lock"))

            // Reconcile writes a self-contained HTML report.
            let report = folder.appendingPathComponent("report.html").path
            let reconcile = try await CLIRunner.run([
                "reconcile", "--state", state, "--since", "2026-01-01", "--until", String(Int(Date().timeIntervalSince1970) + 3600), "--by", "day",
                "--format", "html", "--output", report,
            ])
            #expect(reconcile.status == 0, "\(reconcile.stderr)")
            let html = try String(contentsOfFile: report, encoding: .utf8)
            #expect(html.hasPrefix("<!doctype html>") && html.contains("<svg") && !html.contains("<script src") && !html.contains("<link"))
        }
    }

    /// Seeds the stand-in with settled server events (two hours old and older), as the forwarder
    /// would: ten, five Purchase and five Lead, for pixel 555000111.
    static func seed(sandboxPort: Int) async throws {
        let seed = """
            import json, sys, time, urllib.request
            now = int(time.time())
            events = [{"event_name": ["Purchase", "Lead"][i % 2], "event_time": now - 7200 - i * 3600, "event_id": f"cli-{i}",
                       "action_source": "email", "user_data": {"em": ["a" * 64]}, "custom_data": {"value": 1, "currency": "USD"}} for i in range(10)]
            body = json.dumps({"data": events, "access_token": "t"}).encode()
            req = urllib.request.Request(sys.argv[1] + "/v26.0/555000111/events", data=body, headers={"content-type": "application/json"})
            print(urllib.request.urlopen(req).read().decode())
            """
        let seeded = try await ProcessRunner.run("/usr/bin/env", ["python3", "-c", seed, "http://127.0.0.1:\(sandboxPort)"])
        #expect(seeded.stdout.contains("\"events_received\":10"), "\(seeded.stderr)")
    }

    @Test("the scheduled poll serves /metrics with what it pulled and its build; --metrics-listen is refused with --once")
    func scheduledPollMetrics() async throws {
        let refused = try await CLIRunner.run(["poll", "--once", "--metrics-listen", "127.0.0.1:0"])
        #expect(refused.status == 64 && refused.stderr.contains("--metrics-listen is for the long-running poll"), "\(refused.stderr)")
        try await CLIRunner.withSandbox { sandboxPort in
            try await Self.seed(sandboxPort: sandboxPort)
            let folder = TemporaryPaths.url("poll-metrics")
            let state = "sqlite:" + folder.appendingPathComponent("state.sqlite").path
            let environment = ["META_PIXEL_ID": "555000111", "CAPI_GRAPH_URL": "http://127.0.0.1:\(sandboxPort)"]
            let log = TemporaryPaths.url("poll-metrics", suffix: ".log").path
            let (poll, port) = try await CLIRunner.startListening(
                ["poll", "--state", state, "--metrics-listen", "127.0.0.1:0"],
                environment: environment,
                logTo: log
            )
            try await poll.stopped {
                try await eventually("the first poll finishes") {
                    ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("\"poll finished\"")
                }
                let read = try await CLIRunner.run(["read", "delivery_statuses", "--state", state])
                let pulled = read.stdout.split(separator: "\n").compactMap { line in
                    (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["count"] as? Int
                }.reduce(0, +)
                #expect(pulled >= 10, "\(read.stdout)")
                let metrics = try await CLIRunner.get("http://127.0.0.1:\(port)/metrics")
                #expect(metrics.contains("capi_events_pulled_total{pixel_id=\"555000111\"} \(pulled)"), "\(metrics)")
                #expect(metrics.contains("capi_build_info{version="), "\(metrics)")
            }
            #expect(poll.terminationStatus == 0, "SIGTERM ends the scheduled poll cleanly")
        }
    }
}
