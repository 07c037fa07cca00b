import Crypto
import Foundation
import PostgresNIO
import TestSupport
import Testing

/// `capi-connector` as Lambda's provided.al2023 runtime starts it: a `bootstrap` with no arguments,
/// `AWS_LAMBDA_RUNTIME_API` pointing at a stand-in of the Runtime API, state in PostgreSQL.
@Suite("lambda as a process", .serialized)
struct LambdaProcessTests {
    static let secret = ServeProcessTests.secret

    /// A signed API Gateway event carrying one mirrored Lead.
    static func event(_ eventID: String, version: String, base64: Bool = false) -> [UInt8] {
        let body =
            #"{"pixel_id":"555000111","event_name":"Lead","event_time":\#(Int(Date().timeIntervalSince1970) - 10),"event_id":"\#(eventID)","action_source":"email","user_data":{"em":"lead-\#(eventID)@example.com"}}"#
        let id = "msg_\(UUID().uuidString)"
        let timestamp = Int(Date().timeIntervalSince1970)
        let key = SymmetricKey(data: Data(base64Encoded: String(secret.dropFirst(6)))!)
        let signature = "v1," + Data(HMAC<SHA256>.authenticationCode(for: Array("\(id).\(timestamp).\(body)".utf8), using: key)).base64EncodedString()
        let headers = ["content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature]
        let text = base64 ? Data(body.utf8).base64EncodedString() : body
        let object: [String: Any] =
            version == "2.0"
            ? [
                "version": "2.0", "rawPath": "/v1/events", "rawQueryString": "", "headers": headers,
                "requestContext": ["http": ["method": "POST", "sourceIp": "198.51.100.7"], "stage": "$default"],
                "body": text, "isBase64Encoded": base64,
            ]
            : [
                "path": "/v1/events", "httpMethod": "POST", "headers": headers, "multiValueHeaders": headers.mapValues { [$0] },
                "requestContext": ["identity": ["sourceIp": "198.51.100.7"]], "body": text, "isBase64Encoded": base64,
            ]
        return Array(try! JSONSerialization.data(withJSONObject: object))
    }

    static func status(_ outcome: RuntimeAPIStandIn.Outcome) -> Int {
        guard case .response = outcome else { return 0 }
        return outcome.json["statusCode"] as? Int ?? 0
    }

    /// The built binary under the name Lambda runs, in a fresh folder.
    static func bootstrap() throws -> URL {
        let folder = TemporaryPaths.url("lambda")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let link = folder.appendingPathComponent("bootstrap")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: CLIRunner.executable)
        return link
    }

    static func start(_ executable: URL, arguments: [String] = [], environment: [String: String], stdout: String, stderr: String) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = CLIRunner.repositoryRoot
        process.environment = ProcessInfo.processInfo.environment.filter { ProcessRunner.inherited($0.key) }.merging(environment) { $1 }
        for path in [stdout, stderr] { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        process.standardOutput = FileHandle(forWritingAtPath: stdout)
        process.standardError = FileHandle(forWritingAtPath: stderr)
        try process.run()
        return process
    }

    @Test("state in SQLite is an init error naming the reason, reported to the Runtime API, and exit 1")
    func refusesSQLite() async throws {
        let runtime = RuntimeAPIStandIn()
        try await runtime.withRunning { endpoint in
            var environment = ServeProcessTests.environment()
            environment["AWS_LAMBDA_RUNTIME_API"] = endpoint
            environment["CAPI_STATE_URL"] = "sqlite:/tmp/lambda-\(UUID().uuidString).sqlite"
            let result = try await CLIRunner.run(["lambda"], environment: environment)
            #expect(result.status == 1)
            let outcome = try await runtime.outcome(of: RuntimeAPIStandIn.initializationID)
            guard case .error(let type, _) = outcome else {
                Issue.record("expected an init error, got \(outcome)")
                return
            }
            #expect(type == "State")
            #expect((outcome.json["errorMessage"] as? String)?.contains("a Lambda's disk is not durable") == true)
            #expect(runtime.polls == 0, "no invocation is asked for after an init error")
        }
        let outside = try await CLIRunner.run(["lambda"], environment: ServeProcessTests.environment())
        #expect(outside.status == 2 && outside.stderr.contains("AWS_LAMBDA_RUNTIME_API is not set"))
    }

