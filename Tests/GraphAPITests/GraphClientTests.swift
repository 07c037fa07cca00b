import CAPICore
import Foundation
import GraphAPI
import Hummingbird
import NIOCore
import Synchronization
import TestSupport
import Testing

@testable import GraphSandbox

@Suite("Graph client against the sandbox")
struct GraphClientTests {
    @Test("a batch is received once and answered in Meta's shape")
    func sendBatch() async throws {
        try await withSandbox { baseURL, sandbox in
            let receipt = try await client(baseURL).sendEvents(
                pixelID: sandboxPixel,
                accessToken: Secret("t"),
                encodedEvents: (0..<5).map { ByteBuffer(bytes: wireEvent(id: "e\($0)")) },
                testEventCode: "TEST1"
            )
            #expect(receipt.eventsReceived == 5)
            #expect(receipt.fbtraceID?.isEmpty == false)
            #expect(await sandbox.receivedCounts(pixelID: sandboxPixel) == Dictionary(uniqueKeysWithValues: (0..<5).map { ("e\($0)", 1) }))
        }
    }

    @Test("the sandbox tells event ids apart byte for byte, as Meta does")
    func eventIDsAsBytes() async throws {
        let composed = "caf\u{E9}-7"
        let decomposed = "cafe\u{301}-7"
        try await withSandbox { baseURL, sandbox in
            _ = try await client(baseURL).sendEvents(
                pixelID: sandboxPixel,
                accessToken: Secret("t"),
                encodedEvents: [composed, decomposed, composed].map { ByteBuffer(bytes: wireEvent(id: $0)) }
            )
            let listed = try await client(baseURL).get(url: "\(baseURL)/_sandbox/events?pixel_id=\(sandboxPixel)", accessToken: nil)
            let rows = listed.body["data"]?.arrayValue ?? []
            let received = rows.map { row -> ([UInt8], Int64) in
                let count: Int64 = if case .integer(let count)? = row["received"] { count } else { 0 }
                return (Array((row["event_id"]?.stringValue ?? "").utf8), count)
            }
            #expect(received.count == 2)
            #expect(received.first { $0.0 == Array(composed.utf8) }?.1 == 2)
            #expect(received.first { $0.0 == Array(decomposed.utf8) }?.1 == 1)
        }
    }

    @Test("the sandbox keeps the newest events up to its bound; a kept id that comes again counts twice")
    func boundedSandboxMemory() async throws {
        var configuration = GraphSandbox.Configuration()
        configuration.maxStoredEventsPerPixel = 10
        try await withSandbox(configuration) { baseURL, sandbox in
            for batch in 0..<5 { try await sendBatch(baseURL, ids: (0..<5).map { "b\(batch * 5 + $0)" }) }
            let kept = await sandbox.receivedCounts(pixelID: sandboxPixel)
            // 25 sent, bound 10: the oldest were forgotten a tenth at a time, the newest are all there.
            #expect(kept.count <= 10)
            #expect(Set((20..<25).map { "b\($0)" }).isSubset(of: Set(kept.keys)))
            #expect(kept["b0"] == nil)
            try await sendBatch(baseURL, ids: ["b24"])
            #expect(await sandbox.receivedCounts(pixelID: sandboxPixel)["b24"] == 2)
        }
    }

    @Test("counting every event id: each id sent is counted, however few events the sandbox keeps")
    func everyEventIDCounted() async throws {
        var configuration = GraphSandbox.Configuration()
        configuration.maxStoredEventsPerPixel = 10
        configuration.countsEveryEventID = true
        try await withSandbox(configuration) { baseURL, sandbox in
            for batch in 0..<5 { try await sendBatch(baseURL, ids: (0..<5).map { "c\(batch * 5 + $0)" }) }
            // The oldest id, long forgotten as an event, comes again: it counts twice, not as new.
            try await sendBatch(baseURL, ids: ["c0"])
            let counts = await sandbox.receivedCounts(pixelID: sandboxPixel)
            #expect(counts == Dictionary(uniqueKeysWithValues: (0..<25).map { ("c\($0)", $0 == 0 ? 2 : 1) }))
            // The events themselves stay bounded.
            let listed = try await client(baseURL).get(url: "\(baseURL)/_sandbox/events?pixel_id=\(sandboxPixel)", accessToken: nil)
            #expect((listed.body["data"]?.arrayValue?.count ?? 0) <= 10, "\(listed.body)")
            #expect(await sandbox.receivedCounts(pixelID: "another-pixel").isEmpty)
        }
    }

