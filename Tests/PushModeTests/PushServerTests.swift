import CAPICore
import ConnectorRuntime
import Crypto
import Foundation
import GraphSandbox
import TestSupport
import Testing

@Suite("Push sidecar over HTTP")
struct PushServerTests {
    @Test("a signed event is acknowledged, reaches the stand-in once with em and ph hashed, and a retry is a duplicate")
    func acceptForwardAndDeduplicate() async throws {
        try await PushStack.run { stack in
            let body = mirroredEvent(id: "order-1")
            let headers = signedHeaders(body)
            let first = try await post("\(stack.baseURL)/v1/events", body: body, headers: headers)
            #expect(first.status == 202)
            #expect(first.body["duplicate"] == .bool(false) && first.body["event_id"] == .string("order-1"))
            let retry = try await post("\(stack.baseURL)/v1/events", body: body, headers: headers)
            #expect(retry.status == 202)
            #expect(retry.body["duplicate"] == .bool(true))
            // A second delivery under a new message id is still the same event.
            let again = try await post("\(stack.baseURL)/v1/events", body: body, headers: signedHeaders(body))
            #expect(again.body["duplicate"] == .bool(true))

            try await stack.drained()
            let received = try await get("\(stack.sandboxURL)/_sandbox/events?pixel_id=\(testPixel)")
            let events = try #require(received.body["data"]?.arrayValue)
            #expect(events.count == 1)
            #expect(events.first?["received"] == .integer(1))
            let user = events.first?["event"]?["user_data"]
            #expect(user?["em"] == .array([.string(SHA256Hex.digest("jane.doe@example.com"))]))
            #expect(user?["ph"] == .array([.string(SHA256Hex.digest("16505551212"))]))
            let delivered = try await stack.registry.deliveredEvents(since: nil)
            #expect(delivered.first?.outcome == .forwarded)
            #expect(delivered.first?.fbtraceID?.isEmpty == false)
        }
    }

    @Test(
        "a store that does not commit gets the sender 503 and Retry-After within push.limits.commit_timeout; the retry after it commits is a duplicate",
        .timeLimit(.minutes(1))
    )
    func commitTimeout() async throws {
        try await PushStack.run(manifest: try pushManifest(limits: "commit_timeout: 300ms")) { stack in
            let body = mirroredEvent(id: "stuck-1")
            let url = "\(stack.baseURL)/v1/events"
            let (refused, waited, graphRefused) = try await TestStore.holdingWriteLock(stack.location, schema: nil) {
                let clock = ContinuousClock()
                let start = clock.now
                let refused = try await post(url, body: body, headers: signedHeaders(body))
                let waited = clock.now - start
                // Meta's SDKs on the Graph-compatible route get Meta's transient error.
                let graphBody = #"{"data":[\#(String(decoding: mirroredEvent(id: "stuck-2"), as: UTF8.self))],"access_token":"ingest-token"}"#
                let graphRefused = try await post("\(stack.baseURL)/v26.0/\(testPixel)/events", body: Array(graphBody.utf8))
                return (refused, waited, graphRefused)
            }
            #expect(graphRefused.status == 503 && graphRefused.headers["retry-after"] == "1")
            #expect(graphRefused.body["error"]?["code"] == .integer(2) && graphRefused.body["error"]?["is_transient"] == .bool(true))
            #expect(refused.status == 503)
            #expect(refused.headers["retry-after"] == "1")
            #expect(refused.body["error"] == .string("state_unavailable"))
            // The lock is held for 10 s at most: an answer well before is the deadline's.
            #expect(waited < .seconds(6), "answered after \(waited)")
            // The commit that was waiting went through once the lock was gone: the sender's retry
            // (a new delivery of the same event) is answered as a duplicate, and Meta gets it once.
            var retry = try await post(url, body: body, headers: signedHeaders(body))
            for _ in 0..<50 where retry.status == 503 {
                try await Task.sleep(for: .milliseconds(100))
                retry = try await post(url, body: body, headers: signedHeaders(body))
            }
            #expect(retry.status == 202)
            #expect(retry.body["duplicate"] == .bool(true))
            try await stack.drained()
            let received = try await get("\(stack.sandboxURL)/_sandbox/events?pixel_id=\(testPixel)")
            #expect(received.body["data"]?.arrayValue?.first?["received"] == .integer(1))
        }
    }

