import Foundation
import Testing

@testable import CAPICore

/// The Graph-compatible body as each of Meta's SDKs sends it.
@Suite("Graph events request bodies")
struct GraphEventsRequestTests {
    static let event = #"{"event_name":"Purchase","event_time":1760000000,"event_id":"o-1","action_source":"website"}"#

    /// A form as the Java SDK's `APIRequest.sendPost` writes it: a boundary of 64 `~`, every field a
    /// part with only a `Content-Disposition`, each value followed by CRLF, the closing delimiter last.
    static func javaStyle(_ fields: [(String, String)], boundary: String = String(repeating: "~", count: 64)) -> (Data, String) {
        var body = ""
        for (name, value) in fields {
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
        }
        body += "--\(boundary)--\r\n"
        return (Data(body.utf8), "multipart/form-data; boundary=\(boundary)")
    }

    @Test("multipart/form-data as the Java SDK sends it: data as JSON text, access_token and test_event_code beside it")
    func javaSDKShape() throws {
        let (body, type) = Self.javaStyle([("data", "[\(Self.event)]"), ("access_token", "tok-1"), ("test_event_code", "TEST42")])
        let request = try GraphEventsRequest(body: body, contentType: type)
        #expect(request.accessToken == "tok-1")
        #expect(request.testEventCode == "TEST42")
        let events = try #require(request.events)
        #expect(events.count == 1 && events[0]["event_id"] == .string("o-1"))
    }

    @Test("multipart/form-data as cURL sends it for PHP's SDK: a quoted boundary, a preamble-free body, parts with a content type")
    func curlShape() throws {
        let boundary = "------------------------d74496d66958873e"
        let body =
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"access_token\"\r\n\r\ntok-2\r\n"
            + "--\(boundary)\r\nContent-Disposition: form-data; name=\"data\"\r\nContent-Type: application/json\r\n\r\n[\(Self.event)]\r\n"
            + "--\(boundary)--\r\n"
        let request = try GraphEventsRequest(body: Data(body.utf8), contentType: "Multipart/Form-Data; charset=utf-8; boundary=\"\(boundary)\"")
        #expect(request.accessToken == "tok-2")
        #expect(request.events?.count == 1)
    }

