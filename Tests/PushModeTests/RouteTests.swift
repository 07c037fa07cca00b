import CAPICore
import ConnectorRuntime
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PushMode
import Testing

/// The sidecar's answers, in process through Hummingbird's router test client (no sockets): the
/// status and body of each refusal an app can meet.
@Suite("Push routes in process")
struct RouteTests {
    func withRouter(testEventCode: String? = nil, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await withSidecar(manifest: try pushManifest(testEventCode: testEventCode)) { sidecar in
            let app = Application(router: sidecar.server.makeRouter(), services: [sidecar.committer])
            try await app.test(.router) { client in try await body(client) }
        }
    }

    func post(_ client: any TestClientProtocol, _ uri: String, _ bytes: [UInt8], headers: [(String, String)] = []) async throws -> (Int, JSONValue) {
        try await client.execute(uri: uri, method: .post, headers: fields(headers), body: ByteBuffer(bytes: bytes)) { response in
            (Int(response.status.code), (try? JSONValue(parsing: response.body.readableBytesView)) ?? .null)
        }
    }

    @Test("401 missing signature, 400 naming the field, 202 then 409 for other content, 413 over the limit")
    func answers() async throws {
        try await withRouter { client in
            let unsigned = try await post(client, "/v1/events", mirroredEvent(id: "r-1"))
            #expect(unsigned.0 == 401 && unsigned.1["reason"] == .string("missing_signature"))

            let millis = mirroredEvent(id: "r-2", time: Int64(Date().timeIntervalSince1970) * 1000)
            let invalid = try await post(client, "/v1/events", millis, headers: signedHeaders(millis))
            #expect(invalid.0 == 400)
            #expect(invalid.1["problems"]?.arrayValue?.first?["field"] == .string("event_time"))

            let time = Int64(Date().timeIntervalSince1970) - 30
            let first = mirroredEvent(id: "r-3", time: time)
            #expect(try await post(client, "/v1/events", first, headers: signedHeaders(first)).0 == 202)
            let other = mirroredEvent(id: "r-3", time: time, email: "someone.else@example.com")
            #expect(try await post(client, "/v1/events", other, headers: signedHeaders(other)).0 == 409)

            let huge = [UInt8](repeating: UInt8(ascii: " "), count: 1_200_000)
            #expect(try await post(client, "/v1/events", huge, headers: signedHeaders(huge)).0 == 413)
        }
    }

    @Test(
        "X-CAPI-Source or ?source= picks the source; an empty one names none and gets the first, an unknown one is 400, and two names are 400"
    )
    func sourceSelection() async throws {
        try await withRouter { client in
            let time = Int64(Date().timeIntervalSince1970) - 10
            let cases: [(String, [String], Int, String?)] = [
                ("/v1/events", [""], 202, nil), ("/v1/events?source=", [], 202, nil), ("/v1/events", ["default"], 202, nil),
                ("/v1/events?source=default", [], 202, nil), ("/v1/events", ["nope"], 400, "unknown_source"),
                ("/v1/events?source=nope", [], 400, "unknown_source"),
                // The same name however often is one name; two names leave the secrets unclear.
                ("/v1/events?source=default&source=default", ["default", "default"], 202, nil),
                ("/v1/events?source=default&source=nope", [], 400, "ambiguous_source"),
                ("/v1/events", ["default", "nope"], 400, "ambiguous_source"),
                ("/v1/events?source=nope", ["default"], 400, "ambiguous_source"),
                ("/v1/events?source=", ["default", ""], 202, nil),
            ]
            for (index, (uri, header, status, error)) in cases.enumerated() {
                let event = mirroredEvent(id: "src-\(index)", time: time)
                let answer = try await post(client, uri, event, headers: signedHeaders(event) + header.map { ("X-CAPI-Source", $0) })
                #expect(answer.0 == status, "\(uri) with X-CAPI-Source \(header): \(answer.1)")
                #expect(answer.1["error"] == error.map(JSONValue.string), "\(uri) with X-CAPI-Source \(header): \(answer.1)")
            }
        }
    }

