import AsyncHTTPClient
import CAPICore
import Foundation
import NIOCore
import TestSupport
import Testing

/// The stand-in reads a POST's form as Graph does: the same fields as the query string would give,
/// empty values included, and the token wherever Meta's SDKs put it.
@Suite("Graph stand-in parameters")
struct SandboxParametersTests {
    private static let account = "act_1122334455"

    /// A GET of `url`, or with `form` a POST of it.
    private static func send(_ url: String, form: String? = nil) async throws -> (status: UInt, body: String) {
        var request = HTTPClientRequest(url: url)
        if let form {
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(hangLimit.components.seconds))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (response.status.code, String(buffer: body))
    }

    @Test("a field sent empty is judged as given, in the query string and in a POST's form alike", arguments: ["level", "time_range"])
    func emptyValues(name: String) async throws {
        try await withSandbox { baseURL, _ in
            let insights = "\(baseURL)/v26.0/\(Self.account)/insights"
            let viaQuery = try await Self.send("\(insights)?access_token=t&\(name)=")
            let viaForm = try await Self.send("\(insights)?access_token=t", form: "\(name)=")
            #expect(viaQuery.status == 400, "\(viaQuery.body)")
            #expect(viaForm.status == 400, "an empty \(name) in the form was read as absent: \(viaForm.body)")
            #expect(viaForm.body.contains("\(name)"))
            // The same request without the empty field starts a report.
            let started = try await Self.send("\(insights)?access_token=t", form: "level=ad")
            #expect(started.status == 200 && started.body.contains("report_run_id"), "\(started.body)")
        }
    }

    @Test("a paging.next link carries the request's own values and token, a plus included, as a form reader reads them back")
    func pagingLinkValues() async throws {
        try await withSandbox { baseURL, _ in
            let page = try await Self.send(
                "\(baseURL)/v26.0/\(Self.account)/insights?access_token=t&level=account&time_increment=1&limit=1&note=a%2Bb%20c"
            )
            #expect(page.status == 200, "\(page.body)")
            let next = try #require(try JSONValue(parsing: Array(page.body.utf8))["paging"]?["next"]?.stringValue)
            let query = try #require(URLComponents(string: next)?.percentEncodedQuery)
            let read = Dictionary(URLEncodedForm.pairs(query).map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
            #expect(read["note"] == "a+b c", "\(next)")
            #expect(read["access_token"] == "t", "as Graph writes it, the link carries the token the page was read with")
            #expect(read["after"] != nil)
        }
    }

    @Test("events are authorized by a token in an Authorization header, as Graph takes it, as well as in the body")
    func eventsWithBearerToken() async throws {
        try await withSandbox(.init(accessTokens: ["writer"])) { baseURL, sandbox in
            let events = "\(baseURL)/v26.0/\(sandboxPixel)/events"
            func send(_ id: String, authorization: String?, bodyToken: String?) async throws -> UInt {
                var request = HTTPClientRequest(url: events)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                if let authorization { request.headers.add(name: "Authorization", value: authorization) }
                let token = bodyToken.map { #","access_token":"\#($0)""# } ?? ""
                request.body = .bytes(ByteBuffer(string: #"{"data":[\#(String(decoding: wireEvent(id: id), as: UTF8.self))]\#(token)}"#))
                return try await HTTPClient.shared.execute(request, timeout: .seconds(hangLimit.components.seconds)).status.code
            }
            let statuses = [
                try await send("bearer", authorization: "Bearer writer", bodyToken: nil),
                try await send("oauth", authorization: "OAuth writer", bodyToken: nil),
                try await send("body", authorization: nil, bodyToken: "writer"),
                try await send("wrong", authorization: "Bearer other", bodyToken: nil),
                try await send("none", authorization: nil, bodyToken: nil),
            ]
            #expect(statuses == [200, 200, 200, 401, 401])
            // As Graph answers a token it cannot parse: 190 without a subcode (463 is an expired session).
            let refused = try await Self.send("\(baseURL)/v26.0/\(sandboxPixel)/stats?access_token=other")
            let error = try JSONValue(parsing: Array(refused.body.utf8))["error"]
            #expect(refused.status == 401 && error?["code"] == .integer(190) && error?["error_subcode"] == nil, "\(refused.body)")
            #expect(Set(await sandbox.receivedCounts(pixelID: sandboxPixel).keys) == ["bearer", "oauth", "body"])
        }
    }

    @Test("a request no route takes gets Graph's own error, code 100 subcode 33 naming the object, not an empty 404")
    func unsupportedRequests() async throws {
        try await withSandbox { baseURL, _ in
            for (path, form, verb, node) in [
                ("/v26.0/123/nothing", nil, "get", "123"), ("/v26.0/\(sandboxPixel)/events", nil, "get", sandboxPixel),
                ("/v26.0/123/stats", "a=1", "post", "123"), ("/nope", nil, "get", "nope"),
            ] as [(String, String?, String, String)] {
                let answer = try await Self.send(baseURL + path, form: form)
                #expect(answer.status == 400, "\(path): \(answer.body)")
                let error = try JSONValue(parsing: Array(answer.body.utf8))["error"]
                #expect(
                    error?["code"] == .integer(100) && error?["error_subcode"] == .integer(33) && error?["type"] == .string("GraphMethodException")
                )
                #expect(
                    error?["message"]?.stringValue?.hasPrefix("Unsupported \(verb) request. Object with ID '\(node)' does not exist") == true,
                    "\(answer.body)"
                )
            }
        }
    }

    @Test("a POST's token in its form authorizes it, as Graph takes it there; without one it is refused with code 190")
    func tokenInForm() async throws {
        try await withSandbox(.init(accessTokens: ["reader"])) { baseURL, _ in
            let insights = "\(baseURL)/v26.0/\(Self.account)/insights"
            let inForm = try await Self.send(insights, form: "access_token=reader&level=campaign")
            #expect(inForm.status == 200 && inForm.body.contains("report_run_id"), "\(inForm.body)")
            let wrong = try await Self.send(insights, form: "access_token=other&level=campaign")
            #expect(wrong.status == 401 && wrong.body.contains("190"), "\(wrong.body)")
            let none = try await Self.send(insights, form: "level=campaign")
            #expect(none.status == 401, "\(none.body)")
        }
    }
}
