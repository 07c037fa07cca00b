import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import GraphSandbox
import Logging
import PushMode
import TestSupport
import Testing

/// What an attacker or a careless upstream can do to the public endpoint, over real sockets.
@Suite("Push sidecar under hostile input")
struct HardeningHTTPTests {
    static let tightLimits = "header_timeout: 1s, body_timeout: 2s, idle_timeout: 2s, max_buffered_bytes: 1100000"

    /// Signature headers that pass every check made before the body is read.
    static func plausibleSignatureHeaders() -> String {
        "webhook-id: msg_\(UUID().uuidString)\r\nwebhook-timestamp: \(Int64(Date().timeIntervalSince1970))\r\n"
            + "webhook-signature: v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n"
    }

    @Test("an empty form pair on the Graph-compatible route is refused, and the server lives on")
    func emptyFormPair() async throws {
        try await PushStack.run { stack in
            for body in ["=", "&=&", "=&access_token=wrong"] {
                let result = try await post(
                    "\(stack.baseURL)/v26.0/\(testPixel)/events",
                    body: Array(body.utf8),
                    contentType: "application/x-www-form-urlencoded"
                )
                #expect(result.status == 401)
            }
            #expect(try await get("\(stack.baseURL)/healthz").body["status"] == .string("ok"))
        }
    }