    /// One request to the sandbox's pixel with an event for each id.
    private func sendBatch(_ baseURL: String, ids: [String]) async throws {
        _ = try await client(baseURL).sendEvents(
            pixelID: sandboxPixel,
            accessToken: Secret("t"),
            encodedEvents: ids.map { ByteBuffer(bytes: wireEvent(id: $0)) }
        )
    }

    @Test("an event 8 days old is an invalid batch with Meta's subcode")
    func tooOld() async throws {
        try await withSandbox { baseURL, _ in
            let old = wireEvent(id: "old", time: Int64(Date().timeIntervalSince1970) - 8 * 86_400)
            do throws(GraphError) {
                _ = try await client(baseURL).sendEvents(pixelID: sandboxPixel, accessToken: Secret("t"), encodedEvents: [ByteBuffer(bytes: old)])
                Issue.record("accepted an 8-day-old event")
            } catch {
                #expect(error.errorClass == .invalid)
                #expect(error.code == 100 && error.subcode == 2_804_003)
                #expect(error.fbtraceID != nil)
            }
        }
    }

    @Test("a wrong token is an auth error; the token never appears in the error")
    func badToken() async throws {
        try await withSandbox(.init(accessTokens: ["right-token"])) { baseURL, _ in
            do throws(GraphError) {
                _ = try await client(baseURL).sendEvents(
                    pixelID: sandboxPixel,
                    accessToken: Secret("wrong-token-123"),
                    encodedEvents: [ByteBuffer(bytes: wireEvent(id: "x"))]
                )
                Issue.record("accepted a wrong token")
            } catch {
                #expect(error.errorClass == .auth)
                #expect(error.code == 190)
                #expect(!error.description.contains("wrong-token-123"))
                #expect(RetryPolicy().decide(error, attempt: 1) == .pause(.auth))
            }
        }
    }

    @Test(
        "each injected fault is classified as Meta's guidance says",
        arguments: [
            (FaultPlan.Kind.serverError, GraphErrorClass.transient),
            (.throttle, .throttled),
            (.timeout, .transient),
            (.reset, .transient),
            (.invalid, .invalid),
            (.garbage, .transient),
            (.pagingLoop, .transient),
        ]
    )
    func faultClasses(kind: FaultPlan.Kind, expected: GraphErrorClass) async throws {
        let configuration = GraphSandbox.Configuration(faults: FaultPlan(rate: 1, kinds: [kind]), timeoutDelay: .milliseconds(2500))
        try await withSandbox(configuration) { baseURL, sandbox in
            do throws(GraphError) {
                _ = try await client(baseURL, timeout: kind == .timeout ? .milliseconds(1000) : .seconds(10)).sendEvents(
                    pixelID: sandboxPixel,
                    accessToken: Secret("t"),
                    encodedEvents: [ByteBuffer(bytes: wireEvent(id: "f1"))]
                )
                Issue.record("no fault injected")
            } catch {
                #expect(error.errorClass == expected, "\(error)")
                switch kind {
                case .throttle:
                    #expect([4, 17, 613].contains(error.code ?? 0))
                    #expect(RetryPolicy(random: { 1 }).decide(error, attempt: 1) != .giveUp)
                case .timeout: #expect(error.transport == .timeout)
                case .reset: #expect(error.transport == .connectionReset || error.transport == .connectionFailed)
                case .invalid: #expect(RetryPolicy().decide(error, attempt: 1) == .isolateInvalid)
                case .serverError: #expect(error.isTransient == true)
                case .garbage, .pagingLoop: #expect(error.transport == .malformedResponse, "a 200 that is not an events answer is never a success")
                case .reshape, .reduceData, .warning, .shortCount, .slow:
                    Issue.record("\(kind) changes or delays answers without failing the call; it is not in this test's arguments")
                }
            }
            #expect(await sandbox.receivedCounts(pixelID: sandboxPixel).isEmpty, "a failed call must not record events")
        }
    }

