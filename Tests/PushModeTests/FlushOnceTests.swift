import CAPICore
import ConnectorRuntime
import GraphAPI
import Hummingbird
import Logging
import ServiceLifecycleTestKit
import Synchronization
import TestSupport
import Testing

@testable import PushMode

/// A one-shot flush sends each row at most once: a batch it reschedules waits for the next run even
/// when full jitter makes the wait a few milliseconds, so one run never spends a row's retry budget.
@Suite("flush once")
struct FlushOnceTests {
    @Test("a row rescheduled by a run is not sent again in that run; each run spends one attempt", arguments: TestStore.enabled)
    func oneAttemptPerRun(store: TestStore) async throws {
        let manifest = try pushManifest(maxEvents: 100)
        let requests = RequestCount()
        try await store.withRegistry { registry in
            _ = try await registry.commitIntake(ForwarderWindowTests.leads(10, prefix: "flush-once"))
            try await withLoopbackServer(Self.unavailable(counting: requests), label: "graph-503") { port in
                // Zero jitter: every retry is due again at once, the case that used to loop.
                let forwarder = Forwarder(
                    registry: registry,
                    graph: GraphClient(configuration: .init(baseURL: "http://127.0.0.1:\(port)", version: "v26.0", timeout: hangLimit)),
                    pixels: manifest.pixels,
                    configuration: .init(maxEvents: 100, linger: .milliseconds(20), maxInFlight: 1),
                    policy: RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(500), maxBackoff: .seconds(1), random: { 0 }),
                    logger: Logger(label: "test")
                )
                let first = try await forwarder.flushDue()
                #expect(first == Forwarder.FlushReport(forwarded: 0, rescheduled: 10, deadLettered: 0, remaining: 10))
                #expect(requests.value == 1)

                let second = try await forwarder.flushDue()
                #expect(second == Forwarder.FlushReport(forwarded: 0, rescheduled: 10, deadLettered: 0, remaining: 10))
                #expect(requests.value == 2)

                // The third attempt is the last the policy allows: now they are dead-lettered, with the reason.
                let third = try await forwarder.flushDue()
                #expect(third == Forwarder.FlushReport(forwarded: 0, rescheduled: 0, deadLettered: 10, remaining: 0))
                #expect(requests.value == 3)
                let letters = try await registry.deadLetters(limit: 20)
                #expect(letters.count == 10)
                #expect(letters.allSatisfy { $0.reason.message.contains("retries exhausted after 3 attempts") }, "\(letters.map(\.reason.message))")
            }
        }
    }

    @Test("a graceful shutdown lets the batch in flight be sent and recorded, then starts no other", arguments: TestStore.enabled)
    func stopsBetweenRounds(store: TestStore) async throws {
        let manifest = try pushManifest(maxEvents: 10)
        let requests = RequestCount()
        let trigger = ShutdownTrigger()
        try await store.withRegistry { registry in
            _ = try await registry.commitIntake(ForwarderWindowTests.leads(50, prefix: "stop"))
            try await withLoopbackServer(Self.accepting(counting: requests, during: trigger), label: "graph-stop") { port in
                let forwarder = ForwarderWindowTests.oneAtATime(
                    registry,
                    graphURL: "http://127.0.0.1:\(port)",
                    pixels: manifest.pixels,
                    maxEvents: 10
                )
                let stopped = try await testGracefulShutdown { shutdown in
                    trigger.current.withLock { $0 = shutdown }
                    return try await forwarder.flushDue()
                }
                #expect(stopped == Forwarder.FlushReport(forwarded: 10, rescheduled: 0, deadLettered: 0, remaining: 40, stopped: true))
                #expect(requests.value == 1)
                trigger.current.withLock { $0 = nil }
                let rest = try await forwarder.flushDue()
                #expect(rest == Forwarder.FlushReport(forwarded: 40, rescheduled: 0, deadLettered: 0, remaining: 0, stopped: false))
                #expect(requests.value == 5)
            }
        }
    }

    /// A Graph stand-in that accepts every batch whole; each request first asks the test's shutdown
    /// trigger, when one is set, for a graceful shutdown, so it comes while that batch is in flight.
    static func accepting(counting requests: RequestCount, during trigger: ShutdownTrigger) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/v26.0/:pixel/events") { request, _ -> Response in
            trigger.current.withLock { $0 }?.triggerGracefulShutdown()
            requests.count.withLock { $0 += 1 }
            let body = try await request.body.collect(upTo: 1 << 20)
            let events = try JSONValue(parsing: Array(buffer: body))["data"]?.arrayValue?.count ?? 0
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"events_received":\#(events),"messages":[],"fbtrace_id":"AStopTrace"}"#))
            )
        }
        return router
    }

    final class ShutdownTrigger: Sendable {
        let current = Mutex<GracefulShutdownTestTrigger?>(nil)
    }

    final class RequestCount: Sendable {
        let count = Mutex(0)
        var value: Int { count.withLock { $0 } }
    }

    /// A Graph stand-in that answers every events request with Meta's transient 503.
    static func unavailable(counting requests: RequestCount) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/v26.0/:pixel/events") { _, _ -> Response in
            requests.count.withLock { $0 += 1 }
            let answer =
                #"{"error":{"message":"Service temporarily unavailable","type":"OAuthException","code":2,"is_transient":true,"fbtrace_id":"AFlushTrace"}}"#
            return Response(
                status: .serviceUnavailable,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: answer))
            )
        }
        return router
    }
}

