import CAPICore
import Foundation
import GraphSandbox
import Hummingbird
import Synchronization
import TestSupport
import Testing

@testable import GraphAPI

/// What the client puts on the wire besides the events: values Graph reads back exactly as given
/// (Graph reads a query string as a form, where `+` is a space), and the `appsecret_proof` Meta asks
/// for on every call once an app secret is configured.
@Suite("Graph client encoding")
struct GraphClientEncodingTests {
    /// Values a form reader could misread: `+`, the separators, `%`, spaces, non-ASCII.
    static let awkward = ["1+1", "a b", "x&y=z", "100%", "?#/", "é€😀", "{\"since\":\"2026-11-01\"}", "+/=", ""]

    @Test("a query or form written by the client is read back unchanged by a form reader, for awkward and random values")
    func roundTrip() {
        let pairs = Self.awkward.enumerated().map { (name: "k\($0.offset)+", value: $0.element) }
        #expect(URLEncodedForm.pairs(URLEncodedForm.encoded(pairs)).map(\.value) == pairs.map(\.value))
        #expect(URLEncodedForm.pairs(URLEncodedForm.encoded(pairs)).map(\.name) == pairs.map(\.name))
        var generator = SeededGenerator(seed: 14)
        let alphabet = Array("ab+ &=%#?/;,:@$!'()*[]\\\"{}~_-.é€😀0".unicodeScalars)
        for _ in 0..<500 {
            let value = String(
                String.UnicodeScalarView((0..<Int(generator.next() % 12)).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
            )
            let decoded = URLEncodedForm.pairs(URLEncodedForm.encoded([(name: "v", value: value)]))
            #expect(decoded.first?.value == value, "\(value.debugDescription)")
        }
    }

    /// Records the query and body of every request; answers as Graph does for the route.
    final class Recorder: Sendable {
        let seen = Mutex<[(query: String, body: String, authorization: String?)]>([])

        var router: Router<BasicRequestContext> {
            let router = Router()
            router.post("/v26.0/:pixel/events") { request, _ -> Response in
                try await self.record(request)
                return Self.answer(#"{"events_received":1,"messages":[],"fbtrace_id":"A1"}"#)
            }
            router.get("/v26.0/:pixel/stats") { request, _ -> Response in
                try await self.record(request)
                return Self.answer(#"{"data":[]}"#)
            }
            router.post("/v26.0/:pixel/insights") { request, _ -> Response in
                try await self.record(request)
                return Self.answer(#"{"report_run_id":"7"}"#)
            }
            return router
        }

        private func record(_ request: Request) async throws {
            let body = try await request.body.collect(upTo: 1 << 20)
            seen.withLock { $0.append((request.uri.query ?? "", String(buffer: body), request.headers[.authorization])) }
        }

        private static func answer(_ text: String) -> Response {
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }

    @Test("with an app secret, sends, reads and report requests carry appsecret_proof = HMAC-SHA256(app secret, token) in hex")
    func appSecretProof() async throws {
        let token = "EAAB+token/with=odd&chars"
        let appSecret = "app+secret"
        let python = try await ProcessRunner.run(
            "/usr/bin/env",
            [
                "python3", "-c", "import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())",
                appSecret, token,
            ]
        )
        let expected = python.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(expected.count == 64, "python3: \(python.stderr)")
        let recorder = Recorder()
        try await withLoopbackServer(recorder.router, label: "graph-recorder") { port in
            let graph = client("http://127.0.0.1:\(port)", appSecret: Secret(appSecret))
            _ = try await graph.sendEvents(pixelID: "123", accessToken: Secret(token), encodedEvents: [ByteBuffer(bytes: wireEvent(id: "p1"))])
            _ = try await graph.get("123/stats", query: [("aggregation", "event"), ("filter", "a+b")], accessToken: Secret(token))
            _ = try await graph.post(
                "act_1/insights",
                form: [("time_range", #"{"since":"2026-11-01","until":"2026-11-02"}"#)],
                accessToken: Secret(token)
            )
        }
        let seen = recorder.seen.withLock { $0 }
        try #require(seen.count == 3)

        // The send: token and proof in the JSON body, nothing in the URL (URLs reach proxy logs).
        let sent = try JSONValue(parsing: Array(seen[0].body.utf8))
        #expect(sent["access_token"] == .string(token))
        #expect(sent["appsecret_proof"] == .string(expected))
        #expect(seen[0].query.isEmpty)

        // The read: the proof and the other parameters in the query, each read back as sent.
        let read = Dictionary(uniqueKeysWithValues: URLEncodedForm.pairs(seen[1].query).map { ($0.name, $0.value) })
        #expect(read["appsecret_proof"] == expected)
        #expect(read["filter"] == "a+b", "\(seen[1].query)")
        #expect(read["access_token"] == nil, "a read's token travels in its Authorization header")

        // The report request: the proof in its form.
        let form = Dictionary(uniqueKeysWithValues: URLEncodedForm.pairs(seen[2].body).map { ($0.name, $0.value) })
        #expect(form["appsecret_proof"] == expected)
        #expect(form["time_range"] == #"{"since":"2026-11-01","until":"2026-11-02"}"#)
    }

    @Test(
        "a paging.next link is followed with this call's token and proof alone: the token and proof Graph wrote into it are left out, the rest kept as Graph reads it"
    )
    func nextLinkCredentials() async throws {
        let (fresh, appSecret) = ("EAAB-fresh+token", "app-secret")
        let recorder = Recorder()
        try await withLoopbackServer(recorder.router, label: "graph-recorder") { port in
            let graph = client("http://127.0.0.1:\(port)", appSecret: Secret(appSecret))
            // As Meta writes it: its own host, the token the first page was read with, its proof.
            let link =
                "https://graph.facebook.com/v26.0/123/stats?aggregation=event&access_token=EAAB-refused%2Btoken"
                + "&appsecret_proof=0badc0de&event_source=SERVER_ONLY&after=QUZURVI%3D"
            _ = try await graph.get(next: link, accessToken: Secret(fresh))
            // A link without credentials is followed exactly as written.
            _ = try await graph.get(next: "https://graph.facebook.com/v26.0/123/stats?after=a%2Bb", accessToken: nil)
        }
        let seen = recorder.seen.withLock { $0 }
        try #require(seen.count == 2)
        let pairs = URLEncodedForm.pairs(seen[0].query)
        #expect(pairs.filter { $0.name == "access_token" }.isEmpty, "\(seen[0].query)")
        #expect(pairs.filter { $0.name == "appsecret_proof" }.map(\.value) == [AppSecretProof.make(accessToken: fresh, appSecret: appSecret)])
        #expect(
            pairs.filter { !["appsecret_proof"].contains($0.name) }.map { "\($0.name)=\($0.value)" } == [
                "aggregation=event", "event_source=SERVER_ONLY", "after=QUZURVI=",
            ]
        )
        #expect(seen[0].authorization == "Bearer \(fresh)")
        #expect(seen[1].query == "after=a%2Bb" && seen[1].authorization == nil)
    }

    @Test("an app secret with a plus, an ampersand or a space is exchanged for an app token, as Graph reads the query")
    func awkwardClientSecret() async throws {
        for secret in ["se+cret", "a&b=c", "two words", "100%"] {
            try await withSandbox(.init(appCredentials: (id: "app+1", secret: secret))) { baseURL, _ in
                let token = try await client(baseURL).exchangeClientCredentials(appID: "app+1", appSecret: Secret(secret))
                #expect(token.revealed.hasPrefix("app+1|"), "\(secret)")
            }
        }
    }
}
