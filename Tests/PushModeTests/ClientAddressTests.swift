import CAPICore
import Foundation
import Testing

@Suite("Client address and readiness")
struct ClientAddressTests {
    static func eventWithoutIP(_ id: String) -> [UInt8] {
        Array(String(decoding: mirroredEvent(id: id), as: UTF8.self).replacingOccurrences(of: #","client_ip_address":"203.0.113.7""#, with: "").utf8)
    }

    static func storedIP(_ stack: PushStack, eventID: String) async throws -> JSONValue? {
        try await stack.drained()
        let received = try await get("\(stack.sandboxURL)/_sandbox/events?pixel_id=\(testPixel)")
        let event = received.body["data"]?.arrayValue?.first { $0["event"]?["event_id"] == .string(eventID) }
        return event?["event"]?["user_data"]?["client_ip_address"]
    }

    @Test("X-Forwarded-For is honoured only from a trusted proxy, taking the first untrusted hop from the right")
    func forwardedFor() async throws {
        let trusted = try pushManifest(pushExtra: "  enrich_from_request: true\n  trusted_proxies: [127.0.0.1/32, 10.0.0.0/8]")
        try await PushStack.run(manifest: trusted) { (stack: PushStack) async throws in
            let body = Self.eventWithoutIP("xff-1")
            let headers = signedHeaders(body) + [("X-Forwarded-For", "198.51.100.7, 203.0.113.9, 10.1.2.3")]
            #expect(try await post("\(stack.baseURL)/v1/events", body: body, headers: headers).status == 202)
            #expect(try await Self.storedIP(stack, eventID: "xff-1") == .string("203.0.113.9"))
        }
        let untrusted = try pushManifest(pushExtra: "  enrich_from_request: true")
        try await PushStack.run(manifest: untrusted) { (stack: PushStack) async throws in
            let body = Self.eventWithoutIP("xff-2")
            let headers = signedHeaders(body) + [("X-Forwarded-For", "198.51.100.7")]
            #expect(try await post("\(stack.baseURL)/v1/events", body: body, headers: headers).status == 202)
            #expect(try await Self.storedIP(stack, eventID: "xff-2") == .string("127.0.0.1"), "a header from an untrusted peer must be ignored")
        }
    }

    @Test("/readyz answers ready with the store's backend; /healthz ok")
    func readiness() async throws {
        try await PushStack.run { stack in
            let ready = try await get("\(stack.baseURL)/readyz")
            #expect(ready.status == 200)
            #expect(ready.body["status"] == .string("ready") && ready.body["state"] == .string("sqlite"))
            #expect(try await get("\(stack.baseURL)/healthz").body["status"] == .string("ok"))
        }
    }
}
