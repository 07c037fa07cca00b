import CAPICore
import Foundation
import TestSupport
import Testing

/// Commands that must refuse bad input precisely, never crash, and never print a secret.
@Suite("Commands under bad input", .serialized)
struct HardeningCommandsTests {
    @Test("SIGTERM exits 0 promptly while a client holds a request whose body never arrives")
    func shutdownDoesNotWaitForStalledClients() async throws {
        let folder = TemporaryPaths.url("stall")
        let (serve, port) = try await CLIRunner.startListening(
            ["serve", "--sandbox", "--state", "sqlite:" + folder.appendingPathComponent("state.sqlite").path],
            environment: ServeProcessTests.environment()
        )
        // A client that announces a large body, sends a few bytes and then waits for ever.
        let timestamp = Int(Date().timeIntervalSince1970)
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        client.arguments = [
            "python3", "-c",
            """
            import socket, time
            s = socket.create_connection(("127.0.0.1", \(port)))
            s.sendall(b"POST /v1/events HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\nwebhook-id: msg_stall\\r\\n"
                      b"webhook-timestamp: \(timestamp)\\r\\nwebhook-signature: v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\\r\\n"
                      b"Content-Length: 1000000\\r\\n\\r\\n{\\"pixel")
            time.sleep(120)
            """,
        ]
        client.standardOutput = FileHandle.nullDevice
        client.standardError = FileHandle.nullDevice
        try client.run()
        // SIGKILL: a child of the test process may inherit a blocked SIGTERM. Ended by SIGTERM, this
        // client outlived the run by two minutes, and `swift test` waited for it.
        try await client.stopped(with: SIGKILL) {
            try await Task.sleep(for: .milliseconds(800))
            let started = ContinuousClock.now
            kill(serve.processIdentifier, SIGTERM)
            while !serve.hasEnded, ContinuousClock.now - started < .seconds(20) { try await Task.sleep(for: .milliseconds(50)) }
            let took = ContinuousClock.now - started
            if !serve.hasEnded { kill(serve.processIdentifier, SIGKILL) }
            await serve.exited()
            #expect(took < .seconds(10), "shutdown waited on a client that will never finish")
            #expect(serve.terminationReason == .exit && serve.terminationStatus == 0)
        }
    }

