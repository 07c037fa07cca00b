import Foundation
import HTTPTypes
import LambdaRunner
import NIOCore
import PushMode
import Testing

@Suite("API Gateway proxy events in and out")
struct ProxyEventTests {
    static func json(_ object: [String: Any]) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    static func decode(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    @Test("payload 2.0: method, raw path without a named stage, raw query, joined cookies, client address, base64 body")
    func version2() throws {
        let body = Data(#"{"a":"é"}"#.utf8)
        let event = try ProxyEvent(
            decoding: Self.json([
                "version": "2.0", "routeKey": "$default", "rawPath": "/prod/v1/events", "rawQueryString": "source=shop&x=a%20b",
                "headers": ["content-type": "application/json", "webhook-id": "msg_1"],
                "cookies": ["a=1", "b=2"],
                "requestContext": ["http": ["method": "POST", "path": "/prod/v1/events", "sourceIp": "203.0.113.9"], "stage": "prod"],
                "body": body.base64EncodedString(), "isBase64Encoded": true,
            ])
        )
        #expect(event.version == .v2)
        #expect(event.request.method == .post)
        #expect(event.request.path == "/v1/events?source=shop&x=a%20b")
        #expect(event.request.headers[HTTPField.Name("webhook-id")!] == "msg_1")
        #expect(event.request.headers[.cookie] == "a=1; b=2")
        #expect(event.request.clientAddress == "203.0.113.9")
        #expect(Data(event.request.body.readableBytesView) == body)
    }

    @Test("payload 2.0 on the $default stage or a function URL keeps the path as sent")
    func version2DefaultStage() throws {
        let event = try ProxyEvent(
            decoding: Self.json([
                "version": "2.0", "rawPath": "/v1/events/batch", "rawQueryString": "",
                "requestContext": ["http": ["method": "post", "sourceIp": "198.51.100.1"], "stage": "$default"], "body": "[]",
            ])
        )
        #expect(event.request.path == "/v1/events/batch" && event.request.method == .post)
        #expect(String(buffer: event.request.body) == "[]")
    }

    @Test("payload 1.0: every value of multiValueHeaders, re-encoded multi-value query, identity.sourceIp, text body")
    func version1() throws {
        let event = try ProxyEvent(
            decoding: Self.json([
                "resource": "/{proxy+}", "path": "/v1/events", "httpMethod": "POST",
                "headers": ["Webhook-Signature": "v1,second"],
                "multiValueHeaders": ["Webhook-Signature": ["v1,first", "v1,second"], "Content-Type": ["application/json"]],
                "queryStringParameters": ["source": "shop"],
                "multiValueQueryStringParameters": ["source": ["shop"], "note": ["a b&c"]],
                "requestContext": ["identity": ["sourceIp": "10.1.2.3"], "stage": "prod"],
                "body": "{\"x\":1}", "isBase64Encoded": false,
            ])
        )
        #expect(event.version == .v1)
        #expect(event.request.headers[values: HTTPField.Name("webhook-signature")!] == ["v1,first", "v1,second"])
        #expect(event.request.path == "/v1/events?note=a%20b%26c&source=shop")
        #expect(event.request.clientAddress == "10.1.2.3")
        #expect(String(buffer: event.request.body) == "{\"x\":1}")
    }

    @Test("payload 1.0 without multiValueHeaders uses headers; no body is an empty body")
    func version1SingleHeaders() throws {
        let event = try ProxyEvent(
            decoding: Self.json(["path": "/healthz", "httpMethod": "GET", "headers": ["Accept": "application/json"], "body": NSNull()])
        )
        #expect(event.request.headers[.accept] == "application/json")
        #expect(event.request.body.readableBytes == 0 && event.request.path == "/healthz")
    }

    @Test("events that are no proxy event, or whose base64 body is not base64, are refused with the reason")
    func refusals() throws {
        #expect(throws: ProxyEvent.Failure.self) { try ProxyEvent(decoding: ByteBuffer(string: "not json")) }
        do {
            _ = try ProxyEvent(decoding: Self.json(["Records": [["eventSource": "aws:sqs"]]]))
            Issue.record("an SQS event was taken for a proxy event")
        } catch {
            #expect(error.description.contains("neither version 2.0 nor httpMethod"))
        }
        do {
            _ = try ProxyEvent(decoding: Self.json(["version": "2.0", "rawPath": "/v1/events"]))
            Issue.record("an event without requestContext was accepted")
        } catch {
            #expect(error.description.contains("missing requestContext"))
        }
        // The sender names headers and query parameters: a refusal shows where, not those names.
        for (field, object) in [
            ("headers", ["jane@example.com": 5] as [String: Any]), ("multiValueQueryStringParameters", ["jane@example.com": "x"]),
        ] {
            do {
                _ = try ProxyEvent(decoding: Self.json(["path": "/v1/events", "httpMethod": "POST", field: object]))
                Issue.record("a \(field) value of the wrong type was accepted")
            } catch {
                #expect(error.description.hasSuffix("unexpected type at \(field).<name>"), "\(error.description)")
            }
        }
        #expect(throws: ProxyEvent.Failure.invalidBase64(.v1)) {
            try ProxyEvent(decoding: Self.json(["path": "/v1/events", "httpMethod": "POST", "body": "%%%", "isBase64Encoded": true]))
        }
    }

    @Test("responses: 1.0 carries multiValueHeaders, 2.0 joins values; text bodies stay text, binary ones go base64")
    func responses() throws {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers.append(HTTPField(name: HTTPField.Name("x-note")!, value: "a"))
        headers.append(HTTPField(name: HTTPField.Name("x-note")!, value: "b"))
        let output = PushHandler.Output(status: .accepted, headers: headers, body: ByteBuffer(string: #"{"ok":"é"}"#))

        let v1 = try Self.decode(ProxyResponse.encode(output, version: .v1))
        #expect(v1["statusCode"] as? Int == 202)
        #expect(v1["body"] as? String == #"{"ok":"é"}"# && v1["isBase64Encoded"] as? Bool == false)
        #expect((v1["multiValueHeaders"] as? [String: [String]])?["x-note"] == ["a", "b"])

        let v2 = try Self.decode(ProxyResponse.encode(output, version: .v2))
        #expect(v2["multiValueHeaders"] == nil)
        #expect((v2["headers"] as? [String: String])?["x-note"] == "a, b")

        let binary = PushHandler.Output(status: .ok, headers: [:], body: ByteBuffer(bytes: [0xff, 0x00, 0xfe]))
        let encoded = try Self.decode(ProxyResponse.encode(binary, version: .v2))
        #expect(encoded["isBase64Encoded"] as? Bool == true && encoded["body"] as? String == Data([0xff, 0x00, 0xfe]).base64EncodedString())
    }
}
