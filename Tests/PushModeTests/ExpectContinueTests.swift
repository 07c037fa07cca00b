import Foundation
import HTTPTypes
import Testing

@testable import PushMode

/// `Expect: 100-continue` over real sockets: curl and libcurl ask it for large bodies and wait up
/// to a second for the answer before sending the body anyway.
@Suite("Expect: 100-continue")
struct ExpectContinueTests {
    /// The timeout bounds a server that never answers; curl would have sent its body after 1 s.
    static let timeout: Duration = .seconds(10)

    static func signedHead(path: String, body: [UInt8], expect: String = "100-continue") -> String {
        let signature = signedHeaders(body).map { "\($0.0): \($0.1)\r\n" }.joined()
        return "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\(signature)"
            + "Expect: \(expect)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
    }

    @Test("a mirrored event waits for 100 Continue, sends its body, and is accepted", arguments: ["100-continue", "100-Continue"])
    func mirrorRoute(expect: String) async throws {
        try await PushStack.run { stack in
            let body = mirroredEvent(id: "expect-\(expect)")
            let (beforeBody, outcome) = try await RawConnection.exchange(
                port: stack.port,
                send: Self.signedHead(path: "/v1/events", body: body, expect: expect),
                awaiting: "\r\n\r\n",
                then: String(decoding: body, as: UTF8.self),
                timeout: Self.timeout
            )
            #expect(beforeBody == "HTTP/1.1 100 Continue\r\n\r\n")
            let final = outcome.received.dropFirst(beforeBody.count)
            #expect(final.hasPrefix("HTTP/1.1 202"))
            #expect(final.contains(#""duplicate":false"#))
        }
    }

    @Test("a Graph-compatible batch waits for 100 Continue and Meta's answer follows")
    func graphRoute() async throws {
        try await PushStack.run { stack in
            let event = String(decoding: mirroredEvent(id: "expect-graph"), as: UTF8.self)
                .replacingOccurrences(of: #""pixel_id":"\#(testPixel)","#, with: "")
            let body = #"{"data":[\#(event)]}"#
            let head =
                "POST /v26.0/\(testPixel)/events?access_token=ingest-token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Expect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
            let (beforeBody, outcome) = try await RawConnection.exchange(
                port: stack.port,
                send: head,
                awaiting: "\r\n\r\n",
                then: body,
                timeout: Self.timeout
            )
            #expect(beforeBody == "HTTP/1.1 100 Continue\r\n\r\n")
            #expect(outcome.received.dropFirst(beforeBody.count).hasPrefix("HTTP/1.1 200"))
            #expect(outcome.received.contains(#""events_received":1"#))
        }
    }

    @Test("a request refused on its headers gets its refusal, never 100 Continue")
    func refusedBeforeBody() async throws {
        try await PushStack.run { stack in
            let unsigned =
                "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n"
            let missingSignature = try await RawConnection.exchange(port: stack.port, send: unsigned, timeout: Self.timeout)
            #expect(missingSignature.received.hasPrefix("HTTP/1.1 401"))
            #expect(missingSignature.closedByServer)

            let tooLarge = Self.signedHead(path: "/v1/events", body: Array(repeating: UInt8(ascii: " "), count: 2_000_000))
            let refusedSize = try await RawConnection.exchange(port: stack.port, send: tooLarge, timeout: Self.timeout)
            #expect(refusedSize.received.hasPrefix("HTTP/1.1 413"))

            let wrongToken =
                "POST /v26.0/\(testPixel)/events?access_token=wrong HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Expect: 100-continue\r\nContent-Length: 5000\r\n\r\n"
            let refusedToken = try await RawConnection.exchange(port: stack.port, send: wrongToken, timeout: Self.timeout)
            #expect(refusedToken.received.hasPrefix("HTTP/1.1 401"))
            for answer in [missingSignature, refusedSize, refusedToken] {
                #expect(!answer.received.contains("100 Continue"))
            }
        }
    }

    @Test("on a pipelined connection, 100 Continue goes to its own request, after the answer before it")
    func pipelined() async throws {
        try await PushStack.run { stack in
            let first = mirroredEvent(id: "pipelined-1")
            let second = mirroredEvent(id: "pipelined-2")
            // The first request whole (its client sent the body without waiting, as RFC 9110
            // allows), then the second's head: the server reads both at once, and the first
            // request's route must not release the second's body.
            let firstRequest =
                Self.signedHead(path: "/v1/events", body: first).replacingOccurrences(of: "Connection: close\r\n", with: "")
                + String(decoding: first, as: UTF8.self)
            let (beforeBody, outcome) = try await RawConnection.exchange(
                port: stack.port,
                send: firstRequest + Self.signedHead(path: "/v1/events", body: second),
                awaiting: "100 Continue\r\n\r\n",
                then: String(decoding: second, as: UTF8.self),
                timeout: Self.timeout
            )
            let firstAnswer = try #require(beforeBody.range(of: "HTTP/1.1 202"))
            let continued = try #require(beforeBody.range(of: "HTTP/1.1 100 Continue"))
            #expect(firstAnswer.lowerBound < continued.lowerBound)
            #expect(outcome.received.components(separatedBy: "HTTP/1.1 202").count - 1 == 2)
            #expect(outcome.received.contains("pipelined-2"))
        }
    }

    @Test("Expect members are matched as RFC 9110 says: any case, in a list, other expectations ignored")
    func members() {
        func fields(_ values: [String]) -> HTTPFields {
            var fields = HTTPFields()
            for value in values { fields.append(HTTPField(name: .expect, value: value)) }
            return fields
        }
        #expect(ExpectContinue.expectsContinue(fields(["100-continue"])))
        #expect(ExpectContinue.expectsContinue(fields(["100-CONTINUE"])))
        #expect(ExpectContinue.expectsContinue(fields(["foo=bar,  100-continue "])))
        #expect(ExpectContinue.expectsContinue(fields(["foo", "100-continue"])))
        #expect(!ExpectContinue.expectsContinue(fields([])))
        #expect(!ExpectContinue.expectsContinue(fields([""])))
        #expect(!ExpectContinue.expectsContinue(fields(["100-continued"])))
        #expect(!ExpectContinue.expectsContinue(fields(["200-continue"])))
    }
}