    @Test("signatures sent on two webhook-signature lines are both candidates, whichever line holds the valid one")
    func signatureOverTwoLines() async throws {
        try await PushStack.run { stack in
            for (index, validFirst) in [true, false].enumerated() {
                let body = mirroredEvent(id: "two-lines-\(index)")
                var headers = signedHeaders(body)
                let valid = try #require(headers.first { $0.0 == "webhook-signature" })
                headers.removeAll { $0.0 == "webhook-signature" }
                let other = ("webhook-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
                headers += validFirst ? [valid, other] : [other, valid]
                let answer = try await post("\(stack.baseURL)/v1/events", body: body, headers: headers)
                #expect(answer.status == 202, "valid signature on the \(validFirst ? "first" : "second") line: \(answer.body)")
            }
        }
    }

    @Test("an unsigned request is answered before its body is read, and the connection closed")
    func refusalBeforeBody() async throws {
        try await PushStack.run(manifest: try pushManifest(limits: Self.tightLimits)) { stack in
            // 1,000,000 bytes announced, none sent: a server that waited for them would reach the
            // 2 s body timeout and never judge the signature, so a 401 means it answered first.
            let outcome = try await RawConnection.exchange(
                port: stack.port,
                send: "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n",
                timeout: .seconds(15)
            )
            #expect(outcome.received.hasPrefix("HTTP/1.1 401"))
            #expect(outcome.received.contains("missing_signature"))
            #expect(outcome.closedByServer)
        }
    }

    @Test("an answer that says Connection: close closes the connection, also when the whole request arrived before it")
    func closeAfterWholeRequest() async throws {
        try await PushStack.run { stack in
            // Unsigned, body and all in one write: refused before the body is read, by which time
            // the body is already in. The server said close; it kept the connection for a minute.
            let body = String(decoding: mirroredEvent(id: "close-1"), as: UTF8.self)
            let outcome = try await RawConnection.exchange(
                port: stack.port,
                send: "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)",
                timeout: .seconds(15)
            )
            #expect(outcome.received.hasPrefix("HTTP/1.1 401"))
            #expect(outcome.received.lowercased().contains("connection: close"))
            #expect(outcome.closedByServer)
        }
    }

    @Test(
        "a request that asks to close, however it spells it, is answered saying close and the connection closed",
        arguments: [
            "GET /healthz HTTP/1.0\r\n\r\n",
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n",
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: TE, close\r\n\r\n",
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
        ]
    )
    func requestAsksToClose(request: String) async throws {
        // The idle timeout is a minute: a connection still open after 15 s was kept.
        try await PushStack.run { stack in
            let outcome = try await RawConnection.exchange(port: stack.port, send: request, timeout: .seconds(15))
            #expect(outcome.received.hasPrefix("HTTP/1.1 200"))
            #expect(outcome.received.lowercased().contains("connection: close"))
            #expect(outcome.closedByServer)
        }
    }

    @Test("pipelined requests: only the answer to the one that asked to close says so, and both are answered before the close")
    func pipelinedClose() async throws {
        try await PushStack.run { stack in
            let outcome = try await RawConnection.exchange(
                port: stack.port,
                send: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.0\r\n\r\n",
                timeout: .seconds(15)
            )
            let answers = outcome.received.components(separatedBy: "HTTP/1.1 200").dropFirst()
            #expect(answers.count == 2, "\(outcome.received)")
            #expect(answers.first?.lowercased().contains("connection: close") == false)
            #expect(answers.last?.lowercased().contains("connection: close") == true)
            #expect(outcome.closedByServer)
            // An HTTP/1.0 request that asks to keep the connection is not closed after its answer.
            let kept = try await RawConnection.exchange(
                port: stack.port,
                send: "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                timeout: .seconds(2)
            )
            #expect(kept.received.hasPrefix("HTTP/1.1 200"))
            #expect(kept.received.lowercased().contains("connection: keep-alive"), "an HTTP/1.0 client waits to be told")
            #expect(!kept.closedByServer)
            // An HTTP/1.1 request keeps its connection without being told so.
            let plain = try await RawConnection.exchange(port: stack.port, send: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout: .seconds(2))
            #expect(plain.received.hasPrefix("HTTP/1.1 200") && !plain.received.lowercased().contains("connection:"), "\(plain.received)")
        }
    }

    @Test(
        "a request line and headers over the parser's limits are answered 431, after the answers to requests before them; other parse errors are 400"
    )
    func oversizedHead() async throws {
        try await PushStack.run { stack in
            let big = String(repeating: "a", count: 100_000)
            let manyFields = (0..<1_100).map { "X-\($0): 1\r\n" }.joined()
            for head in [
                "POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n",
                "GET /healthz HTTP/1.1\r\nHost: x\r\n\(manyFields)\r\n",
                "GET /\(big) HTTP/1.1\r\nHost: x\r\n\r\n",
            ] {
                let outcome = try await RawConnection.exchange(port: stack.port, send: head, timeout: .seconds(15))
                #expect(outcome.received.hasPrefix("HTTP/1.1 431"), "\(outcome.received.prefix(80))")
                #expect(outcome.received.contains("headers_too_large"))
                #expect(outcome.closedByServer)
            }
            // Pipelined behind a request the parser took: that one is answered, then the 431.
            let pipelined = try await RawConnection.exchange(
                port: stack.port,
                send: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n",
                timeout: .seconds(15)
            )
            #expect(pipelined.received.hasPrefix("HTTP/1.1 200"))
            #expect(pipelined.received.contains("\r\n\r\n{\"status\":\"ok\"}HTTP/1.1 431"), "\(pipelined.received.prefix(400))")
            #expect(pipelined.closedByServer)
            // A head that is malformed rather than large is a 400 (see malformedHeads).
            let malformed = try await RawConnection.exchange(
                port: stack.port,
                send: "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
                timeout: .seconds(15)
            )
            #expect(malformed.received.hasPrefix("HTTP/1.1 400"))
            #expect(malformed.closedByServer)
            // The sidecar serves on.
            #expect(
                try await RawConnection.exchange(port: stack.port, send: "GET /healthz HTTP/1.0\r\n\r\n", timeout: .seconds(15)).received.hasPrefix(
                    "HTTP/1.1 200"
                )
            )
        }
    }

