import CAPICore
import ConnectorRuntime
import Foundation
import Logging
import TestSupport
import Testing

/// `flush --once` as a scheduled task runs it: an outbox filled by an earlier process, the Graph
/// stand-in as Meta.
@Suite("flush as a process", .serialized)
struct FlushProcessTests {
    /// Commits `count` valid outbox rows, as intake would, to the SQLite store at `path`.
    static func enqueue(_ count: Int, at path: String) async throws {
        try await enqueue(count, at: .sqlite(path: path))
    }

    /// Commits `count` valid outbox rows, as intake would, to the store at `location`.
    static func enqueue(_ count: Int, at location: StateLocation) async throws {
        let now = WallClock.system.now()
        try await withStateRegistry(location, logger: Logger(label: "test")) { registry in
            let items = (0..<count).map { index in
                let time = now.seconds.rawValue - 60
                let payload =
                    #"{"event_name":"Lead","event_time":\#(time),"event_id":"flush-\#(index)","action_source":"email","user_data":{"em":["\#(SHA256Hex.digest("f\(index)@x.co"))"]}}"#
                return IntakeItem(
                    key: EventKey(pixelID: "555000111", eventID: "flush-\(index)", eventTime: UnixSeconds(time)),
                    contentHash: SHA256Hex.digest(payload),
                    payload: payload,
                    answer: "{}",
                    deliveredRecord: #"{"event_name":"Lead"}"#,
                    receivedAt: now
                )
            }
            _ = try await registry.commitIntake(items)
        }
    }

    /// A store with `count` due events, and the environment of a flush task sending them to the
    /// stand-in: no webhook secret, as a flush task receives no webhook.
    static func queued(_ count: Int, sandboxPort: Int) async throws -> (path: String, environment: [String: String]) {
        let path = TemporaryPaths.url("flush").appendingPathComponent("state.sqlite").path
        try await enqueue(count, at: path)
        var environment = ServeProcessTests.environment(graphURL: "http://127.0.0.1:\(sandboxPort)")
        environment["CAPI_WEBHOOK_SECRET"] = nil
        return (path, environment)
    }

    static func summary(_ stdout: String) throws -> [String: Int] {
        let line = try #require(stdout.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Int])
    }

    @Test("flush --once delivers every due event exactly once and exits 0; a second run has nothing to send")
    func exactlyOnce() async throws {
        try await CLIRunner.withSandbox { sandboxPort in
            let (path, environment) = try await Self.queued(2_500, sandboxPort: sandboxPort)
            let first = try await CLIRunner.run(["flush", "--once", "--state", "sqlite:" + path], environment: environment)
            #expect(first.status == 0, "\(first.stderr)")
            #expect(try Self.summary(first.stdout) == ["forwarded": 2_500, "rescheduled": 0, "dead_lettered": 0, "remaining": 0])
            let counts = try await ServeProcessTests.receivedCounts(sandboxPort: sandboxPort)
            #expect(counts.count == 2_500 && counts.values.allSatisfy { $0 == 1 }, "each event reached the stand-in once")
            let second = try await CLIRunner.run(["flush", "--once", "--state", "sqlite:" + path], environment: environment)
            let again = try Self.summary(second.stdout)
            #expect(second.status == 0 && again["forwarded"] == 0)
            #expect(try await ServeProcessTests.receivedCounts(sandboxPort: sandboxPort).values.allSatisfy { $0 == 1 })
        }
    }

