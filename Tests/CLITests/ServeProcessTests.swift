import Crypto
import Foundation
import TestSupport
import Testing

/// `capi-connector serve` as a process: signals, restarts, what survives a kill.
@Suite("serve as a process", .serialized)
struct ServeProcessTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    static func environment(graphURL: String? = nil) -> [String: String] {
        var environment = [
            "CAPI_WEBHOOK_SECRET": secret, "META_PIXEL_ID": "555000111", "META_ACCESS_TOKEN": "sandbox-token",
            "CAPI_LISTEN": "127.0.0.1:0", "CAPI_LOG_LEVEL": "info",
        ]
        environment["CAPI_GRAPH_URL"] = graphURL
        return environment
    }

    /// Posts one signed mirrored event with python's standard library; returns the HTTP status (0 when the connection failed).
    static func send(_ eventID: String, port: Int) async throws -> Int {
        let body =
            #"{"pixel_id":"555000111","event_name":"Lead","event_time":\#(Int(Date().timeIntervalSince1970) - 10),"event_id":"\#(eventID)","action_source":"email","user_data":{"em":"lead-\#(eventID)@example.com"}}"#
        return try await post(body, to: "http://127.0.0.1:\(port)/v1/events").status
    }

    /// POSTs `body` signed with Standard Webhooks, from python's standard library (a client we did
    /// not write); returns the status (0 when the connection failed) and the answer.
    static func post(_ body: String, to url: String) async throws -> (status: Int, answer: String) {
        let id = "msg_\(UUID().uuidString)"
        let timestamp = Int(Date().timeIntervalSince1970)
        let key = SymmetricKey(data: Data(base64Encoded: String(secret.dropFirst(6)))!)
        let signature = Data(HMAC<SHA256>.authenticationCode(for: Array("\(id).\(timestamp).\(body)".utf8), using: key)).base64EncodedString()
        let script = """
            import sys, urllib.request
            req = urllib.request.Request(sys.argv[1], data=sys.stdin.buffer.read(), headers={"content-type": "application/json", "webhook-id": sys.argv[2], "webhook-timestamp": sys.argv[3], "webhook-signature": "v1," + sys.argv[4]})
            try:
                r = urllib.request.urlopen(req, timeout=30)
                print(r.status); print(r.read().decode())
            except urllib.error.HTTPError as e:
                print(e.code); print(e.read().decode())
            except Exception:
                print(0)
            """
        let result = try await ProcessRunner.run("/usr/bin/env", ["python3", "-c", script, url, id, String(timestamp), signature], stdin: body)
        let lines = result.stdout.split(separator: "\n", maxSplits: 1)
        return (Int(lines.first.map(String.init) ?? "") ?? 0, lines.count > 1 ? String(lines[1]) : "")
    }

    static func receivedCounts(sandboxPort: Int) async throws -> [String: Int] {
        let rows = try await sandboxEvents(graphURL: "http://127.0.0.1:\(sandboxPort)", pixelID: "555000111")
        return Dictionary(uniqueKeysWithValues: rows.map { ($0["event_id"] as? String ?? "", $0["received"] as? Int ?? 0) })
    }

    /// The stand-in's `GET /_sandbox/events` rows for `pixelID`: each event as received, and how often.
    static func sandboxEvents(graphURL: String, pixelID: String) async throws -> [[String: Any]] {
        let body = try await CLIRunner.get("\(graphURL)/_sandbox/events?pixel_id=\(pixelID)")
        let document = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        return document?["data"] as? [[String: Any]] ?? []
    }

    @Test("serve --sandbox without CAPI_WEBHOOK_SECRET refuses to start and names the variable")
    func needsSecret() async throws {
        var environment = Self.environment()
        environment["CAPI_WEBHOOK_SECRET"] = nil
        let result = try await CLIRunner.run(
            ["serve", "--sandbox", "--state", "sqlite:/tmp/capi-never-\(UUID().uuidString).sqlite"],
            environment: environment
        )
        #expect(result.status == 2)
        #expect(result.stderr.contains("CAPI_WEBHOOK_SECRET is not set"))
    }

    @Test(
        "serve (and sandbox) on an address another process holds, one not of this machine or a name that does not resolve, says so in one line and exits 2"
    )
    func cannotListen() async throws {
        try await CLIRunner.withSandbox { port in
            let state = "sqlite:" + TemporaryPaths.url("listen").appendingPathComponent("state.sqlite").path
            for (address, reason) in [
                ("127.0.0.1:\(port)", "Address already in use"), ("192.0.2.1:8088", "Cannot assign requested address"),
                ("capi-no-such-host.invalid:8088", "the host name does not resolve"),
            ] {
                let result = try await CLIRunner.run(["serve", "--sandbox", "--listen", address, "--state", state], environment: Self.environment())
                #expect(result.status == 2, "\(address): \(result.stderr)")
                #expect(result.stderr.contains("capi-connector: cannot listen on \(address): \(reason)"), "\(result.stderr)")
            }
            let sandbox = try await CLIRunner.run(["sandbox", "--listen", "127.0.0.1:\(port)"])
            #expect(sandbox.status == 2 && sandbox.stderr.contains("cannot listen on 127.0.0.1:\(port): Address already in use"), "\(sandbox.stderr)")
        }
    }

    @Test("a SQLite store serve cannot create is one line naming why (a file where its folder must be; a folder given as the store) and exit 2")
    func storeCannotBeCreated() async throws {
        let folder = try TemporaryPaths.folder("store-parent")
        let file = folder.appendingPathComponent("not-a-folder").path
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        for (state, reason) in [
            ("sqlite:\(file)/state/store.sqlite", "cannot create the folder for sqlite:\(file)/state/store.sqlite: \(file) is a file"),
            ("sqlite:\(folder.path)", "sqlite:\(folder.path) is a folder: name the store's file"),
        ] {
            let result = try await CLIRunner.run(
                ["serve", "--sandbox", "--listen", "127.0.0.1:0", "--state", state],
                environment: Self.environment()
            )
            #expect(result.status == 2, "\(state): \(result.stderr)")
            #expect(result.stderr.contains(reason), "\(result.stderr)")
        }
    }

    @Test("SIGTERM while the state store does not answer: exits 1 at once, saying why")
    func boundedShutdown() async throws {
        // A port that refuses every connection: the store never answers, so the sidecar waits for it.
        try await withHeldLoopbackPort(.refusing) { port in
            let log = TemporaryPaths.url("shutdown", suffix: ".log").path
            let serve = try CLIRunner.start(
                ["serve", "--sandbox", "--state", "postgres://capi@127.0.0.1:\(port)/capi", "--shutdown-timeout", "20"],
                environment: Self.environment(),
                logTo: log
            )
            let took = try await serve.timedStop(after: {
                // Its services run (and handle signals) once it says it waits for the store.
                try await eventually("the sidecar to try the store") {
                    (try? String(contentsOfFile: log, encoding: .utf8))?.contains("the state store does not answer yet; waiting for it") == true
                }
            })
            #expect(took < .seconds(10), "the shutdown took \(took); --shutdown-timeout is 20 s")
            #expect(serve.terminationStatus == 1)
            // Not held until --shutdown-timeout: the store that cannot be reached is let go.
            let text = try String(contentsOfFile: log, encoding: .utf8)
            #expect(text.contains("the state store cannot be reached as the process stops"), "\(text)")
            #expect(text.contains("stopped while the state store could not be reached"), "\(text)")
            #expect(!text.contains("shutdown took longer than --shutdown-timeout"), "\(text)")
        }
    }

    @Test("SIGTERM drains and exits 0; after SIGKILL mid-load no acknowledged event is lost")
    func signals() async throws {
        let folder = TemporaryPaths.url("serve")
        let state = "sqlite:" + folder.appendingPathComponent("state.sqlite").path
        let logs = [TemporaryPaths.url("serve", suffix: "-first.log").path, TemporaryPaths.url("serve", suffix: "-second.log").path]
        try await CLIRunner.withSandbox(["--faults", "rate=0.3, kinds=5xx+throttle+reset", "--seed", "3"]) { sandboxPort in
            let environment = Self.environment(graphURL: "http://127.0.0.1:\(sandboxPort)")

            // Load, then SIGKILL while events are still queued or in flight.
            var (serve, port) = try await CLIRunner.startListening(["serve", "--state", state], environment: environment, logTo: logs[0])
            var acknowledged: [String] = []
            for index in 0..<60 where try await Self.send("kill-\(index)", port: port) == 202 {
                acknowledged.append("kill-\(index)")
            }
            kill(serve.processIdentifier, SIGKILL)
            await serve.exited()
            #expect(acknowledged.count == 60)

            // Restart: everything acknowledged is delivered, then SIGTERM exits 0.
            (serve, port) = try await CLIRunner.startListening(["serve", "--state", state], environment: environment, logTo: logs[1])
            let deadline = ContinuousClock.now + hangLimit
            var counts: [String: Int] = [:]
            repeat {
                try await Task.sleep(for: .milliseconds(500))
                counts = try await Self.receivedCounts(sandboxPort: sandboxPort)
            } while Set(acknowledged).subtracting(counts.keys).count > 0 && ContinuousClock.now < deadline
            #expect(Set(acknowledged).isSubset(of: Set(counts.keys)), "acknowledged events were lost")
            kill(serve.processIdentifier, SIGTERM)
            await serve.exited()
            #expect(serve.terminationStatus == 0)

            // No raw email reached the state files or the logs (they hold digests and salted ids only).
            let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).map { folder.appendingPathComponent($0).path } + logs
            #expect(files.count >= 3)
            for file in files {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
                #expect(bytes.range(of: Data("@example.com".utf8)) == nil, "a raw email is in \(file)")
                #expect(bytes.range(of: Data("lead-kill".utf8)) == nil, "a raw email is in \(file)")
            }
            let firstLog = try String(contentsOfFile: logs[0], encoding: .utf8)
            #expect(firstLog.contains("push sidecar listening"), "the log was not captured")
            // The shipped retries: how long an outage of Meta is ridden out, said at start.
            #expect(firstLog.contains(#""retries_wait_at_most_s":"3212""#), "\(firstLog.prefix(2_000))")
        }
    }

    /// Whether this machine has an IPv6 loopback to listen on (containers often have none).
    static let ipv6Loopback: Bool = {
        let socket = Glibc.socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0 }
        }
    }()

    @Test("on an IPv6 address, the log names it as [::1]:port, and the sidecar answers there", .enabled(if: ipv6Loopback))
    func ipv6Listen() async throws {
        var environment = Self.environment()
        environment["CAPI_LISTEN"] = "[::1]:0"
        try await CLIRunner.withSandboxedServe(environment: environment, name: "ipv6") { port, log in
            let text = try String(contentsOfFile: log, encoding: .utf8)
            #expect(text.contains(#""address":"[::1]:\#(port)""#), "\(text)")
            let health = try await CLIRunner.get("http://[::1]:\(port)/healthz")
            #expect(health.contains(#""status":"ok""#), "\(health)")
        }
    }

    @Test("Meta's official SDK, pointed at the sidecar, gets events_received, and its digests are forwarded unchanged", .enabled(if: MetaSDK.enabled))
    func metaSDKAgainstSidecar() async throws {
        var environment = Self.environment()
        environment["META_PIXEL_ID"] = "1234567890"
        environment["CAPI_INGEST_TOKEN"] = "sdk-ingest-token"
        try await CLIRunner.withSandboxedServe(environment: environment, name: "sdk") { port, log in
            let (status, stderr, steps) = try await MetaSDK.steps(
                baseURL: "http://127.0.0.1:\(port)",
                pixelID: "1234567890",
                token: "sdk-ingest-token",
                prefix: "sidecar"
            )
            #expect(status == 0, "\(stderr)")
            #expect(steps.first?["events_received"] as? Int == 3)
            #expect(steps.first { $0["step"] as? String == "test_event_code" }?["events_received"] as? Int == 1)
            #expect(steps.first { $0["step"] as? String == "no_event_id" }?["events_received"] as? Int == 1)
            #expect(steps.last?["code"] as? Int == 100)

            // The SDK hashed the email and phone itself: the sidecar must forward its digests as they
            // are. Hashed again, they would match no one, and nothing would say so.
            let graphURL = try #require(Self.graphURL(inLog: log), "serve --sandbox logs its stand-in's graph_url")
            var forwarded: [[String: Any]] = []
            let deadline = ContinuousClock.now + hangLimit
            var testCodes: [String: String] = [:]
            while forwarded.count < 6, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                let received = try await Self.sandboxEvents(graphURL: graphURL, pixelID: "1234567890")
                forwarded = received.compactMap { ($0["event"] as? [String: Any])?["user_data"] as? [String: Any] }
                testCodes = Dictionary(
                    uniqueKeysWithValues: received.map { ($0["event_id"] as? String ?? "", $0["test_event_code"] as? String ?? "live") }
                )
            }
            try #require(forwarded.count == 6, "the six events reach the stand-in")
            // The request's test_event_code went to Meta with its event, and only with it; the event
            // the SDK sent without an id went with the one the sidecar gave it.
            let assigned = try #require(testCodes.keys.first { $0.hasPrefix("capi-") }, "\(testCodes)")
            #expect(
                testCodes == [
                    "sidecar-0": "live", "sidecar-1": "live", "sidecar-2": "live", "sidecar-test": "TEST4242", "sidecar-context": "live",
                    assigned: "live",
                ],
                "\(testCodes)"
            )
            // Every field the SDK wrote reached Meta: advanced_measurement_table too.
            let unnamed = try await Self.sandboxEvents(graphURL: graphURL, pixelID: "1234567890").first { $0["event_id"] as? String == assigned }
            #expect((unnamed?["event"] as? [String: Any])?["advanced_measurement_table"] as? String == "sdk_table")
            let digest = { (text: String) in SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined() }
            for userData in forwarded {
                #expect(userData["em"] as? [String] == [digest("joe@example.com")])
                #expect(userData["ph"] as? [String] == [digest("16505551212")])
                #expect(userData["client_ip_address"] as? String == "203.0.113.1")
            }
            // What the SDK's parameter builder made of the request (fbc, fbp, the URLs with their
            // appendix) and the name and birth-date parts it hashed reach Meta as the SDK wrote them:
            // the parts as strings, the shape the SDK sends them in.
            let sent = try #require(steps.first { $0["step"] as? String == "request_context" }, "\(steps)")
            #expect(sent["events_received"] as? Int == 1)
            let context = try #require(
                try await Self.sandboxEvents(graphURL: graphURL, pixelID: "1234567890").first { $0["event_id"] as? String == "sidecar-context" }?[
                    "event"
                ]
                    as? [String: Any]
            )
            #expect(context["event_source_url"] as? String == sent["event_source_url"] as? String)
            #expect(context["referrer_url"] as? String == sent["referrer_url"] as? String)
            let sentUserData = try #require(sent["user_data"] as? [String: Any])
            let contextUserData = try #require(context["user_data"] as? [String: Any])
            for key in ["fbc", "fbp", "f5first", "f5last", "fi", "dobd", "dobm", "doby"] {
                let given = try #require(sentUserData[key] as? String, "the SDK sent \(key)")
                #expect(contextUserData[key] as? String == given, "\(key)")
            }
            #expect((sentUserData["fbc"] as? String)?.contains(".IwAR2F4-dbP0l7Mn1IawQQ_GCINEz7PYXQ") == true, "\(sentUserData)")
        }
    }

    /// The in-process stand-in's address, from the `graph_url` of `serve --sandbox`'s log.
    static func graphURL(inLog path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
            if let url = object["graph_url"] as? String { return url }
        }
        return nil
    }
}