    @Test(
        "with the replay ledger in the state store, a store that does not answer the replay check gets the sender 503 unavailable and Retry-After; the same delivery later is accepted once, another body under its id is a replay",
        .timeLimit(.minutes(1))
    )
    func sharedReplayLedgerUnavailable() async throws {
        let manifest = try pushManifest(limits: "commit_timeout: 300ms", pushExtra: "  replay_ledger: state")
        try await PushStack.run(manifest: manifest) { stack in
            let url = "\(stack.baseURL)/v1/events"
            let body = mirroredEvent(id: "ledger-stuck-1")
            let headers = signedHeaders(body)
            let (refused, waited) = try await TestStore.holdingWriteLock(stack.location, schema: nil) {
                let clock = ContinuousClock()
                let start = clock.now
                let refused = try await post(url, body: body, headers: headers)
                return (refused, clock.now - start)
            }
            #expect(refused.status == 503 && refused.headers["retry-after"] == "1", "\(refused.status) \(refused.body)")
            #expect(refused.body["error"] == .string("unavailable"), "the replay check, not the commit, is what the store did not answer")
            #expect(waited < .seconds(6), "answered after \(waited)")

            // The same delivery again is its sender's retry: accepted, and the event committed once
            // (a retry refused by the commit's own deadline under load may have committed, and the
            // next is then told `duplicate`).
            var retry = try await post(url, body: body, headers: headers)
            for _ in 0..<50 where retry.status == 503 {
                try await Task.sleep(for: .milliseconds(100))
                retry = try await post(url, body: body, headers: headers)
            }
            #expect(retry.status == 202, "\(retry.status) \(retry.body)")
            // The id is held now: another body under it is a replay, whatever the ledger's hiccup.
            let other = mirroredEvent(id: "ledger-stuck-2")
            let webhookID = try #require(headers.first { $0.0 == "webhook-id" }?.1)
            // A 503 is the replay check's own deadline in a starved suite; its sender retries.
            var replay = try await post(url, body: other, headers: signedHeaders(other, id: webhookID))
            for _ in 0..<50 where replay.status == 503 {
                try await Task.sleep(for: .milliseconds(100))
                replay = try await post(url, body: other, headers: signedHeaders(other, id: webhookID))
            }
            #expect(replay.status == 401 && replay.body["reason"] == .string("replayed_id"), "\(replay.status) \(replay.body)")
            try await stack.drained()
            let received = try await get("\(stack.sandboxURL)/_sandbox/events?pixel_id=\(testPixel)")
            #expect(received.body["data"]?.arrayValue?.map { $0["event"]?["event_id"] } == [.string("ledger-stuck-1")])
            #expect(received.body["data"]?.arrayValue?.first?["received"] == .integer(1))
        }
    }

    @Test(
        "a store that answers reads but refuses every commit for 5 s makes /readyz 503 commits_failing; one commit that works makes it ready",
        .timeLimit(.minutes(2))
    )
    func readinessWhileCommitsFail() async throws {
        try await PushStack.run { stack in
            let url = "\(stack.baseURL)/v1/events"
            // The store refuses new events' rows (as a read-only or full one would) and still
            // answers readiness's read; SQLite's lock would block that read too (`state_unavailable`).
            try await TestStore.rawSQL(
                stack.location,
                schema: nil,
                ["CREATE TRIGGER refuse_events BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"]
            )
            // Refused for 5.5 s, counted from the first refusal's answer (the server saw it
            // earlier); the readiness before that span is `OutageLogTests`' to check, since how
            // long a request takes here depends on the machine's load.
            let clock = ContinuousClock()
            var firstRefusal: ContinuousClock.Instant?
            var attempt = 0
            while firstRefusal.map({ clock.now - $0 < .milliseconds(5_500) }) ?? true {
                attempt += 1
                let body = mirroredEvent(id: "refused-\(attempt)")
                #expect(try await post(url, body: body, headers: signedHeaders(body)).status == 503)
                if firstRefusal == nil { firstRefusal = clock.now }
                try await Task.sleep(for: .milliseconds(200))
            }
            let late = try await get("\(stack.baseURL)/readyz")
            #expect(late.status == 503 && late.body["status"] == .string("commits_failing"), "\(late.status) \(late.body)")

            try await TestStore.rawSQL(stack.location, schema: nil, ["DROP TRIGGER refuse_events"])
            let body = mirroredEvent(id: "accepted-1")
            #expect(try await post(url, body: body, headers: signedHeaders(body)).status == 202)
            let ready = try await get("\(stack.baseURL)/readyz")
            #expect(ready.status == 200 && ready.body["status"] == .string("ready"))
        }
    }