    @Test("flush without --once forwards until SIGTERM, shows it on /metrics, says where it sends and that it stopped, and exits 0")
    func continuous() async throws {
        try await CLIRunner.withSandbox { sandboxPort in
            let (path, environment) = try await Self.queued(30, sandboxPort: sandboxPort)
            let log = TemporaryPaths.url("flush-continuous", suffix: ".log").path
            let (process, metricsPort) = try await CLIRunner.startListening(
                ["flush", "--state", "sqlite:" + path, "--metrics-listen", "127.0.0.1:0"],
                environment: environment,
                logTo: log
            )
            let deadline = ContinuousClock.now + hangLimit
            while try await ServeProcessTests.receivedCounts(sandboxPort: sandboxPort).count < 30, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try await ServeProcessTests.receivedCounts(sandboxPort: sandboxPort).count == 30)
            // What it forwarded is seen where Prometheus scrapes it.
            try await eventually("the forwarded count reaches /metrics") {
                let metrics = try await CLIRunner.get("http://127.0.0.1:\(metricsPort)/metrics")
                return metrics.contains("capi_events_forwarded_total{pixel_id=\"555000111\"} 30")
                    && metrics.contains("capi_outbox_depth")
            }
            process.terminate()
            await process.exited()
            #expect(process.terminationStatus == 0)
            let lines = try String(contentsOfFile: log, encoding: .utf8)
            #expect(lines.contains("\"message\":\"forwarding the outbox until SIGTERM\""), "\(lines)")
            #expect(lines.contains("\"graph_url\":\"http://127.0.0.1:\(sandboxPort)\""))
            #expect(lines.contains("\"message\":\"stopped\""), "\(lines)")
        }
    }

    @Test("flush at a SQLite path with no store exits 2 naming it and creates nothing, once or not")
    func noStore() async throws {
        let path = TemporaryPaths.url("flush").appendingPathComponent("state.sqlite").path
        for arguments in [["flush", "--once"], ["flush"]] {
            let run = try await CLIRunner.run(
                arguments + ["--state", "sqlite:" + path],
                environment: ServeProcessTests.environment(graphURL: "http://127.0.0.1:9")
            )
            #expect(run.status == 2, "\(run.stderr)")
            #expect(run.stderr.contains("no state store at \(path)"))
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    @Test("batches Meta answers with 5xx are rescheduled, reported as remaining, and exit 1")
    func rescheduled() async throws {
        try await CLIRunner.withSandbox(["--faults", "rate=1, kinds=5xx"]) { sandboxPort in
            let path = TemporaryPaths.url("flush").appendingPathComponent("state.sqlite").path
            try await Self.enqueue(10, at: path)
            let run = try await CLIRunner.run(
                ["flush", "--once", "--state", "sqlite:" + path],
                environment: ServeProcessTests.environment(graphURL: "http://127.0.0.1:\(sandboxPort)")
            )
            #expect(run.status == 1, "\(run.stderr)")
            let summary = try Self.summary(run.stdout)
            #expect(summary["rescheduled"] == 10 && summary["forwarded"] == 0 && summary["remaining"] == 10)
        }
    }
}

@Suite("egress proxy as a process")
struct EgressProxyProcessTests {
    @Test("with HTTP_PROXY set, flush --once reaches the stand-in through the CONNECT proxy, which sees the call")
    func throughProxy() async throws {
        try await CLIRunner.withSandbox { sandboxPort in
            // The proxy writes its port beside its log, as `<log>.port`.
            let log = try TemporaryPaths.folder("proxy").appendingPathComponent("proxy.log").path
            let proxy = Process()
            proxy.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            proxy.arguments = ["python3", CLIRunner.repositoryRoot.appendingPathComponent("Tests/CLITests/Scripts/connect_proxy.py").path, log]
            proxy.standardOutput = FileHandle.nullDevice
            try proxy.run()
            // SIGKILL: a child of the test process may inherit a blocked SIGTERM.
            try await proxy.stopped(with: SIGKILL) {
                var proxyPort: Int?
                try await eventually("the CONNECT proxy listens") {
                    proxyPort = (try? String(contentsOfFile: log + ".port", encoding: .utf8)).flatMap { Int($0) }
                    return proxyPort != nil
                }
                let path = TemporaryPaths.url("proxy").appendingPathComponent("state.sqlite").path
                try await FlushProcessTests.enqueue(5, at: path)
                var environment = ServeProcessTests.environment(graphURL: "http://127.0.0.1:\(sandboxPort)")
                environment["HTTP_PROXY"] = "http://127.0.0.1:\(proxyPort!)"
                let run = try await CLIRunner.run(["flush", "--once", "--state", "sqlite:" + path], environment: environment)
                #expect(run.status == 0, "\(run.stderr)")
                #expect(try FlushProcessTests.summary(run.stdout)["forwarded"] == 5)
                #expect(try await ServeProcessTests.receivedCounts(sandboxPort: sandboxPort).count == 5)
                let targets = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
                #expect(!targets.isEmpty && targets.allSatisfy { $0 == "127.0.0.1:\(sandboxPort)" }, "every call went through the proxy: \(targets)")
            }
        }
    }
}