    @Test("a route asked with a method it does not take answers 405 naming the one it does; an unknown path stays 404")
    func wrongMethod() async throws {
        try await withRouter { client in
            let cases: [(String, HTTPRequest.Method, String)] = [
                ("/v1/events", .get, "POST"), ("/v1/events", .put, "POST"), ("/v1/events/batch", .delete, "POST"),
                ("/v19.0/1234567890/events", .get, "POST"), ("/healthz", .post, "GET, HEAD"), ("/readyz", .patch, "GET, HEAD"),
                ("/metrics", .post, "GET, HEAD"), ("/v1/events", .head, "POST"),
                // Every method, not only the common ones (schemathesis sent TRACE and got 404),
                // and the path as the router reads it, a trailing slash included.
                ("/healthz", .trace, "GET, HEAD"), ("/v1/events", .connect, "POST"), ("/v1/events/batch", .trace, "POST"),
                ("/v26.0/1234567890/events", HTTPRequest.Method("PROPFIND")!, "POST"), ("/metrics/", .put, "GET, HEAD"),
            ]
            for (uri, method, allowed) in cases {
                let answer = try await client.execute(uri: uri, method: method, body: ByteBuffer(string: "{}")) { response in
                    (response.status, response.headers[.allow], (try? JSONValue(parsing: response.body.readableBytesView)) ?? .null)
                }
                #expect(answer.0 == .methodNotAllowed, "\(method) \(uri)")
                #expect(answer.1 == allowed, "\(method) \(uri)")
                #expect(answer.2["error"] == .string("method_not_allowed"), "\(method) \(uri)")
            }
            // The routes still answer their own method.
            let health = try await client.execute(uri: "/healthz", method: .get) { $0.status }
            #expect(health == .ok)
            let nowhere = try await client.execute(uri: "/v1/nowhere", method: .get) { $0.status }
            #expect(nowhere == .notFound)
            for (uri, method) in [("/v1/nowhere", HTTPRequest.Method.trace), ("/v1/events/batch/more", .post), ("/a/b/c/events", .delete)] {
                #expect(try await client.execute(uri: uri, method: method) { $0.status } == .notFound, "\(method) \(uri)")
            }
            // A POST to the Graph route's shape with `v1` for its version was answered "405, this
            // route takes POST only": the literal `v1` of the mirror routes took it from the route.
            // Graph's route answers it now, naming the version, as it answers `26.0`.
            for version in ["v1", "26.0"] {
                let answer = try await post(client, "/\(version)/\(testPixel)/events?access_token=ingest-token", Array(#"{"data":[]}"#.utf8))
                #expect(answer.0 == 400, "\(version)")
                #expect(answer.1["error"]?["message"]?.stringValue?.contains("v<major>.<minor>") == true, "\(version): \(answer.1)")
            }
            // `events` after `v1` is the mirror route's, unless more follows: then it is a pixel.
            let pixelNamedEvents = try await post(client, "/v1/events/events?access_token=ingest-token", Array(#"{"data":[]}"#.utf8))
            #expect(pixelNamedEvents.0 == 400 && pixelNamedEvents.1["error"]?["code"] == .integer(2500), "\(pixelNamedEvents)")
        }
    }

    @Test("HEAD on the read-only routes is GET's status and headers without the body; OPTIONS lists each route's methods")
    func headAndOptions() async throws {
        try await withSidecar(manifest: try pushManifest()) { sidecar in
            let app = Application(router: sidecar.server.makeRouter(), services: [sidecar.committer])
            // Over a real connection: the server leaves the body out, and the next request on the
            // connection is read correctly after it.
            try await app.test(.live) { client in
                for uri in ["/healthz", "/readyz", "/metrics"] {
                    let get = try await client.execute(uri: uri, method: .get) { ($0.status, $0.headers[.contentType], $0.headers[.contentLength]) }
                    let head = try await client.execute(uri: uri, method: .head) {
                        ($0.status, $0.headers[.contentType], $0.headers[.contentLength], $0.body.readableBytes)
                    }
                    #expect(head.0 == get.0 && head.1 == get.1 && head.2 == get.2, "\(uri): \(head) against \(get)")
                    #expect(head.3 == 0, "\(uri)")
                }
                #expect(try await client.execute(uri: "/healthz", method: .get) { $0.body.readableBytes } > 0)
                for (uri, allowed) in [
                    ("/v1/events", "POST, OPTIONS"), ("/v1/events/batch", "POST, OPTIONS"), ("/healthz", "GET, HEAD, OPTIONS"),
                    ("/v26.0/1234567890/events", "POST, OPTIONS"),
                ] {
                    let answer = try await client.execute(uri: uri, method: .options) { ($0.status, $0.headers[.allow]) }
                    #expect(answer.0 == .noContent && answer.1 == allowed, "\(uri): \(answer)")
                }
            }
        }
    }

    @Test("a form sent to the mirror route is told that it takes JSON and where Meta's form shape goes")
    func formToMirrorRoute() async throws {
        try await withRouter { client in
            let form = Array("data=%5B%5D&access_token=x".utf8)
            var headers = signedHeaders(form)
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            let answer = try await post(client, "/v1/events", form, headers: headers)
            #expect(answer.0 == 400)
            #expect(answer.1["error"] == .string("invalid_json"))
            let message = answer.1["message"]?.stringValue ?? ""
            #expect(
                message.hasSuffix("it was sent as a form: these routes take JSON, and Meta's form shape goes to POST /{version}/{pixel_id}/events")
            )
            // JSON that is broken gets no such hint.
            let broken = Array("{".utf8)
            let plain = try await post(client, "/v1/events", broken, headers: signedHeaders(broken))
            #expect(plain.1["message"] == .string("the body is not valid JSON: expected a string key at byte 1"))
        }
    }

    @Test("a compressed body is answered 415 with Accept-Encoding identity on both routes, before it is read; identity is taken")
    func compressedBody() async throws {
        try await withRouter { client in
            let event = mirroredEvent(id: "enc-1")
            for coding in ["gzip", "br", "identity, gzip", "deflate"] {
                var headers = signedHeaders(event)
                headers.append(("Content-Encoding", coding))
                let answer = try await client.execute(
                    uri: "/v1/events",
                    method: .post,
                    headers: fields(headers),
                    body: ByteBuffer(bytes: event)
                ) { response in
                    (response.status, response.headers[.acceptEncoding], (try? JSONValue(parsing: response.body.readableBytesView)) ?? .null)
                }
                #expect(answer.0 == .unsupportedMediaType, "\(coding)")
                #expect(answer.1 == "identity", "\(coding)")
                #expect(answer.2["error"] == .string("unsupported_content_encoding"), "\(coding)")
            }
            // Unsigned and compressed: the signature is still what is refused first.
            let unsigned = try await client.execute(
                uri: "/v1/events",
                method: .post,
                headers: fields([("Content-Encoding", "gzip")]),
                body: ByteBuffer(bytes: event)
            ) { $0.status }
            #expect(unsigned == .unauthorized)
            // Meta's shape on the Graph-compatible route.
            let graph = try await post(
                client,
                "/v19.0/\(testPixel)/events?access_token=ingest-token",
                Array("{}".utf8),
                headers: [("Content-Encoding", "gzip")]
            )
            #expect(graph.0 == 415)
            #expect(graph.1["error"]?["code"] == .integer(100))
            // `identity` is no compression at all.
            var identity = signedHeaders(event)
            identity.append(("Content-Encoding", "Identity"))
            #expect(try await post(client, "/v1/events", event, headers: identity).0 == 202)
        }
    }

    @Test(
        "a Transfer-Encoding with a coding besides chunked is answered 501 on both routes, before the body is read; one not ending with chunked 400; chunked alone is taken"
    )
    func transferCodings() async throws {
        try await withRouter { client in
            let event = mirroredEvent(id: "te-1")
            for coding in ["gzip, chunked", "deflate,chunked", "identity, chunked", "x-gzip;q=1, chunked"] {
                var headers = signedHeaders(event)
                headers.append(("Transfer-Encoding", coding))
                let answer = try await post(client, "/v1/events", event, headers: headers)
                #expect(answer.0 == 501, "\(coding)")
                #expect(answer.1["error"] == .string("unsupported_transfer_encoding"), "\(coding)")
            }
            let graph = try await post(
                client,
                "/v19.0/\(testPixel)/events?access_token=ingest-token",
                Array("{}".utf8),
                headers: [("Transfer-Encoding", "gzip, chunked")]
            )
            #expect(graph.0 == 501)
            #expect(graph.1["error"]?["code"] == .integer(100))
            // Without chunked last the body has no length (RFC 9112 §6.3): 400, as the HTTP parser
            // answers it on a socket. The codings of two lines are one list.
            for codings in [["chunked, gzip"], ["GZIP"], ["chunked", "gzip"]] {
                var headers = signedHeaders(event)
                for coding in codings { headers.append(("Transfer-Encoding", coding)) }
                let answer = try await post(client, "/v1/events", event, headers: headers)
                #expect(answer.0 == 400, "\(codings)")
                #expect(answer.1["error"] == .string("malformed_request"), "\(codings)")
            }
            var twoLines = signedHeaders(event)
            twoLines.append(("Transfer-Encoding", "gzip"))
            twoLines.append(("Transfer-Encoding", "chunked"))
            #expect(try await post(client, "/v1/events", event, headers: twoLines).0 == 501)
            var chunked = signedHeaders(event)
            chunked.append(("Transfer-Encoding", "Chunked"))
            #expect(try await post(client, "/v1/events", event, headers: chunked).0 == 202)
        }
    }

    @Test("the query's access_token is read as Graph reads a query, as a form: %2B is a plus, a bare + a space, an encoded name the same name")
    func queryTokenReadAsForm() async throws {
        try await withSidecar(manifest: try pushManifest(ingestToken: "ingest+token")) { sidecar in
            let app = Application(router: sidecar.server.makeRouter(), services: [sidecar.committer])
            try await app.test(.router) { client in
                // No events: a caller whose token holds is told `data` is wrong (400), any other 401.
                func status(_ query: String) async throws -> Int {
                    try await client.execute(
                        uri: "/v26.0/\(testPixel)/events?\(query)",
                        method: .post,
                        headers: fields([]),
                        body: ByteBuffer(string: #"{"data":[]}"#)
                    ) {
                        Int($0.status.code)
                    }
                }
                let encodedPlus = try await status("access_token=ingest%2Btoken")
                let encodedName = try await status("access%5Ftoken=ingest%2Btoken")
                let barePlus = try await status("access_token=ingest+token")
                #expect(encodedPlus == 400)
                #expect(encodedName == 400)
                #expect(barePlus == 401, "a bare + is a space to Graph")
            }
        }
    }

    @Test(
        "a batch without a data array, or with more than Meta's 1,000 events, is refused whole naming data and the slip, as is a batch sent to the single-event route; 1,000 are judged one by one"
    )
    func batchEnvelope() async throws {
        try await withRouter { client in
            // Each slip named as what it is: absent, of another type, one event sent alone, not an object.
            let slips: [(body: String, code: String, message: String)] = [
                (#"{"events":[]}"#, "missing", #"is required: an array of events, as {"data": [event, …]}"#),
                (#"{"data":null}"#, "missing", #"is required: an array of events, as {"data": [event, …]}"#),
                (#"{"data":{"event_name":"Lead"}}"#, "invalid_type", "must be an array of events, found an object"),
                (#"{"data":"[]"}"#, "invalid_type", "must be an array of events, found a string"),
                (
                    #"{"event_name":"Lead","user_data":{}}"#, "missing",
                    #"is required: the body looks like one event; send it to POST /v1/events, or here as {"data": [event, …]}"#
                ),
                (
                    #"[{"event_name":"Lead"}]"#, "missing",
                    #"is required: the body must be an object holding the events as {"data": [event, …]}, found an array"#
                ),
            ]
            for slip in slips {
                let bytes = Array(slip.body.utf8)
                let (status, answer) = try await post(client, "/v1/events/batch", bytes, headers: signedHeaders(bytes))
                #expect(status == 400, "\(slip.body)")
                let problems = answer["problems"]?.arrayValue ?? []
                #expect(problems.count == 1, "\(answer)")
                #expect(problems.first?["field"] == .string("data"), "\(slip.body)")
                #expect(problems.first?["code"] == .string(slip.code), "\(slip.body)")
                #expect(problems.first?["message"] == .string(slip.message), "\(slip.body)")
            }
            // The other way round: a batch sent to the single-event route is named as one, once.
            for body in [#"{"data":[{"event_name":"Lead"}]}"#, #"{"data":[],"access_token":"x"}"#] {
                let bytes = Array(body.utf8)
                let (status, answer) = try await post(client, "/v1/events", bytes, headers: signedHeaders(bytes))
                #expect(status == 400, "\(body)")
                #expect(answer["problems"]?.arrayValue?.count == 1, "\(answer)")
                let problem = answer["problems"]?.arrayValue?.first
                #expect(problem?["field"] == .string("data") && problem?["code"] == .string("unknown_field"))
                #expect(problem?["message"]?.stringValue?.contains("send it to POST /v1/events/batch") == true, "\(answer)")
            }
            // An event that also holds a `data` array is judged as an event.
            let eventWithData = Array(#"{"event_name":"Lead","data":[]}"#.utf8)
            let judged = try await post(client, "/v1/events", eventWithData, headers: signedHeaders(eventWithData))
            #expect(judged.0 == 400 && (judged.1["problems"]?.arrayValue?.count ?? 0) > 1, "\(judged.1)")
            // Each item is the same small invalid event: judging 1,000 of them is cheap, and the answer says per item.
            func batch(_ count: Int) -> [UInt8] { Array(("{\"data\":[" + Array(repeating: "{}", count: count).joined(separator: ",") + "]}").utf8) }
            let over = batch(1_001)
            let (overStatus, overAnswer) = try await post(client, "/v1/events/batch", over, headers: signedHeaders(over))
            #expect(overStatus == 400)
            #expect(
                overAnswer["problems"]?.arrayValue?.first?["field"] == .string("data")
                    && overAnswer["problems"]?.arrayValue?.first?["code"] == .string("invalid_value")
            )
            #expect(overAnswer["problems"]?.arrayValue?.first?["message"]?.stringValue?.contains("1001") == true, "\(overAnswer)")
            let full = batch(1_000)
            let (fullStatus, fullAnswer) = try await post(client, "/v1/events/batch", full, headers: signedHeaders(full))
            #expect(fullStatus == 202)
            #expect(fullAnswer["rejected"] == .integer(1_000))
            #expect(fullAnswer["results"]?.arrayValue?.count == 1_000, "\(fullAnswer["error"] ?? .null)")
        }
    }

    @Test("/readyz is 503 outbox_stuck, with the oldest due event's age, once an event has waited past 15 minutes with nothing sending it")
    func readinessWithStuckOutbox() async throws {
        try await withSidecar(manifest: try pushManifest()) { sidecar in
            let app = Application(router: sidecar.server.makeRouter(), services: [sidecar.committer])
            try await app.test(.router) { client in
                func readiness() async throws -> (Int, JSONValue) {
                    try await client.execute(uri: "/readyz", method: .get) { response in
                        (Int(response.status.code), (try? JSONValue(parsing: response.body.readableBytesView)) ?? .null)
                    }
                }
                // No forwarder runs here: what is committed stays due.
                func committed(_ prefix: String, minutesAgo: Int64) -> [IntakeItem] {
                    let received = UnixMillis(WallClock.system.now().rawValue - minutesAgo * 60_000)
                    return ForwarderWindowTests.leads(1, prefix: prefix).map { item in
                        var item = item
                        item.receivedAt = received
                        return item
                    }
                }
                _ = try await sidecar.registry.commitIntake(committed("recent", minutesAgo: 14))
                let (recentStatus, recent) = try await readiness()
                #expect(recentStatus == 200 && recent["status"] == .string("ready"), "\(recent)")
                _ = try await sidecar.registry.commitIntake(committed("stuck", minutesAgo: 16))
                let (stuckStatus, stuck) = try await readiness()
                #expect(stuckStatus == 503 && stuck["status"] == .string("outbox_stuck"), "\(stuck)")
                guard case .integer(let age)? = stuck["oldest_due_ms"] else {
                    Issue.record("no oldest_due_ms in \(stuck)")
                    return
                }
                #expect(age >= 16 * 60_000 && age < 17 * 60_000, "\(age)")
            }
        }
    }

    @Test("a full replay ledger answers a new delivery 503 busy with Retry-After, never unchecked; a retry of one it holds is still judged")
    func replayLedgerFull() async throws {
        try await withSidecar(manifest: try pushManifest(limits: "replay_ledger_entries: 1000")) { sidecar in
            let app = Application(router: sidecar.server.makeRouter(), services: [sidecar.committer])
            try await app.test(.router) { client in
                // Empty objects: each is verified and its id recorded, then refused as an event (400).
                let body = Array("{}".utf8)
                let first = signedHeaders(body, id: "msg_held_0")
                #expect(try await post(client, "/v1/events", body, headers: first).0 == 400)
                for index in 1..<1_000 {
                    #expect(try await post(client, "/v1/events", body, headers: signedHeaders(body, id: "msg_held_\(index)")).0 == 400)
                }
                let full = try await client.execute(
                    uri: "/v1/events",
                    method: .post,
                    headers: fields(signedHeaders(body, id: "msg_new")),
                    body: ByteBuffer(bytes: body)
                ) {
                    response in
                    (response.status, response.headers[.retryAfter], (try? JSONValue(parsing: response.body.readableBytesView)) ?? .null)
                }
                #expect(full.0 == .serviceUnavailable && full.1 == "5" && full.2["error"] == .string("busy"), "\(full)")
                #expect(try await post(client, "/v1/events", body, headers: first).0 == 400, "a retry of a held id is judged as before")
            }
        }
    }

    func fields(_ pairs: [(String, String)]) -> HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json"]
        // A name's first value replaces the default; a second is a second line.
        var given = Set<HTTPField.Name>()
        for (name, value) in pairs {
            let name = HTTPField.Name(name)!
            if given.insert(name).inserted { fields[name] = value } else { fields.append(HTTPField(name: name, value: value)) }
        }
        return fields
    }

    @Test("a body that is not JSON is answered with what is wrong and at which byte, never with the body's text")
    func invalidJSONSaysWhere() async throws {
        try await withRouter { client in
            let cases: [(body: String, offset: Int, reason: String)] = [
                (#"{"event_name": "Purchase",}"#, 26, "expected a string key"),
                (#"{"event_id": "a", "event_id": "b"}"#, 18, "duplicate key in an object"),
                (#"{"event_id": "secret-\ud800"}"#, 21, "unpaired surrogate"),
                (#"{"event_id": "secret"} trailing"#, 23, "unexpected data after the document"),
                ("", 0, "unexpected end of input"),
                ("\u{FEFF}" + #"{"event_id": "secret"}"#, 0, "a byte order mark (U+FEFF) before the document; send the JSON without one"),
                (#"{"event_id": secret}"#, 13, "expected a value (a string, number, object, array, true, false or null)"),
                (#"{"value": -secret}"#, 11, "a digit expected after '-'"),
            ]
            for (body, offset, reason) in cases {
                let bytes = Array(body.utf8)
                let answer = try await post(client, "/v1/events", bytes, headers: signedHeaders(bytes))
                #expect(answer.0 == 400, "\(body)")
                #expect(answer.1["error"] == .string("invalid_json"), "\(body)")
                #expect(answer.1["offset"] == .integer(Int64(offset)), "\(body)")
                let message = answer.1["message"]?.stringValue ?? ""
                #expect(message == "the body is not valid JSON: \(reason) at byte \(offset)", "\(body)")
                #expect(!message.contains("secret") && !message.contains("Purchase"), "\(body)")
            }
        }
    }

    @Test("a body in UTF-16 or UTF-32 (as Windows PowerShell writes files) is named as such, with or without a byte order mark")
    func wideEncodingsAreNamed() async throws {
        let text = #"{"event_name": "Purchase"}"#
        let utf16LE = Array(text.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let utf16BE = Array(text.utf16).flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        let utf32LE = Array(text.unicodeScalars).flatMap { [UInt8($0.value & 0xFF), 0, 0, 0] }
        let utf32BE = Array(text.unicodeScalars).flatMap { [0, 0, 0, UInt8($0.value & 0xFF)] }
        let cases: [(bytes: [UInt8], encoding: String)] = [
            ([0xFF, 0xFE] + utf16LE, "UTF-16LE"), (utf16LE, "UTF-16LE"), ([0xFE, 0xFF] + utf16BE, "UTF-16BE"), (utf16BE, "UTF-16BE"),
            ([0xFF, 0xFE, 0, 0] + utf32LE, "UTF-32LE"), (utf32LE, "UTF-32LE"), ([0, 0, 0xFE, 0xFF] + utf32BE, "UTF-32BE"), (utf32BE, "UTF-32BE"),
        ]
        try await withRouter { client in
            for (bytes, encoding) in cases {
                let answer = try await post(client, "/v1/events", bytes, headers: signedHeaders(bytes))
                #expect(answer.0 == 400 && answer.1["offset"] == .integer(0), "\(bytes.prefix(4))")
                #expect(
                    answer.1["message"]?.stringValue
                        == "the body is not valid JSON: the document is \(encoding), and JSON sent between systems must be UTF-8 (RFC 8259) at byte 0",
                    "\(bytes.prefix(4))"
                )
            }
            // Not every failure at its start is a wide encoding.
            let ascii = Array("nope".utf8)
            let answer = try await post(client, "/v1/events", ascii, headers: signedHeaders(ascii))
            #expect(answer.1["message"]?.stringValue == "the body is not valid JSON: invalid literal at byte 0")
        }
    }
}
