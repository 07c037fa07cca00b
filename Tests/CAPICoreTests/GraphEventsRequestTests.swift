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
        let request = try #require(GraphEventsRequest(body: body, contentType: type))
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
        let request = try #require(
            GraphEventsRequest(body: Data(body.utf8), contentType: "Multipart/Form-Data; charset=utf-8; boundary=\"\(boundary)\"")
        )
        #expect(request.accessToken == "tok-2")
        #expect(request.events?.count == 1)
    }

    @Test("a multipart body that repeats a name, lacks one, is not UTF-8, is cut short or has no boundary is neither JSON nor a form")
    func refusedMultipart() {
        let repeated = Self.javaStyle([("data", "[]"), ("access_token", "a"), ("access_token", "b")])
        #expect(GraphEventsRequest(body: repeated.0, contentType: repeated.1) == nil)
        let unnamed = Self.javaStyle([("", "x")])
        #expect(GraphEventsRequest(body: unnamed.0, contentType: unnamed.1) == nil)
        var notUTF8 = Self.javaStyle([("access_token", "tok")])
        notUTF8.0.insert(0xFF, at: notUTF8.0.range(of: Data("tok".utf8))!.lowerBound)
        #expect(GraphEventsRequest(body: notUTF8.0, contentType: notUTF8.1) == nil)
        // Without the closing delimiter the last part (here test_event_code) would vanish unseen.
        let whole = Self.javaStyle([("data", "[\(Self.event)]"), ("test_event_code", "TEST42")])
        let cut = whole.0.prefix(whole.0.count - 70)
        #expect(GraphEventsRequest(body: Data(cut), contentType: whole.1) == nil)
        #expect(GraphEventsRequest(body: whole.0, contentType: "multipart/form-data") == nil)
        #expect(GraphEventsRequest(body: whole.0, contentType: "multipart/form-data; boundary=") == nil)
        #expect(GraphEventsRequest(body: whole.0, contentType: "multipart/form-data; boundary=" + String(repeating: "b", count: 71)) == nil)
        #expect(GraphEventsRequest(body: Data("garbage".utf8), contentType: whole.1) == nil)
    }

    @Test("the boundary parameter is found among others, in any case, quoted or not")
    func boundaries() {
        #expect(GraphEventsRequest.multipartBoundary("multipart/form-data; boundary=abc") == "abc")
        #expect(GraphEventsRequest.multipartBoundary("multipart/form-data;charset=utf-8;BOUNDARY=\"a b\"") == "a b")
        #expect(GraphEventsRequest.multipartBoundary("application/x-www-form-urlencoded; boundary=abc") == nil)
        #expect(GraphEventsRequest.multipartBoundary("multipart/mixed; boundary=abc") == nil)
    }
}
