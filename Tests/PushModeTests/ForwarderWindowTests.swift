import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@testable import PushMode

/// `max_in_flight` as a sliding window: never more Graph requests at once than it allows, and a
/// slow request holds one slot while the others keep claiming and sending.
@Suite("forwarder window")
struct ForwarderWindowTests {
    /// What the Graph stand-in saw: requests in flight now and at most, events answered.
    final class GraphLoad: Sendable {
        struct Counts {
            var inFlight = 0
            var maxInFlight = 0
            var requests = 0
            var eventsReceived = 0
            /// Whether the first request is being held.
            var stalled = false
        }
        let counts = Mutex(Counts())
        let releaseStall = AsyncStream<Void>.makeStream()

        var current: Counts { counts.withLock { $0 } }
    }

    /// A Graph stand-in whose first events request waits until the test releases it.
    static func router(_ load: GraphLoad) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/v26.0/:pixel/events") { request, context -> Response in
            let body = try await request.body.collect(upTo: 10_000_000)
            let events = try JSONValue(parsing: Array(buffer: body))["data"]?.arrayValue?.count ?? 0
            let number = load.counts.withLock { counts in
                counts.inFlight += 1
                counts.maxInFlight = max(counts.maxInFlight, counts.inFlight)
                counts.requests += 1
                if counts.requests == 1 { counts.stalled = true }
                return counts.requests
            }
            let first = number == 1
            if first {
                for await _ in load.releaseStall.stream { break }
            } else if number <= 3 {
                // The second and third requests wait for each other, so a full window is seen
                // however slowly a loaded machine claims; a window of two leaves them waiting
                // out the deadline and the test sees `maxInFlight == 2`. The deadline stays well
                // inside the HTTP client's 90 s read timeout, which would end the held request.
                let deadline = ContinuousClock.now + hangLimit / 4
                while load.current.maxInFlight < 3, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(2))
                }
            } else {
                try await Task.sleep(for: .milliseconds(5))
            }
            load.counts.withLock { counts in
                counts.inFlight -= 1
                counts.eventsReceived += events
                if first { counts.stalled = false }
            }
            let answer = #"{"events_received":\#(events),"messages":[],"fbtrace_id":"AWindowTrace"}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer)))
        }
        return router
    }

    /// A forwarder into `graphURL` with one request in flight and a quick retry policy, for tests
    /// that flush once and look at the outcome.
    static func oneAtATime(
        _ registry: any OutboxStore & AlarmStore,
        graphURL: String,
        pixels: [PixelConfiguration],
        maxEvents: Int,
        logger: Logger = Logger(label: "test")
    ) -> Forwarder {
        Forwarder(
            registry: registry,
            graph: GraphClient(configuration: .init(baseURL: graphURL, version: "v26.0", timeout: hangLimit)),
            pixels: pixels,
            configuration: .init(maxEvents: maxEvents, linger: .milliseconds(20), maxInFlight: 1),
            policy: RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(1)),
            logger: logger
        )
    }

    /// `count` minimal Lead events a minute old, queued as intake would queue them.
    static func leads(_ count: Int, prefix: String) -> [IntakeItem] {
        let time = WallClock.system.seconds() - .seconds(60)
        return (0..<count).map { index in
            let id = "\(prefix)-\(index)"
            return IntakeItem(
                key: EventKey(pixelID: testPixel, eventID: id, eventTime: time),
                contentHash: id,
                payload: #"{"action_source":"other","event_id":"\#(id)","event_name":"Lead","event_time":\#(time.rawValue)}"#,
                answer: "{}",
                deliveredRecord: "{}",
                receivedAt: UnixMillis(1)
            )
        }
    }

    /// Leads with the one `user_data` key Meta's validation asks for, so the stand-in accepts them.
    static func identifiedLeads(_ count: Int, prefix: String) -> [IntakeItem] {
        leads(count, prefix: prefix).map { item in
            var item = item
            item.payload.removeLast()
            item.payload += #","user_data":{"external_id":["\#(SHA256Hex.digest(item.key.eventID))"]}}"#
            return item
        }
    }

    @Test("a held request keeps one slot; the other slots drain the outbox", arguments: TestStore.enabled)
    func slidingWindow(store: TestStore) async throws {
        let manifest = try pushManifest(maxEvents: 10)
        let load = GraphLoad()
        try await store.withRegistry { registry in
            _ = try await registry.commitIntake(Self.leads(200, prefix: "window"))
            try await withLoopbackServer(Self.router(load), label: "graph-window", beforeShutdown: { load.releaseStall.continuation.finish() }) {
                port in
                let forwarder = Forwarder(
                    registry: registry,
                    graph: GraphClient(configuration: .init(baseURL: "http://127.0.0.1:\(port)", version: "v26.0", timeout: hangLimit)),
                    pixels: manifest.pixels,
                    configuration: .init(maxEvents: 10, linger: .milliseconds(20), maxInFlight: 3),
                    policy: RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(1)),
                    logger: Logger(label: "test")
                )
                let group = ServiceGroup(configuration: .init(services: [.init(service: forwarder)], logger: Logger(label: "test")))
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    // Everything but the held batch arrives while that batch is still held.
                    try await eventually("all but the held batch forwarded") { try await registry.outboxDepth() == 10 }
                    let during = load.current
                    #expect(during.stalled)
                    #expect(during.eventsReceived == 190)
                    #expect(during.maxInFlight == 3)
                    load.releaseStall.continuation.finish()
                    try await eventually("the held batch forwarded") { try await registry.outboxDepth() == 0 }
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
                let after = load.current
                #expect(after.maxInFlight == 3)
                #expect(after.eventsReceived == 200)
                #expect(after.requests == 20)
                let forwarded = try await registry.deliveredEvents(since: nil).filter { $0.outcome == .forwarded }
                #expect(forwarded.count == 200)
                #expect(Set(forwarded.map(\.fbtraceID)) == ["AWindowTrace"])
            }
        }
    }
}

