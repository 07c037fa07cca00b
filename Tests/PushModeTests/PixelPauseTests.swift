import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import Hummingbird
import Synchronization
import TestSupport
import Testing

@testable import PushMode

/// meta-capi.md: a refused token, missing permissions or a retired API version stop sending for
/// that pixel, raise an alarm and keep its events queued; none is retried into the dead-letter
/// queue, and the pixel tries once more when its pause ends.
@Suite("pixels paused by Meta's refusals")
struct PixelPauseTests {
    struct Refusal: Sendable, CustomTestStringConvertible {
        var code: Int
        var subcode: Int?
        var type: String
        var alarm: String
        var testDescription: String { "code \(code) → \(alarm)" }
    }

    static let refusals: [Refusal] = [
        Refusal(code: 190, subcode: 463, type: "OAuthException", alarm: "pixel_paused_auth"),
        Refusal(code: 200, subcode: nil, type: "OAuthException", alarm: "pixel_paused_permission"),
        Refusal(code: 2635, subcode: nil, type: "OAuthException", alarm: "pixel_paused_deprecated"),
    ]

    /// What the test steers and what the Graph stand-in saw.
    final class Scene: Sendable {
        let refusing = Mutex(true)
        /// Requests answered 503 once the refusals end, before the stand-in accepts again.
        let transientFailures = Mutex(0)
        let counts = Mutex((requests: 0, accepted: 0))
        /// How far the forwarder's clock runs ahead of the wall clock, in milliseconds.
        let ahead = Mutex<Int64>(0)
        var clock: WallClock { WallClock { UnixMillis(WallClock.system.now().rawValue + self.ahead.withLock { $0 }) } }
    }

    /// A Graph stand-in that refuses every request with `refusal` while the scene says so, and
    /// otherwise accepts; it counts the requests and the events it accepted.
    static func router(_ refusal: Refusal, scene: Scene) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/v26.0/:pixel/events") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 10_000_000)
            let events = try JSONValue(parsing: Array(buffer: body))["data"]?.arrayValue?.count ?? 0
            let refuse = scene.refusing.withLock { $0 }
            let failing =
                !refuse
                && scene.transientFailures.withLock { remaining in
                    defer { remaining = max(0, remaining - 1) }
                    return remaining > 0
                }
            scene.counts.withLock {
                $0.requests += 1
                if !refuse && !failing { $0.accepted += events }
            }
            if failing {
                let answer =
                    #"{"error":{"message":"Service temporarily unavailable","type":"OAuthException","code":2,"is_transient":true,"fbtrace_id":"Abusy"}}"#
                return Response(
                    status: .serviceUnavailable,
                    headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: answer))
                )
            }
            let answer: String
            if refuse {
                let subcode = refusal.subcode.map { #","error_subcode":\#($0)"# } ?? ""
                answer =
                    #"{"error":{"message":"refused by the test","type":"\#(refusal.type)","code":\#(refusal.code)\#(subcode),"fbtrace_id":"Atest"}}"#
            } else {
                answer = #"{"events_received":\#(events),"messages":[],"fbtrace_id":"Aok"}"#
            }
            return Response(
                status: refuse ? .badRequest : .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: answer))
            )
        }
        return router
    }

    @Test(
        "the pixel's events stay queued under an alarm, later ones wait without a request, and the alarm clears once it delivers",
        arguments: refusals,
        TestStore.enabled
    )
    func pausedThenDelivers(refusal: Refusal, store: TestStore) async throws {
        let manifest = try pushManifest(maxEvents: 5)
        let scene = Scene()
        let log = CapturedLog()
        try await store.withRegistry { registry in
            _ = try await registry.commitIntake(ForwarderWindowTests.identifiedLeads(7, prefix: "paused"))
            try await withLoopbackServer(Self.router(refusal, scene: scene), label: "graph-refusing") { port in
                let forwarder = Forwarder(
                    registry: registry,
                    graph: GraphClient(configuration: .init(baseURL: "http://127.0.0.1:\(port)", version: "v26.0", timeout: hangLimit)),
                    pixels: manifest.pixels,
                    configuration: .init(maxEvents: 5, linger: .milliseconds(1), maxInFlight: 1, pauseAfterAuthFailure: .seconds(300)),
                    policy: RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(1)),
                    logger: log.logger,
                    clock: scene.clock
                )

                // Refused: kept, not dead-lettered however small the retry budget, and alarmed.
                let refused = try await forwarder.flushDue()
                #expect(refused.forwarded == 0 && refused.deadLettered == 0 && refused.rescheduled == 7, "\(refused)")
                #expect(try await registry.outboxDepth() == 7)
                #expect(try await registry.deadLetters(limit: 10).isEmpty)
                let alarms = try await registry.activeAlarms()
                #expect(alarms.map(\.subject) == [AlarmSubject(kind: refusal.alarm, pixelID: testPixel)], "\(alarms)")
                #expect(alarms.first?.severity == .critical)
                let paused = log.all.filter { $0.message.hasPrefix("pixel paused") }
                #expect(!paused.isEmpty && paused.allSatisfy { $0.metadata["pixel_id"] == testPixel && $0.metadata["code"] == "\(refusal.code)" })
                #expect(!log.all.contains { "\($0.metadata)".contains("pixel-token") }, "the token is never logged")
                let requestsWhilePaused = scene.counts.withLock { $0.requests }

                // Meta would take them now, but the pause holds: an event that arrives meanwhile
                // waits for the pause's end without a request.
                scene.refusing.withLock { $0 = false }
                _ = try await registry.commitIntake(ForwarderWindowTests.identifiedLeads(3, prefix: "meanwhile"))
                scene.ahead.withLock { $0 = 60_000 }
                let waiting = try await forwarder.flushDue()
                #expect(waiting.forwarded == 0 && waiting.deadLettered == 0 && waiting.remaining == 10, "\(waiting)")
                #expect(scene.counts.withLock { $0.requests } == requestsWhilePaused, "no request to Meta during the pause")
                let waitingRows = try await registry.summary().outbox.first { $0.pixelID == testPixel }
                #expect(waitingRows?.retrying == 0, "a pause spends no retry: \(String(describing: waitingRows))")

                // The pause ends, and Meta's first answer is a transient 503. The pause spent none
                // of the events' retries (two here), so they wait for the next try rather than
                // going to the dead-letter queue; then everything is delivered once and the alarm
                // clears.
                scene.ahead.withLock { $0 = 301_000 }
                scene.transientFailures.withLock { $0 = 1 }
                var forwarded = 0
                for _ in 0..<10 where forwarded < 10 {
                    let round = try await forwarder.flushDue()
                    #expect(round.deadLettered == 0, "\(round)")
                    forwarded += round.forwarded
                    try await Task.sleep(for: .milliseconds(5))
                }
                #expect(forwarded == 10)
                #expect(try await registry.deadLetters(limit: 10).isEmpty)
                #expect(scene.counts.withLock { $0.accepted } == 10)
                #expect(try await registry.outboxDepth() == 0)
                #expect(try await registry.activeAlarms().isEmpty)
                #expect(log.all.contains { $0.message == "pixel delivers again; its pause alarm is cleared" })
            }
        }
    }
}