    @Test(
        "a head the parser refuses is answered with the rule it breaks (505 for HTTP/2's preface), never the request's bytes, after pipelined answers",
        arguments: [
            ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "505", "http_version_not_supported", "an HTTP/2 client needs a proxy"),
            ("GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", "400", "malformed_request", "does not end with HTTP/1.1 or HTTP/1.0 and CR LF"),
            ("GET /healthz HTTP/1.1\nHost: x\n\n", "400", "malformed_request", "every line of a head ends with CR LF"),
            ("G@T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "400", "malformed_request", "does not start with a method token"),
            ("GET /secret path HTTP/1.1\r\nHost: x\r\n\r\n", "400", "malformed_request", "a space in the target must be percent-encoded"),
            ("GET /healthz HTTP/1.1\r\nHost: x\r\nSecret Header: 1\r\n\r\n", "400", "malformed_request", "white space before its colon"),
            ("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: secret\r\n\r\n", "400", "malformed_request", "Content-Length is not a decimal"),
            (
                "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nsecret", "400", "malformed_request",
                "Content-Length is given twice",
            ),
            (
                "POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, secret\r\n\r\n0\r\n\r\n", "400", "malformed_request",
                "a Transfer-Encoding must end with chunked",
            ),
        ]
    )
    func malformedHeads(head: String, status: String, error: String, reason: String) async throws {
        try await PushStack.run { stack in
            // Alone, and pipelined behind a request the parser took, which is answered first.
            for (send, prefix) in [(head, "HTTP/1.1 \(status)"), ("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + head, "HTTP/1.1 200")] {
                let outcome = try await RawConnection.exchange(port: stack.port, send: send, timeout: .seconds(15))
                #expect(outcome.received.hasPrefix(prefix), "\(outcome.received.prefix(200))")
                let refusal = try #require(outcome.received.range(of: "HTTP/1.1 \(status)"), "\(outcome.received)")
                let answer = String(outcome.received[refusal.lowerBound...])
                #expect(answer.contains("\"error\":\"\(error)\"") && answer.contains(reason), "\(answer)")
                #expect(answer.lowercased().contains("connection: close") && !answer.contains("secret"), "\(answer)")
                #expect(outcome.closedByServer)
            }
        }
    }

    @Test("a parse error inside a body is the route's to answer: one answer, not a second for the head")
    func malformedBodyAnsweredOnce() async throws {
        try await PushStack.run { stack in
            let outcome = try await RawConnection.exchange(
                port: stack.port,
                send:
                    "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n",
                timeout: .seconds(15)
            )
            #expect(outcome.received.components(separatedBy: "HTTP/1.1 ").count == 2, "\(outcome.received)")
            #expect(!outcome.received.contains("malformed_request"))
            #expect(outcome.closedByServer)
        }
    }

    @Test("over HTTP/1.1, `Transfer-Encoding: gzip, chunked` is answered 501 before the body, signed or not; the event is not taken")
    func codedTransfer() async throws {
        try await PushStack.run { stack in
            // The body is sent plain though gzip is announced: the HTTP layer undoes chunked only,
            // and the route took such a body as it came.
            let body = mirroredEvent(id: "te-gzip")
            let signed = signedHeaders(body).map { "\($0.0): \($0.1)\r\n" }.joined()
            let chunk = String(body.count, radix: 16) + "\r\n" + String(decoding: body, as: UTF8.self) + "\r\n0\r\n\r\n"
            let outcome = try await RawConnection.exchange(
                port: stack.port,
                send:
                    "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\(signed)\r\n\(chunk)",
                timeout: .seconds(15)
            )
            #expect(outcome.received.hasPrefix("HTTP/1.1 501"), "\(outcome.received)")
            #expect(outcome.received.contains("unsupported_transfer_encoding"))
            #expect(outcome.closedByServer)
            // Chunked alone is the HTTP layer's: the same event, signed again, is taken.
            let again = signedHeaders(body).map { "\($0.0): \($0.1)\r\n" }.joined()
            let plain = try await RawConnection.exchange(
                port: stack.port,
                send:
                    "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\(again)\r\n\(chunk)",
                timeout: .seconds(15)
            )
            #expect(plain.received.hasPrefix("HTTP/1.1 202"), "\(plain.received)")
            #expect(plain.received.contains("\"duplicate\":false"), "the coded request must not have been taken")
        }
    }

    @Test("a client that stops halfway through its headers is disconnected after the header timeout")
    func slowHeaders() async throws {
        try await PushStack.run(manifest: try pushManifest(limits: Self.tightLimits)) { stack in
            let outcome = try await RawConnection.exchange(port: stack.port, send: "POST /v1/events HTTP/1.1\r\nHost: x\r\n", timeout: .seconds(15))
            #expect(outcome.closedByServer)
            #expect(outcome.received.isEmpty)
        }
    }

    @Test("a kept-alive connection that goes quiet after an answer is closed after the idle timeout")
    func idleKeepAlive() async throws {
        try await PushStack.run(manifest: try pushManifest(limits: Self.tightLimits)) { stack in
            let started = ContinuousClock.now
            let outcome = try await RawConnection.exchange(port: stack.port, send: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout: .seconds(6))
            #expect(outcome.received.hasPrefix("HTTP/1.1 200"))
            #expect(outcome.closedByServer)
            #expect(ContinuousClock.now - started >= .seconds(1), "closed before the idle timeout")
        }
    }

    @Test("a kept-alive connection may pause longer than the header timeout between requests, within the idle timeout")
    func keepAliveWithinIdle() async throws {
        // Header timeout 1 s, idle timeout 3 s: the second request is sent 2 s after the first, a
        // full second clear of each deadline, so a loaded test run cannot push it past either.
        let limits = "header_timeout: 1s, body_timeout: 2s, idle_timeout: 3s, max_buffered_bytes: 1100000"
        try await PushStack.run(manifest: try pushManifest(limits: limits)) { stack in
            let request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            let started = ContinuousClock.now
            let outcome = try await RawConnection.exchange(
                port: stack.port,
                send: request,
                later: [(after: .seconds(2), bytes: request)],
                timeout: .seconds(12)
            )
            #expect(outcome.received.components(separatedBy: "HTTP/1.1 200").count - 1 == 2)
            #expect(outcome.closedByServer)
            // Closed by the idle deadline after the second answer, not before it.
            #expect(ContinuousClock.now - started >= .milliseconds(4900))
        }
    }

    @Test("a body announced but never sent is dropped after the body timeout, and frees its memory reservation")
    func stalledBody() async throws {
        try await PushStack.run(manifest: try pushManifest(limits: Self.tightLimits)) { stack in
            let head =
                "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\(Self.plausibleSignatureHeaders())Content-Length: 1000000\r\n\r\n"
            // Two stalled requests each announce most of the 1.1 MB budget: whichever reserves it
            // first holds it until the body timeout drops it, and the other is turned away at once.
            // Which one is first is the server's business (on a loaded machine the later may win),
            // so the outcomes are judged as a pair; the client's limits are generous for the same reason.
            try await withThrowingTaskGroup(of: RawConnection.Outcome.self) { group in
                group.addTask { try await RawConnection.exchange(port: stack.port, send: head + "{\"pixel", timeout: .seconds(30)) }
                try await Task.sleep(for: .milliseconds(300))
                group.addTask { try await RawConnection.exchange(port: stack.port, send: head, timeout: .seconds(30)) }
                var outcomes: [RawConnection.Outcome] = []
                for try await outcome in group { outcomes.append(outcome) }
                let refused = outcomes.filter { $0.received.hasPrefix("HTTP/1.1 503") }
                #expect(refused.count == 1, "\(outcomes.map(\.received))")
                #expect(refused.first?.received.lowercased().contains("retry-after: 1") == true)
                let stalled = outcomes.filter { !$0.received.hasPrefix("HTTP/1.1 503") }
                #expect(stalled.count == 1 && stalled[0].closedByServer, "the server must not wait for a body that never comes")
            }
            // The reservation was released: a normal signed event goes through.
            let body = mirroredEvent(id: "after-stall")
            #expect(try await post("\(stack.baseURL)/v1/events", body: body, headers: signedHeaders(body)).status == 202)
        }
    }

    @Test("past the per-client rate a client gets 429 with Retry-After")
    func rateLimit() async throws {
        try await PushStack.run(manifest: try pushManifest(limits: "rate_limit_per_client: 0.01, rate_limit_burst: 2")) { stack in
            var statuses: [Int] = []
            var retryAfter: String?
            for index in 0..<4 {
                let body = mirroredEvent(id: "rate-\(index)")
                let result = try await post("\(stack.baseURL)/v1/events", body: body, headers: signedHeaders(body))
                statuses.append(result.status)
                if result.status == 429 { retryAfter = result.headers["retry-after"] }
            }
            #expect(statuses.prefix(2) == [202, 202])
            #expect(statuses.contains(429))
            // A token every 100 s: the wait is long whatever the machine load, and said so.
            #expect(retryAfter.flatMap(Int.init).map { $0 >= 1 } == true)
        }
    }

    @Test("a signed body that repeats a key is refused as invalid JSON")
    func duplicateKeys() async throws {
        try await PushStack.run { stack in
            let body = Array(
                String(decoding: mirroredEvent(id: "dup-1"), as: UTF8.self).replacingOccurrences(
                    of: "\"event_id\"",
                    with: "\"event_id\":\"dup-0\",\"event_id\""
                ).utf8
            )
            let result = try await post("\(stack.baseURL)/v1/events", body: body, headers: signedHeaders(body))
            #expect(result.status == 400)
            #expect(result.body["error"] == .string("invalid_json"))
        }
    }

    @Test("retries are counted per event: a fresh event never inherits an older event's spent attempts")
    func perEventRetryBudget() async throws {
        // Every send fails with a 5xx and max_attempts is 3. In one batch, the event that already
        // failed twice is dead-lettered on this third failure; the new one is only rescheduled.
        let manifest = try pushManifest()
        let path = TemporaryPaths.url("retry").appendingPathComponent("state.sqlite").path
        let sandbox = GraphSandbox(configuration: .init(faults: FaultPlan(rate: 1.0, kinds: [.serverError])))
        try await withStateRegistry(.sqlite(path: path), logger: Logger(label: "test")) { registry in
            try await sandbox.withRunning { url in
                let forwarder = Forwarder(
                    registry: registry,
                    graph: GraphClient(configuration: .init(baseURL: url, version: "v26.0")),
                    pixels: manifest.pixels,
                    configuration: .init(maxEvents: 50),
                    policy: RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(1)),
                    logger: Logger(label: "test")
                )
                let time = WallClock.system.seconds() - .seconds(60)
                func item(_ id: String) -> IntakeItem {
                    let payload =
                        #"{"action_source":"other","event_id":"\#(id)","event_name":"Lead","event_time":\#(time.rawValue),"user_data":{"em":["\#(SHA256Hex.digest(id))"]}}"#
                    return IntakeItem(
                        key: EventKey(pixelID: testPixel, eventID: id, eventTime: time),
                        contentHash: id,
                        payload: payload,
                        answer: "{}",
                        deliveredRecord: "{}",
                        receivedAt: UnixMillis(1)
                    )
                }
                _ = try await registry.commitIntake([item("old")])
                for _ in 0..<2 {
                    let claimed = try await registry.claimOutbox(
                        limit: 10,
                        owner: "test",
                        lease: .seconds(60),
                        now: WallClock.system.now(),
                        pixelID: nil
                    )
                    try await registry.reschedule(claimed, nextAttemptAt: UnixMillis(0), lastError: "test")
                }
                _ = try await registry.commitIntake([item("new")])
                #expect(try await forwarder.forwardOnce() == 2)
                let letters = try await registry.deadLetters(limit: 10)
                #expect(letters.map(\.key.eventID) == ["old"])
                #expect(letters.first?.attempts == 3)
                #expect(letters.first?.reason.message.contains("after 3 attempts") == true)
                #expect(try await registry.outboxDepth() == 1)
            }
        }
    }
}