    @Test("a CAPI_GRAPH_URL that is not a URL is a configuration error (exit 2) naming the variable, not the value")
    func malformedGraphURL() async throws {
        let folder = TemporaryPaths.url("url")
        for command in [["serve"], ["poll", "--once"]] {
            var environment = ServeProcessTests.environment()
            environment["CAPI_GRAPH_URL"] = "not a url with secret-password"
            let result = try await CLIRunner.run(
                command + ["--state", "sqlite:" + folder.appendingPathComponent("state.sqlite").path],
                environment: environment
            )
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("CAPI_GRAPH_URL"))
            #expect(!result.stderr.contains("secret-password"))
        }
        // A base URL that already names the version would send to /v26.0/v26.0/…, refused by
        // Graph for every batch: said at start, not found in the dead-letter queue.
        var environment = ServeProcessTests.environment()
        environment["CAPI_GRAPH_URL"] = "https://graph.facebook.com/v26.0/"
        let versioned = try await CLIRunner.run(
            ["serve", "--state", "sqlite:" + folder.appendingPathComponent("state.sqlite").path],
            environment: environment
        )
        #expect(versioned.status == 2, "\(versioned.stderr)")
        #expect(versioned.stderr.contains("CAPI_GRAPH_URL ends in a Graph API version (/v26.0); give the base URL only"), "\(versioned.stderr)")
    }

    @Test(
        "bad option values are refused with exit 64 and a message naming the option",
        arguments: [
            (["reconcile", "--since", "2026-11-01", "--until", "2026-11-02", "--threshold", "nan"], "--threshold"),
            (["reconcile", "--since", "2026-11-01T25:00:00Z", "--until", "2026-11-02"], "--since"),
            // A negative number is the option's value, refused for what it is (it read "missing value").
            (["reconcile", "--since", "2026-11-01", "--until", "2026-11-02", "--threshold", "-1"], "--threshold must be a percentage"),
            // Checked before the store is read: a report computed and then not written is work lost.
            (
                ["reconcile", "--since", "2026-11-01", "--until", "2026-11-02", "--output", "/nonexistent-capi/r.html"],
                "--output: the folder /nonexistent-capi does not exist"
            ),
            // A folder given as the file was Foundation's "NSCocoaErrorDomain error 512", after the work.
            (
                ["reconcile", "--since", "2026-11-01", "--until", "2026-11-02", "--format", "html", "--output", "/tmp"],
                "--output: /tmp is a folder; name the file to write, such as /tmp/kpi.html"
            ),
            (["reconcile", "--since", "2026-11-01", "--until", "2026-11-02", "--output", "reports/"], "--output: reports/ is a folder"),
            // A typo of -99d printed a row for every day back to 1753.
            (["reconcile", "--since", "-99999d", "--until", "0d"], "--since -99999d to --until 0d spans 99999 days; a report covers at most 3660"),
            (["reconcile", "--since", "1970-01-01", "--until", "2026-11-02"], "a report covers at most 3660 (ten years)"),
            // A count of days without its `-` and `d` read as a moment of January 1970.
            (["reconcile", "--since", "30"], "`30` is a count, not a time (Unix seconds have 10 digits): for 30 days before now write -30d"),
            (["read", "delivered_events", "--since", "7"], "`7` is a count, not a time"),
            (["state", "prune", "--older-than", "90"], "for 90 days before now write -90d"),
            (["read", "delivered_events", "--since", "9223372036854775807"], "--since"),
            // Shapes typed by mistake are named with what to write instead.
            (["read", "delivered_events", "--since", "2026-11-01 10:00"], "has no time zone: add Z for UTC (2026-11-01 10:00Z)"),
            (["read", "delivered_events", "--since", "1796540000000"], "looks like Unix milliseconds: give seconds (1796540000)"),
            (["read", "delivered_events", "--since", "-1.5h"], "a relative time is a whole number of days (d) or hours (h)"),
            (["read", "delivered_events", "--since", "2026-11-02", "--until", "2026-11-01"], "--since must be before --until"),
            (["read", "delivered_events", "--until", "2026-11-01 00:00"], "--until must be an ISO 8601 time"),
            (["reconcile", "--since", "2026-02-30", "--until", "0d"], "`2026-02-30` is not a day of the calendar"),
            (["reconcile", "--since", "-7d", "--until", "2026-12-01T00:00"], "--until takes a date"),
            (["state", "reset", "no_such_stream", "--yes"], "unknown stream"),
        ]
    )
    func badOptions(arguments: [String], mentions: String) async throws {
        let result = try await CLIRunner.run(arguments)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(mentions))
    }

    @Test("a duplicate YAML key is reported by name and position, without quoting the manifest")
    func duplicateYAMLKey() async throws {
        let path = TemporaryPaths.url("dup", suffix: ".yaml").path
        try """
        manifest_version: 1.0
        id: conn::third_party::ads::meta::conversions_api::rest
        pixels:
          - {id: "1", access_token: inline-secret-token-123}
        id: again
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await CLIRunner.run(["validate", "--manifest", path])
        #expect(result.status == 2)
        #expect(result.stdout.contains("duplicate key `id`"))
        #expect(!(result.stdout + result.stderr).contains("inline-secret-token-123"))
    }

    @Test("normalize over many blocks: every line answered in order, lines longer than a block or than 1 MiB refused in place")
    func normalizeBlocks() async throws {
        var lines: [String] = []
        for index in 0..<90_000 {
            switch index % 4 {
            case 0: lines.append(#"{"field":"em","value":" Buyer.\#(index)@Example.COM "}"#)
            case 1: lines.append(#"{"field":"ph","value":"+1 (650) 555-\#(String(format: "%04d", index % 10_000))"}"#)
            case 2: lines.append(#"{"field":"ct","value":"São Paulo \#(index)"}"#)
            default: lines.append(#"{"field":"db","value":"19\#(10 + index % 80)-02-3\#(index % 2)"}"#)
            }
            if index == 30_000 { lines.append(#"{"field":"em","value":""# + String(repeating: "x", count: 5 << 20) + #""}"#) }
            if index == 60_000 { lines.append(#"{"field":"em","value":""# + String(repeating: "y", count: 3 << 19) + #""}"#) }
        }
        let result = try await CLIRunner.run(["normalize"], stdin: lines.joined(separator: "\n"))
        #expect(result.status == 0, "\(result.stderr)")
        let normalizer = Normalizer(today: .utcNow())
        let expected = lines.map {
            $0.utf8.count > NormalizationLine.maximumLineBytes
                ? NormalizationLine.overlongLine : NormalizationLine.respond(to: $0, normalizer: normalizer)
        }
        let answers = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(answers.count == expected.count)
        #expect(answers == expected)
    }

    @Test("normalize ignores a byte order mark before the first line (Windows tools write one); one inside the input is an error naming it")
    func normalizeByteOrderMark() async throws {
        let line = #"{"field":"em","value":"A@B.co"}"#
        let result = try await CLIRunner.run(["normalize"], stdin: "\u{FEFF}" + line + "\n\u{FEFF}" + line + "\n" + line + "\n")
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines.first?.contains(#""normalized":"a@b.co""#) == true)
        #expect(lines.dropFirst().first?.contains("byte order mark (U+FEFF)") == true)
        #expect(lines.last == lines.first)
    }

    @Test("normalize refuses input in UTF-16 (as Windows PowerShell writes files), naming it and how to convert, rather than answer garbage per line")
    func normalizeWideInput() async throws {
        let line = #"{"field":"em","value":"A@B.co"}"# + "\n"
        for (text, encoding) in [(line.map { "\($0)\u{0}" }.joined(), "UTF-16LE"), (line.map { "\u{0}\($0)" }.joined(), "UTF-16BE")] {
            let result = try await CLIRunner.run(["normalize"], stdin: text + text)
            #expect(result.status == 2 && result.stdout.isEmpty, "\(encoding): \(result.stdout)")
            #expect(
                result.stderr.contains("standard input is \(encoding)") && result.stderr.contains("iconv -f \(encoding) -t UTF-8"),
                "\(result.stderr)"
            )
        }
    }

    @Test("normalize answers every line, including invalid UTF-8 and impossible birth dates, and keeps going")
    func normalizeBadLines() async throws {
        let input =
            "{\"field\":\"db\",\"value\":\"12345678901234567890\"}\n{\"field\":\"fn\",\"value\":\"\u{FF}\"}\n{\"field\":\"em\",\"value\":\"A@B.co\"}\n"
        let result = try await CLIRunner.run(["normalize"], stdin: input)
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].contains("\"error\"") && lines[2].contains("\"normalized\":\"a@b.co\""))
    }
}

@Suite("help topics")
struct HelpTopicTests {
    @Test("help of an unknown command is an error naming it; known commands and subcommands still explain themselves")
    func unknownHelpTopic() async throws {
        let unknown = try await CLIRunner.run(["help", "sever"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("`sever` is not a capi-connector command"))
        #expect(try await CLIRunner.run(["help", "serve"]).status == 0)
        #expect(try await CLIRunner.run(["help", "state", "reset"]).status == 0)
        #expect(try await CLIRunner.run(["help", "state", "nope"]).status == 64)
    }
}

@Suite("serve's metrics and state at start-up", .serialized)
struct StartupObservabilityTests {
    @Test("every configured pixel and source has its series at 0 before the first event, with capi_build_info")
    func zeroSeries() async throws {
        let folder = TemporaryPaths.url("metrics")
        let (serve, port) = try await CLIRunner.startListening(
            ["serve", "--sandbox", "--state", "sqlite:" + folder.appendingPathComponent("state.sqlite").path],
            environment: ServeProcessTests.environment()
        )
        try await serve.stopped {
            let fetch = try await CLIRunner.get("http://127.0.0.1:\(port)/metrics")
            let lines = fetch.split(separator: "\n").map(String.init)
            func series(_ name: String, _ labels: [String]) -> String? {
                lines.first { $0.hasPrefix(name + "{") && labels.allSatisfy($0.contains) }
            }
            #expect(series("capi_build_info", ["version=\""]).map { $0.hasSuffix(" 1") || $0.hasSuffix(" 1.0") } == true)
            #expect(series("capi_events_received_total", ["pixel_id=\"555000111\"", "source=\"default\""])?.hasSuffix(" 0") == true)
            #expect(series("capi_signature_failures_total", ["reason=\"bad_signature\"", "source=\"default\""])?.hasSuffix(" 0") == true)
            #expect(series("capi_events_forwarded_total", ["pixel_id=\"555000111\""])?.hasSuffix(" 0") == true)
            #expect(series("capi_events_conflicting_total", ["pixel_id=\"555000111\"", "source=\"default\""])?.hasSuffix(" 0") == true)
            // Every family the contract names, on one scrape of the sidecar, before anything happened
            // (the pull counter at 0: a sidecar pulls nothing).
            let contract = [
                "capi_events_received_total", "capi_events_forwarded_total", "capi_events_pulled_total", "capi_retries_total",
                "capi_dlq_events", "capi_signature_failures_total", "capi_duplicates_total", "capi_outbox_depth",
                "capi_schema_drift_alarms_total", "capi_forward_batch_size", "capi_ingest_latency_seconds",
            ]
            let families = Set(lines.compactMap { $0.hasPrefix("# TYPE ") ? $0.split(separator: " ")[2] : nil }.map(String.init))
            #expect(contract.filter { !families.contains($0) } == [])
            #expect(series("capi_events_pulled_total", ["pixel_id=\"555000111\""])?.hasSuffix(" 0") == true)

            // The same key with other content: a 409, counted as a conflict and nothing else.
            let time = Int(Date().timeIntervalSince1970) - 10
            func lead(_ email: String) -> String {
                #"{"pixel_id":"555000111","event_name":"Lead","event_time":\#(time),"event_id":"conflict-1","action_source":"email","user_data":{"em":"\#(email)"}}"#
            }
            #expect(try await ServeProcessTests.post(lead("first@example.com"), to: "http://127.0.0.1:\(port)/v1/events").status == 202)
            #expect(try await ServeProcessTests.post(lead("other@example.com"), to: "http://127.0.0.1:\(port)/v1/events").status == 409)
            let after = try await CLIRunner.get("http://127.0.0.1:\(port)/metrics").split(separator: "\n").map(String.init)
            func count(_ name: String) -> String? {
                after.first { $0.hasPrefix(name + "{") && $0.contains("pixel_id=\"555000111\"") && $0.contains("source=\"default\"") }?
                    .split(separator: " ").last.map(String.init)
            }
            #expect(count("capi_events_conflicting_total") == "1")
            #expect(count("capi_events_received_total") == "1" && count("capi_events_rejected_total") == "0")

            // A pixel the manifest does not name: its refusal is counted as `unconfigured`, and no
            // other series is made for it (they can never count anything).
            let stranger = lead("x@example.com").replacingOccurrences(of: "555000111", with: "999000999")
            #expect(try await ServeProcessTests.post(stranger, to: "http://127.0.0.1:\(port)/v1/events").status == 400)
            let last = try await CLIRunner.get("http://127.0.0.1:\(port)/metrics").split(separator: "\n").map(String.init)
            let unconfigured = last.filter { $0.hasPrefix("capi_") && $0.contains("pixel_id=\"unconfigured\"") }
            #expect(
                unconfigured.count == 1 && unconfigured[0].hasPrefix("capi_events_rejected_total{") && unconfigured[0].hasSuffix(" 1"),
                "\(unconfigured)"
            )
        }
    }
}

@Suite("numeric options")
struct NumericOptionTests {
    @Test(
        "a negative number after a numeric option is that option's value, refused by its own rule (it read as a missing value)",
        arguments: [
            (["serve", "--shutdown-timeout", "-1"], "--shutdown-timeout must be a positive number of seconds"),
            (["sandbox", "--stats-page-size", "-1"], "--stats-page-size must be positive"),
            (["sandbox", "--seed", "-3"], "The value '-3' is invalid for '--seed <seed>'"),
            (["health", "--timeout", "-0.5"], "--timeout must be more than 0"),
        ]
    )
    func negativeValues(arguments: [String], message: String) async throws {
        let result = try await CLIRunner.run(arguments)
        #expect(result.status == 64 && result.stderr.contains(message) && !result.stderr.contains("Missing value"), "\(result.stderr)")
    }
}

@Suite("state URLs")
struct StateURLOptionTests {
    @Test(
        "a postgres URL that cannot be read is exit 64 naming where it came from and what to encode, never repeating the password",
        arguments: [
            (
                ["state", "show", "--state", "postgres://app:pa#ss-Hidden@db.internal:5432/capi"], [:],
                "--state: the postgres state URL cannot be read"
            ),
            (
                ["dlq", "list"], ["CAPI_STATE_URL": "postgres://app:pa/ss-Hidden@db.internal/capi"],
                "CAPI_STATE_URL: the postgres state URL cannot be read"
            ),
            (
                ["read", "delivered_events"], ["CAPI_STATE_URL": "postgres://app:Hidden@db.internal:port/capi"],
                "CAPI_STATE_URL: the postgres state URL has an invalid port"
            ),
        ]
    )
    func unreadable(arguments: [String], environment: [String: String], message: String) async throws {
        let result = try await CLIRunner.run(arguments, environment: environment)
        #expect(result.status == 64 && result.stderr.contains(message), "\(result.stderr)")
        #expect(!result.stderr.contains("Hidden") && !result.stdout.contains("Hidden"))
    }

    @Test("a command that reads the manifest names the manifest's state.url when no --state was given")
    func fromManifest() async throws {
        let result = try await CLIRunner.run(
            ["flush", "--once"],
            environment: [
                "CAPI_STATE_URL": "postgres://app:pa#ss-Hidden@db.internal/capi", "META_PIXEL_ID": "1234567890",
                "CAPI_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ]
        )
        #expect(
            result.status == 2 && result.stderr.contains("state.url (the manifest's, or CAPI_STATE_URL): the postgres state URL cannot be read"),
            "\(result.stderr)"
        )
        #expect(!result.stderr.contains("Hidden"))
    }
}