    @Test(
        "as bootstrap: signed v1 and v2 events answered 202, a forged one 401, connections re-opened after a freeze, the rest sent once by flush --once",
        .enabled(if: TestPostgres.enabled)
    )
    func bootstrapOverPostgres() async throws {
        let (database, stateURL) = try await TestPostgres.createDatabase(prefix: "lambda")
        try await CLIRunner.withSandbox { sandboxPort in
            let runtime = RuntimeAPIStandIn()
            try await runtime.withRunning { endpoint in
                var environment = ServeProcessTests.environment(graphURL: "http://127.0.0.1:\(sandboxPort)")
                environment["AWS_LAMBDA_RUNTIME_API"] = endpoint
                environment["CAPI_STATE_URL"] = stateURL
                // Per-event lines, to see the run_id they carry.
                environment["CAPI_LOG_LEVEL"] = "debug"
                let logs = try TemporaryPaths.folder("lambda").appendingPathComponent("bootstrap").path
                let process = try Self.start(Self.bootstrap(), environment: environment, stdout: logs + ".out", stderr: logs + ".err")
                try await process.stopped(with: SIGKILL) {
                    // Deadlines too short to forward: the events stay in the outbox for flush.
                    let first = try await runtime.outcome(
                        of: runtime.enqueue(Self.event("lambda-1", version: "2.0"), deadline: .milliseconds(500), id: "request-lambda-1")
                    )
                    #expect(Self.status(first) == 202, "\(first.json)")
                    var forged = try #require(JSONSerialization.jsonObject(with: Data(Self.event("lambda-x", version: "2.0"))) as? [String: Any])
                    forged["body"] = (forged["body"] as! String).replacingOccurrences(of: "lambda-x", with: "lambda-y")
                    let refused = try await runtime.invoke(Array(try JSONSerialization.data(withJSONObject: forged)), deadline: .milliseconds(500))
                    #expect(Self.status(refused) == 401)

                    // A freeze: the process stops, the database drops its connections, the process resumes.
                    kill(process.processIdentifier, SIGSTOP)
                    _ = try await TestPostgres.withClient { client in
                        try await client.query(
                            PostgresQuery(
                                unsafeSQL:
                                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)' AND pid <> pg_backend_pid()"
                            )
                        )
                    }
                    try await Task.sleep(for: .milliseconds(1_100))
                    kill(process.processIdentifier, SIGCONT)
                    let thawed = try await runtime.invoke(Self.event("lambda-2", version: "1.0", base64: true), deadline: .milliseconds(500))
                    #expect(Self.status(thawed) == 202, "\(thawed.json)")

                    let flush = try await CLIRunner.run(["flush", "--once"], environment: environment)
                    #expect(flush.status == 0, "\(flush.stderr)")
                    let counts = try await ServeProcessTests.receivedCounts(sandboxPort: sandboxPort)
                    #expect(counts == ["lambda-1": 1, "lambda-2": 1])

                    let stderr = try String(contentsOfFile: logs + ".err", encoding: .utf8)
                    #expect(stderr.contains("first invocation answered"))
                    // Every line names its run: an invocation's lines its request id, the rest the process's.
                    let lines = stderr.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                    #expect(!lines.isEmpty && lines.allSatisfy { $0["run_id"] is String }, "a line without run_id")
                    let accepted = lines.first { $0["message"] as? String == "event accepted" && $0["event_id"] as? String == "lambda-1" }
                    #expect(accepted?["run_id"] as? String == "request-lambda-1", "\(String(describing: accepted))")
                    let answered = lines.first { $0["message"] as? String == "first invocation answered" }
                    #expect((answered?["run_id"] as? String)?.hasPrefix("lambda-") == true, "\(String(describing: answered))")
                    let stdout = try String(contentsOfFile: logs + ".out", encoding: .utf8)
                    #expect(stdout.contains("\"CloudWatchMetrics\"") && stdout.contains("capi_events_received_total"))
                    #expect(!stdout.contains("lead-lambda") && !stderr.contains("lead-lambda"), "no raw email in any output")
                }
            }
        }
    }
}