    @Test(
        "a test_event_code on the Graph-compatible route, or in a mirrored event, goes to Meta with those events, whatever the manifest's; without one the pixel's applies",
        arguments: [nil, "TEST123"] as [String?]
    )
    func requestTestEventCode(configured: String?) async throws {
        try await PushStack.run(manifest: try pushManifest(testEventCode: configured)) { stack in
            let url = "\(stack.baseURL)/v26.0/\(testPixel)/events"
            func send(_ code: JSONValue?, ids: [String], query: String = "", name: String = "test_event_code") async throws -> HTTPResult {
                var body: JSONObject = [
                    "data": .array(try ids.map { try JSONValue(parsing: mirroredEvent(id: $0)) }), "access_token": .string("ingest-token"),
                ]
                if let code { body[name] = code }
                return try await post(url + query, body: Array(JSONValue.object(body).serialized.utf8))
            }
            // Two requests with their own codes and two without, forwarded together.
            #expect(try await send(.string("TEST999"), ids: ["tc-1", "tc-2"]).status == 200)
            #expect(try await send(.string("TEST777"), ids: ["tc-3"]).status == 200)
            #expect(try await send(nil, ids: ["tc-4"]).status == 200)
            #expect(try await send(.string(""), ids: ["tc-5"]).status == 200)
            // A mirrored event names its own, as its request to Meta did.
            let mirrored = mirroredEvent(id: "tc-6", extra: #","test_event_code":"TEST555""#)
            #expect(try await post("\(stack.baseURL)/v1/events", body: mirrored, headers: signedHeaders(mirrored)).status == 202)
            for refused: JSONValue in [.integer(5), .string("TEST 1"), .string(String(repeating: "T", count: 65))] {
                let answer = try await send(refused, ids: ["tc-never"])
                #expect(answer.status == 400 && answer.body["error"]?["code"] == .integer(100), "\(refused)")
                #expect(answer.body["error"]?["message"]?.stringValue?.contains("test_event_code") == true)
            }
            // Graph reads parameters from the query string as from the body: a code in the URL
            // counts (it was ignored, and the events went live).
            #expect(try await send(nil, ids: ["tc-7"], query: "?test_event_code=TEST444").status == 200)
            #expect(try await send(.string("TEST444"), ids: ["tc-8"], query: "?test_event_code=TEST444").status == 200)
            // The two places disagreeing, or a near miss of the name, is refused before anything
            // is stored: either would have sent test events as live ones.
            let disagreeing = try await send(.string("TEST111"), ids: ["tc-never"], query: "?test_event_code=TEST444")
            #expect(
                disagreeing.status == 400
                    && disagreeing.body["error"]?["message"]?.stringValue?.contains("both the query string and the body") == true
            )
            for (name, query) in [("test_event_cod", ""), ("TEST_EVENT_CODE", ""), ("testeventcode", "")] {
                let misspelt = try await send(.string("TEST222"), ids: ["tc-never"], query: query, name: name)
                #expect(misspelt.status == 400, "\(name)")
                #expect(misspelt.body["error"]?["message"]?.stringValue?.hasSuffix("did you mean test_event_code?") == true, "\(misspelt.body)")
            }
            let misspeltInQuery = try await send(nil, ids: ["tc-never"], query: "?test-event-code=TEST222")
            #expect(misspeltInQuery.status == 400)
            // Graph's own parameters that the endpoint does not use are ignored, as Graph ignores them.
            #expect(try await send(nil, ids: ["tc-9"], query: "?pretty=0&locale=en_US&method=post&suppress_http_code=1").status == 200)
            try await stack.drained()
            let received = try #require(try await get("\(stack.sandboxURL)/_sandbox/events?pixel_id=\(testPixel)").body["data"]?.arrayValue)
            var codes: [String: JSONValue] = [:]
            for row in received { codes[row["event_id"]?.stringValue ?? ""] = row["test_event_code"] }
            let pixelCode = configured.map(JSONValue.string) ?? .null
            #expect(
                codes == [
                    "tc-1": .string("TEST999"), "tc-2": .string("TEST999"), "tc-3": .string("TEST777"), "tc-4": pixelCode, "tc-5": pixelCode,
                    "tc-6": .string("TEST555"), "tc-7": .string("TEST444"), "tc-8": .string("TEST444"), "tc-9": pixelCode,
                ]
            )
            // The analytics record says which code each event went with.
            let records = try await stack.registry.deliveredEvents(since: nil)
            let recorded = Dictionary(
                uniqueKeysWithValues: try records.map { ($0.key.eventID, try JSONValue(parsing: $0.record)["test_event_code"]) }
            )
            #expect(recorded["tc-1"] == .string("TEST999") && recorded["tc-4"] == pixelCode, "\(recorded)")
        }
    }

    @Test("Graph-route events without an event_id, as Meta's own examples send them, each get one and reach Meta once")
    func eventsWithoutID() async throws {
        try await PushStack.run { stack in
            let url = "\(stack.baseURL)/v26.0/\(testPixel)/events"
            // Two identical purchases in one request, and an event_id given as null.
            var event = try JSONValue(parsing: mirroredEvent(id: "unused")).objectValue!
            event.removeValue(forKey: "event_id")
            event.removeValue(forKey: "pixel_id")
            var withNull = event
            withNull["event_id"] = .null
            let body = JSONValue.object([
                "data": .array([.object(event), .object(event), .object(withNull)]), "access_token": .string("ingest-token"),
            ])
            let answer = try await post(url, body: Array(body.serialized.utf8))
            #expect(answer.status == 200, "\(answer.body)")
            #expect(answer.body["events_received"] == .integer(3))
            let messages = answer.body["messages"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(messages.contains { $0.hasPrefix("3 event(s) without an event_id") }, "\(messages)")
            // An empty id is a wrong value, not a missing one: refused as before.
            var empty = event
            empty["event_id"] = .string("")
            let refused = try await post(
                url,
                body: Array(JSONValue.object(["data": .array([.object(empty)]), "access_token": .string("ingest-token")]).serialized.utf8)
            )
            #expect(refused.status == 400 && refused.body["error"]?["error_user_msg"]?.stringValue?.contains("event_id") == true)

            try await stack.drained()
            let received = try #require(try await get("\(stack.sandboxURL)/_sandbox/events?pixel_id=\(testPixel)").body["data"]?.arrayValue)
            let ids = received.compactMap { $0["event_id"]?.stringValue }
            #expect(ids.count == 3 && Set(ids).count == 3, "\(ids)")
            #expect(ids.allSatisfy { $0.hasPrefix("capi-") })
            #expect(received.allSatisfy { $0["received"] == .integer(1) })
        }
    }

    @Test("on the Graph-compatible route, what was dropped from accepted events is in messages, at most twenty lines")
    func graphRouteRemarks() async throws {
        try await PushStack.run { stack in
            let url = "\(stack.baseURL)/v26.0/\(testPixel)/events"
            func send(_ events: [JSONValue]) async throws -> [String] {
                let answer = try await post(
                    url,
                    body: Array(JSONValue.object(["data": .array(events), "access_token": .string("ingest-token")]).serialized.utf8)
                )
                #expect(answer.status == 200, "\(answer.body)")
                return answer.body["messages"]?.arrayValue?.compactMap(\.stringValue) ?? []
            }
            func event(_ id: String, extra: String) throws -> JSONValue {
                var object = try JSONValue(parsing: mirroredEvent(id: id, extra: extra)).objectValue!
                object.removeValue(forKey: "pixel_id")
                return .object(object)
            }
            let one = try await send([try event("remark-1", extra: #","brand_new_field":"x""#)])
            #expect(one == ["data[0]: brand_new_field: not a Meta server-event parameter; not forwarded"])
            let many = try await send(try (0..<25).map { try event("remark-many-\($0)", extra: #","brand_new_field":"x""#) })
            #expect(many.count == 21)
            #expect(many[19] == "data[19]: brand_new_field: not a Meta server-event parameter; not forwarded")
            #expect(many.last == "and 5 more such remarks on this request's events")
            #expect(!many.joined().contains("Jane"), "a remark names keys, never values")
        }
    }

    @Test("tampered, stale, unsigned and wrong-secret deliveries get 401 with a reason code")
    func signatureRefusals() async throws {
        try await PushStack.run { stack in
            let body = mirroredEvent(id: "sig-1")
            let url = "\(stack.baseURL)/v1/events"
            var tampered = body
            tampered[tampered.count - 3] = UInt8(ascii: "9")
            let cases: [([UInt8], [(String, String)], String)] = [
                (tampered, signedHeaders(body), "bad_signature"),
                (body, signedHeaders(body, timestamp: Int64(Date().timeIntervalSince1970) - 400), "stale_timestamp"),
                (body, [], "missing_signature"),
                (body, signedHeaders(body, secret: "whsec_" + Data("another-secret-value".utf8).base64EncodedString()), "bad_signature"),
            ]
            for (payload, headers, reason) in cases {
                let result = try await post(url, body: payload, headers: headers)
                #expect(result.status == 401)
                #expect(result.body["reason"] == .string(reason))
            }
            // Same message id, different body: a replay.
            let headers = signedHeaders(body, id: "msg_fixed")
            #expect(try await post(url, body: body, headers: headers).status == 202)
            let other = mirroredEvent(id: "sig-2")
            let replay = try await post(url, body: other, headers: signedHeaders(other, id: "msg_fixed"))
            #expect(replay.status == 401 && replay.body["reason"] == .string("replayed_id"))
            #expect(try await stack.registry.outboxDepth() <= 1)
        }
    }

    @Test("bad events get 400 naming the field; same key with other content is 409; oversized bodies 413")
    func badInput() async throws {
        try await PushStack.run { stack in
            let url = "\(stack.baseURL)/v1/events"
            let milliseconds = mirroredEvent(id: "ms-1", time: Int64(Date().timeIntervalSince1970) * 1000)
            let refused = try await post(url, body: milliseconds, headers: signedHeaders(milliseconds))
            #expect(refused.status == 400)
            let fields = refused.body["problems"]?.arrayValue?.compactMap { $0["field"]?.stringValue }
            #expect(fields == ["event_time"])
            #expect(refused.body["problems"]?.arrayValue?.first?["code"] == .string("milliseconds_timestamp"))

            let original = mirroredEvent(id: "c-1", time: Int64(Date().timeIntervalSince1970) - 60)
            #expect(try await post(url, body: original, headers: signedHeaders(original)).status == 202)
            let changed = Array(String(decoding: original, as: UTF8.self).replacingOccurrences(of: "42.5", with: "43.5").utf8)
            let conflict = try await post(url, body: changed, headers: signedHeaders(changed))
            #expect(conflict.status == 409)

            let huge = Array(repeating: UInt8(ascii: " "), count: 1_200_000)
            #expect(try await post(url, body: huge, headers: signedHeaders(huge)).status == 413)

            // No personal value in any answer.
            for result in [refused, conflict] {
                let text = String(decoding: try JSONEncoder().encode(result.body), as: UTF8.self).lowercased()
                #expect(!text.contains("jane") && !text.contains("555-1212") && !text.contains("5551212"))
            }
        }
    }

    @Test("the batch endpoint judges each event on its own")
    func batch() async throws {
        try await PushStack.run { stack in
            let good = String(decoding: mirroredEvent(id: "b-1"), as: UTF8.self)
            let bad = String(decoding: mirroredEvent(id: "b-2", time: 5), as: UTF8.self)
            let body = Array("{\"data\":[\(good),\(bad)]}".utf8)
            let result = try await post("\(stack.baseURL)/v1/events/batch", body: body, headers: signedHeaders(body))
            #expect(result.status == 202)
            #expect(result.body["accepted"] == .integer(1) && result.body["rejected"] == .integer(1))
            let items = try #require(result.body["results"]?.arrayValue)
            #expect(items[0]["status"] == .string("accepted"))
            #expect(items[1]["status"] == .string("rejected"))
            #expect(items[1]["index"] == .integer(1))
        }
    }

    @Test("the Graph-compatible route takes Meta's request shape and the ingest token")
    func graphCompatible() async throws {
        try await PushStack.run { stack in
            let events = "[\(String(decoding: mirroredEvent(id: "g-1"), as: UTF8.self))]"
            let url = "\(stack.baseURL)/v26.0/\(testPixel)/events"
            let form = "data=\(events.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&access_token=ingest-token"
            let ok = try await post(url, body: Array(form.utf8), contentType: "application/x-www-form-urlencoded")
            #expect(ok.status == 200)
            #expect(ok.body["events_received"] == .integer(1))
            #expect(ok.body["messages"] == .array([]))
            // Request parameters the outbox cannot carry are named in Meta's `messages`, not dropped unseen.
            let partner = "[\(String(decoding: mirroredEvent(id: "g-pa"), as: UTF8.self))]"
            let withPartner = try await post(
                url,
                body: Array(
                    #"{"data":\#(partner),"access_token":"ingest-token","partner_agent":"shop-plugin","upload_tag":"x","namespace_id":""}"#.utf8
                )
            )
            #expect(withPartner.status == 200 && withPartner.body["events_received"] == .integer(1))
            #expect(
                withPartner.body["messages"]
                    == .array([
                        .string(
                            "partner_agent, upload_tag: not forwarded: the sidecar sends this request's events to Meta in batches with "
                                + "other requests' events; Meta gets the manifest's graph_api.partner_agent"
                        )
                    ])
            )
            // Without a partner agent, the answer does not speak of one.
            let tagged = "[\(String(decoding: mirroredEvent(id: "g-ut"), as: UTF8.self))]"
            let withTag = try await post(url, body: Array(#"{"data":\#(tagged),"access_token":"ingest-token","namespace_id":"7"}"#.utf8))
            #expect(
                withTag.body["messages"]
                    == .array([
                        .string("namespace_id: not forwarded: the sidecar sends this request's events to Meta in batches with other requests' events")
                    ])
            )
            // As the Java SDK (and PHP's through cURL) posts: multipart/form-data.
            let boundary = String(repeating: "~", count: 64)
            let parts = [("access_token", "ingest-token"), ("data", "[\(String(decoding: mirroredEvent(id: "g-mp"), as: UTF8.self))]")]
            let multipart =
                parts.map { "--\(boundary)\r\nContent-Disposition: form-data; name=\"\($0.0)\"\r\n\r\n\($0.1)\r\n" }.joined()
                + "--\(boundary)--\r\n"
            let fromJava = try await post(url, body: Array(multipart.utf8), contentType: "multipart/form-data; boundary=\(boundary)")
            #expect(fromJava.status == 200, "\(fromJava.body)")
            #expect(fromJava.body["events_received"] == .integer(1))
            let wrong = try await post(url, body: Array(#"{"data":\#(events),"access_token":"nope"}"#.utf8))
            #expect(wrong.status == 401 && wrong.body["error"]?["code"] == .integer(190))
            // As Graph answers a token it cannot parse: no subcode (463 would say it expired).
            #expect(wrong.body["error"]?["error_subcode"] == nil, "\(wrong.body)")
            let old = "[\(String(decoding: mirroredEvent(id: "g-2", time: Int64(Date().timeIntervalSince1970) - 8 * 86_400), as: UTF8.self))]"
            let refused = try await post(url, body: Array(#"{"data":\#(old),"access_token":"ingest-token"}"#.utf8))
            #expect(refused.status == 400 && refused.body["error"]?["code"] == .integer(100))
            // Meta's own subcode for an event too old, which an app may act on, even when a problem
            // of a field named earlier is found too; any other problem gets the family's general one.
            #expect(refused.body["error"]?["error_subcode"] == .integer(Int64(MetaLimits.eventTooOldSubcode)), "\(refused.body)")
            let oldAndMore = String(
                decoding: mirroredEvent(id: "g-2b", time: Int64(Date().timeIntervalSince1970) - 8 * 86_400, extra: #","data_processing_options":7"#),
                as: UTF8.self
            )
            let both = try await post(url, body: Array(#"{"data":[\#(oldAndMore)],"access_token":"ingest-token"}"#.utf8))
            #expect(both.body["error"]?["error_subcode"] == .integer(Int64(MetaLimits.eventTooOldSubcode)), "\(both.body)")
            #expect(both.body["error"]?["error_user_msg"]?.stringValue?.hasPrefix("data[0].event_time: ") == true, "\(both.body)")
            let otherProblem = String(decoding: mirroredEvent(id: "g-2c", extra: #","data_processing_options":7"#), as: UTF8.self)
            let other = try await post(url, body: Array(#"{"data":[\#(otherProblem)],"access_token":"ingest-token"}"#.utf8))
            #expect(other.status == 400 && other.body["error"]?["error_subcode"] == .integer(2_804_001), "\(other.body)")
            #expect(other.body["error"]?["error_user_msg"]?.stringValue?.hasPrefix("data[0].data_processing_options") == true, "\(other.body)")
            // An element of `data` that is no event is named by its index (it was "data must be an
            // array of 1 to 1000 events" for the whole request).
            let valid = String(decoding: mirroredEvent(id: "g-3"), as: UTF8.self)
            for (element, found) in [("7", "a number"), (#""not json""#, "a string"), (#""[1]""#, "an array")] {
                let mixed = try await post(url, body: Array(#"{"data":[\#(valid),\#(element)],"access_token":"ingest-token"}"#.utf8))
                #expect(mixed.status == 400, "\(element)")
                #expect(mixed.body["error"]?["error_user_msg"] == .string("data[1].event: must be a JSON object, found \(found)"), "\(mixed.body)")
            }
            // A `data` that holds no events to judge is Meta's one message, with the slip named.
            let many = "[" + Array(repeating: valid, count: 1_001).joined(separator: ",") + "]"
            for (body, contentType, slip) in [
                (#"{"access_token":"ingest-token"}"#, "application/json", "data is required: an array of 1 to 1000 events"),
                (#"{"data":[],"access_token":"ingest-token"}"#, "application/json", "data is an empty array: send 1 to 1000 events"),
                (
                    #"{"data":{"event_name":"x"},"access_token":"ingest-token"}"#, "application/json",
                    "data must be an array of events, found an object"
                ),
                ("data=nope&access_token=ingest-token", "application/x-www-form-urlencoded", "data is not valid JSON: invalid literal at byte 0"),
                ("data=%7B%7D&access_token=ingest-token", "application/x-www-form-urlencoded", "data must be an array of events, found an object"),
                (
                    #"{"data":\#(many),"access_token":"ingest-token"}"#, "application/json",
                    "data has 1001 events, over the 1000 one request may carry: split it"
                ),
            ] {
                let answer = try await post(url, body: Array(body.utf8), contentType: contentType)
                #expect(answer.status == 400 && answer.body["error"]?["code"] == .integer(100), "\(slip)")
                #expect(answer.body["error"]?["message"] == .string("(#100) param data must be an array of 1 to 1000 events"))
                #expect(answer.body["error"]?["error_user_msg"] == .string(slip), "\(answer.body)")
            }
            // A version segment Graph would not know is refused as Graph refuses it (code 2500), by
            // the route and by the stand-in alike: an SDK set to "26.0" fails here, not the day it
            // is pointed at Meta again.
            for version in ["26.0", "v26", "foo", "v26.0.1"] {
                for base in [stack.baseURL, stack.sandboxURL] {
                    let token = base == stack.baseURL ? "ingest-token" : "any"
                    let answer = try await post(
                        "\(base)/\(version)/\(testPixel)/events",
                        body: Array(#"{"data":\#(events),"access_token":"\#(token)"}"#.utf8)
                    )
                    #expect(answer.status == 400 && answer.body["error"]?["code"] == .integer(2500), "\(base) \(version): \(answer.body)")
                }
            }
            // A pixel the manifest does not configure is refused for the whole request, as Graph
            // refuses a post to an object that does not exist, and the path is never echoed.
            for path in ["999000999000", "jane.doe@example.com"] {
                let body = Array(#"{"data":\#(events),"access_token":"ingest-token"}"#.utf8)
                let unknown = try await post("\(stack.baseURL)/v26.0/\(path)/events", body: body)
                #expect(unknown.status == 400, "\(unknown.body)")
                #expect(unknown.body["error"]?["code"] == .integer(100) && unknown.body["error"]?["error_subcode"] == .integer(33))
                #expect(!unknown.body.serialized.contains(path))
                let wrongToken = try await post(
                    "\(stack.baseURL)/v26.0/\(path)/events",
                    body: Array(#"{"data":\#(events),"access_token":"nope"}"#.utf8)
                )
                #expect(wrongToken.status == 401, "an unauthenticated caller learns nothing about the pixels")
            }
        }
    }

    @Test("invalid events in a batch are isolated by bisection and dead-lettered; the rest are forwarded")
    func bisection() async throws {
        let sandbox = GraphSandbox.Configuration(faults: FaultPlan(rate: 0.1, kinds: [.invalid]), seed: 11)
        try await PushStack.run(sandbox: sandbox) { stack in
            let ids = (0..<60).map { "inv-\($0)" }
            let items = ids.map { String(decoding: mirroredEvent(id: $0), as: UTF8.self) }.joined(separator: ",")
            let body = Array("{\"data\":[\(items)]}".utf8)
            #expect(try await post("\(stack.baseURL)/v1/events/batch", body: body, headers: signedHeaders(body)).body["accepted"] == .integer(60))
            try await stack.drained()
            let letters = try await stack.registry.deadLetters(limit: 100)
            let forwarded = await stack.sandbox.receivedCounts(pixelID: testPixel)
            #expect(!letters.isEmpty, "the fault plan marked nothing")
            #expect(letters.count + forwarded.count == 60)
            #expect(forwarded.values.allSatisfy { $0 == 1 })
            #expect(Set(letters.map(\.key.eventID)).isDisjoint(with: forwarded.keys))
            #expect(letters.allSatisfy { $0.reason.code == 100 && $0.reason.fbtraceID != nil })
            // Meta's own explanation is kept with the reason: "Invalid parameter" alone says nothing.
            #expect(
                letters.allSatisfy {
                    $0.reason.message == "Invalid parameter (Sandbox Rejected Event: data[0]: the sandbox's fault plan marks this event invalid)"
                },
                "\(letters.map(\.reason.message))"
            )
        }
    }

    @Test("with the stand-in failing 30% of calls, every accepted event arrives exactly once")
    func faults() async throws {
        let sandbox = GraphSandbox.Configuration(
            faults: FaultPlan(rate: 0.3, kinds: [.serverError, .throttle, .timeout, .reset]),
            seed: 5,
            timeoutDelay: .milliseconds(4000)
        )
        // A 3 s send timeout, so the stand-in's held answers are the client's timeouts. A real
        // answer past the timeout is sent again, as it should be, and counted twice here: with
        // 1 s, a starved full run of the suite had answers that late (45 s for this test).
        try await PushStack.run(sandbox: sandbox, manifest: try pushManifest(graphTimeout: "3s")) { stack in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<120 {
                    group.addTask {
                        let body = mirroredEvent(id: "f-\(index)")
                        return try await post("\(stack.baseURL)/v1/events", body: body, headers: signedHeaders(body)).status
                    }
                }
                for try await status in group { #expect(status == 202) }
            }
            try await stack.drained()
            let counts = await stack.sandbox.receivedCounts(pixelID: testPixel)
            #expect(counts.count == 120)
            #expect(counts.values.allSatisfy { $0 == 1 })
            #expect(try await stack.registry.deadLetters(limit: 10).isEmpty)
        }
    }
}

@Suite("Mirror stream")
struct MirrorStreamTests {
    @Test("delivered_events carries salted identifiers, never Meta's digests or raw values")
    func saltedIdentifiers() async throws {
        try await PushStack.run { stack in
            let body = mirroredEvent(id: "mirror-1")
            #expect(try await post("\(stack.baseURL)/v1/events", body: body, headers: signedHeaders(body)).status == 202)
            let stored = try #require(try await stack.registry.deliveredEvents(since: nil).first)
            let record = try JSONValue(parsing: stored.record)
            let emailDigest = SHA256Hex.digest("jane.doe@example.com")
            let salted = SHA256Hex.hex(
                HMAC<SHA256>.authenticationCode(for: Array(emailDigest.utf8), using: SymmetricKey(data: Array("test-mirror-salt-0123456789".utf8)))
            )
            #expect(record["mirror_ids"]?["em"] == .string(salted))
            #expect(record["mirror_ids"]?["ph"] != nil)
            #expect(record["match_keys"]?.arrayValue?.contains(.string("fn")) == true)
            let text = record.serialized.lowercased()
            #expect(!text.contains(emailDigest) && !text.contains("jane") && !text.contains("555-1212") && !text.contains("5551212"))
        }
    }
}