/// Events close to Meta's age limit: sent while they have the delivery margin left, dead-lettered
/// (`too_old`) once they do not, so one late event never fails a whole batch at Meta.
@Suite("age limit at delivery")
struct AgeLimitTests {
    /// Leads that Meta would refuse as too old from `expiry` on.
    static func leads(_ count: Int, prefix: String, expiringAt expiry: UnixMillis) -> [IntakeItem] {
        ForwarderWindowTests.leads(count, prefix: prefix).map { item in
            var item = item
            item.expiresAt = expiry
            return item
        }
    }

    @Test("with more than the margin left an event is sent; with less it is dead-lettered as too_old", arguments: TestStore.enabled)
    func margin(store: TestStore) async throws {
        let manifest = try pushManifest(maxEvents: 100)
        let now = WallClock.system.now()
        // Ten minutes left: within the hour the forwarder used to keep clear, so it was dead-lettered.
        let late = Self.leads(3, prefix: "late", expiringAt: now + .seconds(600))
        let tooLate = Self.leads(2, prefix: "too-late", expiringAt: now + .seconds(MetaLimits.deliveryMarginSeconds - 30))
        let load = ForwarderWindowTests.GraphLoad()
        load.releaseStall.continuation.finish()
        try await store.withRegistry { registry in
            _ = try await registry.commitIntake(late + tooLate)
            try await withLoopbackServer(ForwarderWindowTests.router(load), label: "graph-age") { port in
                let forwarder = ForwarderWindowTests.oneAtATime(
                    registry,
                    graphURL: "http://127.0.0.1:\(port)",
                    pixels: manifest.pixels,
                    maxEvents: 100
                )
                let report = try await forwarder.flushDue()
                #expect(report == Forwarder.FlushReport(forwarded: 3, rescheduled: 0, deadLettered: 2, remaining: 0))
            }
            #expect(load.current.eventsReceived == 3)
            let dead = try await registry.deadLetters(limit: 10)
            #expect(Set(dead.map(\.key.eventID)) == ["too-late-0", "too-late-1"])
            #expect(dead.allSatisfy { $0.reason.errorClass == .tooOld })
        }
    }

    @Test("a dead letter of the connector's own, a pixel out of the manifest or an event too old, is logged as Meta's refusals are")
    func ownReasonsLogged() async throws {
        let manifest = try pushManifest(maxEvents: 100)
        let now = WallClock.system.now()
        let removedPixel = ForwarderWindowTests.leads(3, prefix: "removed").map { item in
            var item = item
            item.key = EventKey(pixelID: "404404404", eventID: item.key.eventID, eventTime: item.key.eventTime)
            return item
        }
        let tooLate = Self.leads(2, prefix: "too-late", expiringAt: now + .seconds(MetaLimits.deliveryMarginSeconds - 30))
        let log = CapturedLog()
        try await TestStore.sqlite.withRegistry { registry in
            _ = try await registry.commitIntake(removedPixel + tooLate)
            let forwarder = Forwarder(
                registry: registry,
                // Nothing is sent: every event is dead-lettered before a call is made.
                graph: GraphClient(configuration: .init(baseURL: "http://127.0.0.1:1", version: "v26.0", timeout: hangLimit)),
                pixels: manifest.pixels,
                configuration: .init(maxEvents: 100, linger: .milliseconds(20), maxInFlight: 1),
                policy: RetryPolicy(maxAttempts: 1),
                logger: log.logger
            )
            #expect(try await forwarder.flushDue() == Forwarder.FlushReport(forwarded: 0, rescheduled: 0, deadLettered: 5, remaining: 0))
        }
        let lines = log.all.filter { $0.message == "events dead-lettered" && $0.level == .warning }
        let byClass = Dictionary(grouping: lines) { $0.metadata["class"] ?? "" }
        #expect(
            byClass["configuration"]?.map { [$0.metadata["pixel_id"], $0.metadata["events"]] } == [["404404404", "3"]],
            "\(lines.map(\.metadata))"
        )
        #expect(byClass["configuration"]?.first?.metadata["reason"] == "pixel 404404404 is not in the manifest")
        #expect(byClass["too_old"]?.map { [$0.metadata["pixel_id"], $0.metadata["events"]] } == [[testPixel, "2"]], "\(lines.map(\.metadata))")
    }
}
