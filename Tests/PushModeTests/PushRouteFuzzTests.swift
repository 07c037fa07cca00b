import CAPICore
import ConnectorRuntime
import Foundation
import HTTPTypes
import Logging
import NIOCore
import PushMode
import TestSupport
import Testing

/// The push routes end to end, fed signed mutations of real events and batches: every answer is a
/// decision (never a 5xx), and no answer, and nothing in the store's files, holds an email address.
@Suite("Fuzzing the push routes")
struct PushRouteFuzzTests {
    /// A mirrored event with personal data in every place a sender puts it by mistake.
    static let event = String(
        decoding: mirroredEvent(
            id: "fuzz-1",
            extra:
                #","app_data":{"advertiser_tracking_enabled":1,"extinfo":["a2","jane@example.com","","","","","","","","","","","","","",""]},"original_event_data":{"event_name":"Purchase","contact":"jane@example.com"},"attribution_data":{"ref":"jane@example.com"}"#
        ),
        as: UTF8.self
    )

    @Test("signed mutated events and batches: never a 5xx; no answer or stored byte holds an email address")
    func signedBodies() async throws {
        let accepted = try await Self.fuzzRoutes(seed: 8, seeds: [Self.event, #"{"data":[\#(Self.event),\#(Self.event)]}"#]) {
            index,
            body in
            let path = body.starts(with: Array(#"{"data""#.utf8)) ? "/v1/events/batch" : "/v1/events"
            var headers: HTTPFields = [.contentType: "application/json"]
            for (name, value) in signedHeaders(body, id: "msg_fuzz_\(index)") { headers[HTTPField.Name(name)!] = value }
            return .init(method: .post, path: path, headers: headers, body: ByteBuffer(bytes: body), clientAddress: "198.51.100.4")
        } check: { _, _, _ in
        }
        #expect(accepted.contains(202))
    }

    /// The Graph-compatible route's two body shapes, token in the body as Meta's SDKs send it.
    static var graphBodies: [String] {
        // The mirrored event without its `pixel_id`: the path names the pixel.
        let event = event.replacingOccurrences(of: #""pixel_id":"\#(testPixel)","#, with: "")
        let form = "data=" + "[\(event)]".addingPercentEncoding(withAllowedCharacters: .alphanumerics)! + "&access_token=ingest-token"
        return [#"{"data":[\#(event)],"access_token":"ingest-token"}"#, form]
    }

    @Test("mutated Graph-compatible bodies (JSON and form): never a 5xx; no answer echoes the token or an email; nothing stored holds an email")
    func graphCompatibleBodies() async throws {
        let accepted = try await Self.fuzzRoutes(seed: 9, seeds: Self.graphBodies) { index, body in
            var headers: HTTPFields = [
                .contentType: body.first == UInt8(ascii: "{") ? "application/json" : "application/x-www-form-urlencoded"
            ]
            // Half the cases carry the token in the header too, so a mutated body token does not
            // stop them short of intake.
            if index.isMultiple(of: 2) { headers[.authorization] = "Bearer ingest-token" }
            return .init(
                method: .post,
                path: "/v21.0/\(testPixel)/events",
                headers: headers,
                body: ByteBuffer(bytes: body),
                clientAddress: "198.51.100.4"
            )
        } check: { index, body, text in
            // Only where the token is nowhere but in its field: a splice may copy it into a key
            // name, which an answer names.
            if Self.occurrences(of: "ingest-token", in: body) == 1 {
                #expect(!text.contains("ingest-token"), "case \(index): \(text)")
            }
        }
        #expect(accepted.contains(200))
    }

    /// Sends each mutation of `seeds` through the push routes of a sidecar on a fresh SQLite store,
    /// as the request `request` makes of it. Every answer must be a decision (never a 5xx) without
    /// an email address, and `check` may ask more of it; afterwards no byte of the store's files
    /// may hold an email address. Returns the statuses answered.
    static func fuzzRoutes(
        seed: UInt64,
        seeds: [String],
        request: @escaping @Sendable (Int, [UInt8]) -> PushHandler.Input,
        check: @escaping @Sendable (Int, [UInt8], String) -> Void
    ) async throws -> Set<Int> {
        // Each case is a request and, when accepted, a commit: fewer than the parsers get.
        var mutated: [[UInt8]] = []
        await Mutator.run(seed: seed, seeds: seeds) { bytes in
            if mutated.count < (Mutator.cases > 2_000 ? Mutator.cases : 400) { mutated.append(bytes) }
        }
        let inputs = mutated
        let directory = TemporaryPaths.url("route-fuzz")
        let manifest = try pushManifest()
        let statuses = try await withStateRegistry(
            .sqlite(path: directory.appendingPathComponent("state.sqlite").path),
            logger: Logger(label: "test")
        ) {
            registry in
            let sidecar = PushSidecar(
                manifest: manifest,
                push: manifest.push!,
                registry: registry,
                graph: .init(manifest: manifest, baseURL: "http://127.0.0.1:1")
            )
            return await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await sidecar.committer.run() }
                defer { group.cancelAll() }
                let handler = PushHandler(server: sidecar.server)
                var statuses: Set<Int> = []
                for (index, body) in inputs.enumerated() {
                    let answer = await handler.handle(request(index, body))
                    let text = String(buffer: answer.body)
                    #expect(answer.status.code < 500, "case \(index): \(answer.status.code) \(text)")
                    #expect(!PersonalData.containsEmail(text), "case \(index): \(text)")
                    check(index, body, text)
                    statuses.insert(Int(answer.status.code))
                }
                return statuses
            }
        }
        // Every file the store wrote (database, write-ahead log, shared memory), read as text.
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            let bytes = try Data(contentsOf: directory.appendingPathComponent(file))
            #expect(!PersonalData.containsEmail(String(decoding: bytes, as: UTF8.self)), "\(file)")
        }
        return statuses
    }

    static func occurrences(of needle: String, in bytes: [UInt8]) -> Int {
        let needle = Array(needle.utf8)
        guard bytes.count >= needle.count else { return 0 }
        return (0...(bytes.count - needle.count)).count { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