@Suite("forwarder stopped mid-delivery")
struct ForwarderCancellationTests {
    @Test("a batch cut off by cancellation counts no attempt, logs no error, and is sent after its lease", arguments: TestStore.enabled)
    func cancelledMidSend(store: TestStore) async throws {
        let manifest = try pushManifest(maxEvents: 10)
        try await store.withRegistry { registry in
            _ = try await registry.commitIntake(ForwarderWindowTests.leads(10, prefix: "cut"))
            let log = CapturedLog()
            @Sendable func forwarder(port: Int, logger: Logger) -> Forwarder {
                Forwarder(
                    registry: registry,
                    graph: GraphClient(configuration: .init(baseURL: "http://127.0.0.1:\(port)", version: "v26.0", timeout: hangLimit)),
                    pixels: manifest.pixels,
                    configuration: .init(maxEvents: 10, linger: .milliseconds(20), maxInFlight: 1, lease: .seconds(1)),
                    policy: RetryPolicy(maxAttempts: 1, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(1)),
                    logger: logger
                )
            }

            // The stand-in holds the only request; the forwarder is cancelled while it waits.
            let held = ForwarderWindowTests.GraphLoad()
            try await withLoopbackServer(
                ForwarderWindowTests.router(held),
                label: "graph-held",
                beforeShutdown: { held.releaseStall.continuation.finish() }
            ) {
                port in
                let sending = forwarder(port: port, logger: log.logger)
                let running = Task { try await sending.run() }
                try await eventually("the batch is in flight") { held.current.stalled }
                running.cancel()
                _ = await running.result
            }
            #expect(!log.all.contains { $0.level >= .error }, "\(log.all)")
            #expect(log.all.contains { $0.level == .notice && $0.message.contains("sent again when its lease ends") })
            // Nothing recorded: no attempt counted (one attempt would dead-letter with this policy).
            #expect(try await registry.outboxDepth() == 10)
            #expect(try await registry.deadLetters(limit: 10).isEmpty)

            // After the lease another forwarder sends the batch.
            let open = ForwarderWindowTests.GraphLoad()
            open.releaseStall.continuation.finish()
            try await withLoopbackServer(ForwarderWindowTests.router(open), label: "graph-open") { port in
                try await Task.sleep(for: .milliseconds(1200))
                let report = try await forwarder(port: port, logger: Logger(label: "test")).flushDue()
                #expect(report.forwarded == 10 && report.remaining == 0 && report.deadLettered == 0)
            }
            #expect(open.current.eventsReceived == 10)
            let forwarded = try await registry.deliveredEvents(since: nil).filter { $0.outcome == .forwarded }
            #expect(forwarded.count == 10)
        }
    }
}

@Suite("forwarder gauges")
struct ForwarderGaugeTests {
    @Test("the outbox gauges refresh every 5 s, and less often when counting the outbox is slow")
    func refreshInterval() {
        #expect(Forwarder.gaugeInterval(after: .zero) == .seconds(5))
        #expect(Forwarder.gaugeInterval(after: .milliseconds(100)) == .seconds(5))
        #expect(Forwarder.gaugeInterval(after: .milliseconds(200)) == .seconds(10))
        #expect(Forwarder.gaugeInterval(after: .seconds(2)) == .seconds(100))
    }
}