    @Test("a redirect is not followed: the batch, and the token in its body, go nowhere else", arguments: [307, 308, 301])
    func redirectNotFollowed(status: Int) async throws {
        let elsewhere = Mutex(0)
        let target = Router()
        target.post("/v26.0/:pixel/events") { _, _ -> Response in
            elsewhere.withLock { $0 += 1 }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"events_received":1,"messages":[]}"#)))
        }
        target.get("/v26.0/:pixel/events") { _, _ -> Response in
            elsewhere.withLock { $0 += 1 }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"events_received":1,"messages":[]}"#)))
        }
        try await withLoopbackServer(target, label: "graph-elsewhere") { targetPort in
            let relay = Router()
            relay.post("/v26.0/:pixel/events") { request, _ -> Response in
                Response(
                    status: HTTPResponse.Status(code: status),
                    headers: [.location: "http://127.0.0.1:\(targetPort)\(request.uri.path)"]
                )
            }
            try await withLoopbackServer(relay, label: "graph-relay") { relayPort in
                do throws(GraphError) {
                    _ = try await client("http://127.0.0.1:\(relayPort)").sendEvents(
                        pixelID: sandboxPixel,
                        accessToken: Secret("secret-token"),
                        encodedEvents: [ByteBuffer(bytes: wireEvent(id: "r1"))]
                    )
                    Issue.record("a redirect was taken for success")
                } catch {
                    #expect(error.httpStatus == status)
                    #expect(error.message.contains("redirect to http://127.0.0.1:\(targetPort)"), "\(error.message)")
                    #expect(!error.message.contains("secret-token"))
                }
            }
        }
        #expect(elsewhere.withLock { $0 } == 0, "the redirect was followed")
    }

    @Test("an accepted batch's messages and events_received reach the receipt as Meta sent them")
    func answerNotes() async throws {
        let configuration = GraphSandbox.Configuration(faults: FaultPlan(rate: 1, kinds: [.warning, .shortCount]))
        try await withSandbox(configuration) { baseURL, sandbox in
            let receipt = try await client(baseURL).sendEvents(
                pixelID: sandboxPixel,
                accessToken: Secret("t"),
                encodedEvents: [ByteBuffer(bytes: wireEvent(id: "n1")), ByteBuffer(bytes: wireEvent(id: "n2"))]
            )
            #expect(receipt.eventsReceived == 1)
            #expect(receipt.messages.count == 1 && receipt.messages[0].hasPrefix("Sandbox warning"))
            #expect(await sandbox.receivedCounts(pixelID: sandboxPixel).count == 2, "the stand-in keeps every event it under-reports")
        }
    }

    @Test("with faults on, retrying per the policy delivers every batch exactly once")
    func retriesUnderFaults() async throws {
        let configuration = GraphSandbox.Configuration(
            faults: FaultPlan(rate: 0.4, kinds: [.serverError, .throttle, .timeout, .reset]),
            seed: 7,
            timeoutDelay: .milliseconds(3500)
        )
        try await withSandbox(configuration) { baseURL, sandbox in
            // Long enough that only the injected delays time out: a request cut short after the
            // stand-in took its events would be sent twice (1 s was missed on a loaded machine).
            let graph = client(baseURL, timeout: .seconds(3))
            var retries = 0
            for batch in 0..<12 {
                let events = (0..<10).map { ByteBuffer(bytes: wireEvent(id: "b\(batch)-\($0)")) }
                let outcome = await RetryLoop.run(policy: fastPolicy) { () async throws(GraphError) -> SendEventsReceipt in
                    try await graph.sendEvents(pixelID: sandboxPixel, accessToken: Secret("t"), encodedEvents: events)
                }
                guard case .success(let receipt, let attempts) = outcome else {
                    Issue.record("batch \(batch): \(outcome)")
                    return
                }
                #expect(receipt.eventsReceived == 10)
                retries += attempts - 1
            }
            let counts = await sandbox.receivedCounts(pixelID: sandboxPixel)
            #expect(counts.count == 120)
            #expect(counts.values.allSatisfy { $0 == 1 })
            #expect(retries > 0, "the fault plan injected nothing")
        }
    }

    @Test("a read waits for its own timeout: an answer slower than the send timeout is read, while a send that slow times out")
    func readTimeoutApartFromSendTimeout() async throws {
        // Every answer held 800 ms: past the sends' 300 ms, within the reads' 10 s.
        let configuration = GraphSandbox.Configuration(faults: FaultPlan(rate: 1, kinds: [.slow]), timeoutDelay: .milliseconds(800))
        try await withSandbox(configuration) { baseURL, _ in
            let graph = client(baseURL, timeout: .milliseconds(300), readTimeout: .seconds(10))
            let now = Int64(Date().timeIntervalSince1970)
            let stats = try await graph.get(
                "\(sandboxPixel)/stats",
                query: [("aggregation", "event"), ("start_time", String(now - 86_400)), ("end_time", String(now))],
                accessToken: Secret("t")
            )
            #expect(stats.body["data"]?.arrayValue != nil)
            let quality = try await graph.get("dataset_quality", query: [("dataset_id", sandboxPixel)], accessToken: Secret("t"))
            #expect(quality.status == 200)
            do throws(GraphError) {
                _ = try await graph.sendEvents(
                    pixelID: sandboxPixel,
                    accessToken: Secret("t"),
                    encodedEvents: [ByteBuffer(bytes: wireEvent(id: "slow"))]
                )
                Issue.record("a send held past its timeout was answered")
            } catch {
                #expect(error.transport == .timeout, "\(error)")
            }
            // And the other way round: a read held past the read timeout is a timeout too.
            do throws(GraphError) {
                _ = try await client(baseURL, timeout: .seconds(10), readTimeout: .milliseconds(300))
                    .get("dataset_quality", query: [("dataset_id", sandboxPixel)], accessToken: Secret("t"))
                Issue.record("a read held past its timeout was answered")
            } catch {
                #expect(error.transport == .timeout, "\(error)")
            }
        }
    }

    @Test("paging follows paging.next until it is absent")
    func paging() async throws {
        try await withSandbox(.init(statsPageSize: 2)) { baseURL, _ in
            let graph = client(baseURL)
            let now = Int64(Date().timeIntervalSince1970)
            let hourStart = now - now % 3600
            let events = (0..<5).map {
                ByteBuffer(bytes: wireEvent(id: "p\($0)", name: $0 % 2 == 0 ? "Purchase" : "Lead", time: hourStart - Int64($0) * 3600 - 60))
            }
            _ = try await graph.sendEvents(pixelID: sandboxPixel, accessToken: Secret("t"), encodedEvents: events)
            var response = try await graph.get(
                "\(sandboxPixel)/stats",
                query: [("aggregation", "event"), ("start_time", String(now - 86_400)), ("end_time", String(now))],
                accessToken: Secret("t")
            )
            var buckets: [JSONValue] = response.body["data"]?.arrayValue ?? []
            var pages = 1
            while let next = GraphClient.nextPage(of: response) {
                response = try await graph.get(url: next, accessToken: Secret("t"))
                buckets += response.body["data"]?.arrayValue ?? []
                pages += 1
            }
            #expect(pages == 3)
            #expect(buckets.count == 5)
            let total = buckets.flatMap { $0["data"]?.arrayValue ?? [] }.compactMap { if case .integer(let n)? = $0["count"] { n } else { nil } }
                .reduce(0, +)
            #expect(total == 5)
        }
    }

    @Test("a paging.next link naming Meta's host is followed on the configured base URL")
    func pagingThroughARelay() async throws {
        // Meta writes https://graph.facebook.com into its links however it was reached; this
        // machine has no route there, so a link followed as written fails.
        var configuration = GraphSandbox.Configuration(statsPageSize: 2)
        configuration.pagingLinkOrigin = "https://graph.facebook.com"
        try await withSandbox(configuration) { baseURL, _ in
            let graph = client(baseURL)
            let now = Int64(Date().timeIntervalSince1970)
            let events = (0..<5).map { ByteBuffer(bytes: wireEvent(id: "r\($0)", name: "Purchase", time: now - Int64($0) * 3600 - 60)) }
            _ = try await graph.sendEvents(pixelID: sandboxPixel, accessToken: Secret("t"), encodedEvents: events)
            var response = try await graph.get(
                "\(sandboxPixel)/stats",
                query: [("aggregation", "event"), ("start_time", String(now - 86_400)), ("end_time", String(now))],
                accessToken: Secret("t")
            )
            var pages = 1
            while let next = GraphClient.nextPage(of: response) {
                #expect(next.hasPrefix("https://graph.facebook.com/v26.0/\(sandboxPixel)/stats?"))
                response = try await graph.get(next: next, accessToken: Secret("t"))
                pages += 1
            }
            #expect(pages == 3)
        }
    }

    @Test("the stand-in's base URL puts an IPv6 host in brackets")
    func sandboxHostPort() {
        #expect(GraphSandbox.hostPort("127.0.0.1", 8089) == "127.0.0.1:8089")
        #expect(GraphSandbox.hostPort("::1", 8089) == "[::1]:8089")
        #expect(URLComponents(string: "http://" + GraphSandbox.hostPort("::1", 8089))?.port == 8089)
    }

    @Test("paging.next links are moved onto the base URL, unless they are on its origin already")
    func rebasedLinks() {
        let meta = "https://graph.facebook.com/v26.0/123/stats?after=QQ%3D%3D&access_token=x"
        #expect(GraphClient.rebased(meta, onto: "https://relay.example") == "https://relay.example/v26.0/123/stats?after=QQ%3D%3D&access_token=x")
        #expect(
            GraphClient.rebased(meta, onto: "http://127.0.0.1:8080/meta")
                == "http://127.0.0.1:8080/meta/v26.0/123/stats?after=QQ%3D%3D&access_token=x"
        )
        #expect(GraphClient.rebased(meta, onto: "https://graph.facebook.com") == meta)
        #expect(GraphClient.rebased(meta, onto: "https://GRAPH.facebook.com") == meta)
        let relayed = "https://relay.example/meta/v26.0/123/stats?after=x"
        #expect(GraphClient.rebased(relayed, onto: "https://relay.example/meta") == relayed, "a relay that rewrites its links is followed as written")
        #expect(
            GraphClient.rebased(meta, onto: "http://graph.facebook.com") == "http://graph.facebook.com/v26.0/123/stats?after=QQ%3D%3D&access_token=x"
        )
        #expect(
            GraphClient.rebased(meta, onto: "https://graph.facebook.com:8443")
                == "https://graph.facebook.com:8443/v26.0/123/stats?after=QQ%3D%3D&access_token=x"
        )
        #expect(GraphClient.rebased("/v26.0/123/stats?after=y", onto: "https://relay.example") == "https://relay.example/v26.0/123/stats?after=y")
        #expect(GraphClient.rebased("no url at all", onto: "https://relay.example") == nil)
        #expect(GraphClient.rebased("https://[bad", onto: "https://relay.example") == nil)
    }

    @Test("client credentials are exchanged for an app token; a wrong secret is an auth error")
    func clientCredentials() async throws {
        try await withSandbox(.init(appCredentials: (id: "app-1", secret: "app-secret"))) { baseURL, _ in
            let token = try await client(baseURL).exchangeClientCredentials(appID: "app-1", appSecret: Secret("app-secret"))
            #expect(token.revealed.hasPrefix("app-1|"))
            do throws(GraphError) {
                _ = try await client(baseURL).exchangeClientCredentials(appID: "app-1", appSecret: Secret("nope"))
                Issue.record("accepted a wrong secret")
            } catch {
                #expect(error.errorClass == .auth)
            }
        }
    }

    @Test("dataset quality reports match-key coverage from what arrived")
    func datasetQuality() async throws {
        try await withSandbox { baseURL, _ in
            let graph = client(baseURL)
            _ = try await graph.sendEvents(pixelID: sandboxPixel, accessToken: Secret("t"), encodedEvents: [ByteBuffer(bytes: wireEvent(id: "q1"))])
            let response = try await graph.get(
                "dataset_quality",
                query: [("dataset_id", sandboxPixel), ("fields", "web{event_name,event_match_quality}")],
                accessToken: Secret("t")
            )
            let row = try #require(response.body["web"]?.arrayValue?.first)
            #expect(row["event_name"] == .string("Purchase"))
            let keys = row["event_match_quality"]?["match_key_feedback"]?.arrayValue?.compactMap { $0["identifier"]?.stringValue }
            #expect(keys == ["client_user_agent", "em"])
        }
    }
}