    /// The reason `body` is refused, or `nil` when it is read.
    func refusal(_ body: Data, _ type: String) -> String? {
        do {
            _ = try GraphEventsRequest(body: body, contentType: type)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test("a body that repeats a name, lacks one, is not UTF-8, is cut short or has no boundary is refused saying which, never with a value")
    func refusedBodies() {
        let repeated = Self.javaStyle([("data", "[]"), ("access_token", "a"), ("access_token", "b")])
        #expect(refusal(repeated.0, repeated.1) == "the form gives the field `access_token` more than once")
        let unnamed = Self.javaStyle([("", "x")])
        #expect(refusal(unnamed.0, unnamed.1) == "multipart/form-data: a part has no name in its Content-Disposition")
        // A part that says it is UTF-8 and is not.
        let boundary = "XyZ"
        let declared =
            Data(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"data\"\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nCaf".utf8
            ) + Data([0xE9]) + Data("\r\n--\(boundary)--\r\n".utf8)
        #expect(
            refusal(declared, "multipart/form-data; boundary=\(boundary)")
                == "the value of the part `data` is not in its charset, or in one this reads (UTF-8, ISO-8859-1)"
        )
        // Without the closing delimiter the last part (here test_event_code) would vanish unseen.
        let whole = Self.javaStyle([("data", "[\(Self.event)]"), ("test_event_code", "TEST42")])
        #expect(refusal(Data(whole.0.prefix(whole.0.count - 70)), whole.1) == "multipart/form-data: the body ends before its closing delimiter")
        let noBoundary = "multipart/form-data without a boundary of 1 to 70 printable ASCII characters"
        #expect(refusal(whole.0, "multipart/form-data") == noBoundary)
        #expect(refusal(whole.0, "multipart/form-data; boundary=") == noBoundary)
        #expect(refusal(whole.0, "multipart/form-data; boundary=" + String(repeating: "b", count: 71)) == noBoundary)
        #expect(refusal(Data("garbage".utf8), whole.1) == "multipart/form-data: the boundary of the content type does not open the body")
        // A name that may be personal data is not repeated.
        let personal = Self.javaStyle([("jane@example.com", "1"), ("jane@example.com", "2")])
        #expect(refusal(personal.0, personal.1)?.contains("jane") == false)
        // JSON and URL-encoded forms say why too.
        #expect(
            refusal(Data(#"{"data": [}"#.utf8), "application/json")
                == "the body is not valid JSON: expected a value (a string, number, object, array, true, false or null) at byte 10"
        )
        #expect(refusal(Data("[1]".utf8), "application/json") == "the JSON body is not an object")
        #expect(refusal(Data("a=1&a=2".utf8), "application/x-www-form-urlencoded") == "the form gives the field `a` more than once")
    }

    @Test("a value that is not UTF-8 in a part naming no charset is read as ISO-8859-1, as the Java SDK writes it")
    func javaLatin1() throws {
        // The Java SDK writes "Crème" as C r 0xE8 m e: each character's low byte.
        let event = Self.event.replacingOccurrences(of: "\"o-1\"", with: "\"o-1\",\"custom_data\":{\"content_name\":\"Cr!me\"}")
        var (body, type) = Self.javaStyle([("data", "[\(event)]"), ("access_token", "tok-1")])
        body[body.range(of: Data("Cr!me".utf8))!.lowerBound + 2] = 0xE8
        let request = try GraphEventsRequest(body: body, contentType: type)
        #expect(request.events?.first?["custom_data"]?["content_name"] == .string("Crème"))
        #expect(request.accessToken == "tok-1")
    }

    @Test("the boundary parameter is found among others, in any case, quoted or not")
    func boundaries() {
        #expect(GraphEventsRequest.multipartBoundary("multipart/form-data; boundary=abc") == "abc")
        #expect(GraphEventsRequest.multipartBoundary("multipart/form-data;charset=utf-8;BOUNDARY=\"a b\"") == "a b")
        #expect(GraphEventsRequest.multipartBoundary("application/x-www-form-urlencoded; boundary=abc") == nil)
        #expect(GraphEventsRequest.multipartBoundary("multipart/mixed; boundary=abc") == nil)
    }

    @Test("an Authorization header's token: Bearer or OAuth, the scheme in any case, spaces after it skipped")
    func authorizationToken() {
        for header in ["Bearer tok-1", "bearer tok-1", "BEARER tok-1", "Bearer   tok-1", "Bearer\ttok-1", "OAuth tok-1", "oauth tok-1"] {
            #expect(GraphEventsRequest.accessToken(authorization: header) == "tok-1", "\(header)")
        }
        for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearertok-1", "tok-1", "", "Bearer tok-1 extra"] {
            #expect(GraphEventsRequest.accessToken(authorization: header) == nil, "\(header)")
        }
    }

    @Test("form pairs: empty values kept, a pair without `=` empty, empty names skipped, `+` a space, bad escapes kept as written")
    func formPairs() {
        let pairs = URLEncodedForm.pairs("a=&b&=c&&d=1%2B1+x&e=%zz&f=a=b")
        #expect(pairs.map(\.name) == ["a", "b", "d", "e", "f"])
        #expect(pairs.map(\.value) == ["", "", "1+1 x", "%zz", "a=b"])
        #expect(URLEncodedForm.pairs("").isEmpty)
    }

    @Test("the query string's parameters count as the body's: decoded, data parsed, the same value in both accepted, another refused")
    func queryParameters() throws {
        var request = try GraphEventsRequest(body: Data(#"{"access_token":"tok","test_event_code":"TEST1"}"#.utf8), contentType: "application/json")
        try request.addQueryParameters("test_event_code=TEST1&partner_agent=shop%20plugin&data=%5B%7B%22event_name%22%3A%22Lead%22%7D%5D")
        #expect(request.testEventCode == "TEST1")
        #expect(request.fields["partner_agent"] == .string("shop plugin"))
        #expect(request.events == [.object(["event_name": .string("Lead")])])
        try request.addQueryParameters(nil)
        try request.addQueryParameters("")

        func problem(_ query: String) -> String? {
            var request = try? GraphEventsRequest(body: Data(#"{"test_event_code":"TEST1"}"#.utf8), contentType: "application/json")
            do {
                try request?.addQueryParameters(query)
                return nil
            } catch {
                return error.reason
            }
        }
        #expect(
            problem("test_event_code=TEST2") == "the field `test_event_code` is given in both the query string and the body, with different values"
        )
        #expect(problem("access_token=a&access_token=a") == "the query string gives the field `access_token` more than once")
        // A name that is personal data is not echoed.
        #expect(problem("jane.doe%40example.com=1&jane.doe%40example.com=1")?.contains("jane") == false)
    }
}
