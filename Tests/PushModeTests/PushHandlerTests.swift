import CAPICore
import ConnectorRuntime
import Foundation
import HTTPTypes
import Logging
import NIOCore
import PushMode
import Testing

/// The push routes called as a function (what a Lambda runner does): the same verification,
/// validation and commit as the HTTP server, with the caller's address as the peer.
@Suite("Push handler without a server")
struct PushHandlerTests {
    func withHandler(_ body: @Sendable (PushHandler, any StateRegistry) async throws -> Void) async throws {
        try await withSidecar(manifest: try pushManifest(pushExtra: "  enrich_from_request: true")) { sidecar in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await sidecar.committer.run() }
                defer { group.cancelAll() }
                try await body(PushHandler(server: sidecar.server), sidecar.registry)
            }
        }
    }

    func input(_ path: String, _ body: [UInt8], headers: [(String, String)] = [], from address: String? = "198.51.100.4") -> PushHandler.Input {
        var fields: HTTPFields = [.contentType: "application/json"]
        for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
        return .init(method: .post, path: path, headers: fields, body: ByteBuffer(bytes: body), clientAddress: address)
    }

    func json(_ output: PushHandler.Output) -> JSONValue { (try? JSONValue(parsing: output.body.readableBytesView)) ?? .null }

    @Test("a signed event is committed and answered 202; a retry is a duplicate; the peer fills client_ip_address")
    func accepted() async throws {
        try await withHandler { handler, registry in
            let event = Array(
                String(decoding: mirroredEvent(id: "h-1"), as: UTF8.self).replacingOccurrences(of: #","client_ip_address":"203.0.113.7""#, with: "")
                    .utf8
            )
            let headers = signedHeaders(event)
            let first = await handler.handle(input("/v1/events", event, headers: headers))
            #expect(first.status == .accepted)
            #expect(json(first)["event_id"] == .string("h-1"))
            #expect(first.headers[.contentType] == "application/json")

            let retry = await handler.handle(input("/v1/events", event, headers: signedHeaders(event)))
            #expect(retry.status == .accepted)
            #expect(json(retry)["duplicate"] == .bool(true))

            let rows = try await registry.claimOutbox(limit: 10, owner: "test", lease: .seconds(1), now: WallClock.system.now(), pixelID: nil)
            #expect(rows.count == 1)
            #expect(rows.first?.payload.contains(#""client_ip_address":"198.51.100.4""#) == true)
        }
    }

    @Test("HEAD is answered as the HTTP server answers it: GET's status and headers, no body")
    func head() async throws {
        try await withHandler { handler, _ in
            let get = await handler.handle(.init(method: .get, path: "/healthz", headers: [:], body: ByteBuffer(), clientAddress: nil))
            let head = await handler.handle(.init(method: .head, path: "/healthz", headers: [:], body: ByteBuffer(), clientAddress: nil))
            #expect(get.status == .ok && get.body.readableBytes > 0)
            #expect(head.status == .ok && head.body.readableBytes == 0)
            #expect(head.headers[.contentType] == get.headers[.contentType])
        }
    }

    @Test("refusals come from the same middleware and routes: 401, 400 naming the field, 404")
    func refusals() async throws {
        try await withHandler { handler, _ in
            let unsigned = await handler.handle(input("/v1/events", mirroredEvent(id: "h-2")))
            #expect(unsigned.status == .unauthorized)
            #expect(json(unsigned)["reason"] == .string("missing_signature"))

            let millis = mirroredEvent(id: "h-3", time: Int64(Date().timeIntervalSince1970) * 1000)
            let invalid = await handler.handle(input("/v1/events", millis, headers: signedHeaders(millis)))
            #expect(invalid.status == .badRequest)
            #expect(json(invalid)["problems"]?.arrayValue?.first?["field"] == .string("event_time"))

            let unknown = await handler.handle(input("/nowhere", []))
            #expect(unknown.status == .notFound)
        }
    }
}
