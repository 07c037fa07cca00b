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

/// `push.batching.yield_to_intake`: during a burst the forwarder leaves the machine to the
/// acknowledgements, for a bounded time, and never loses or strands an event doing so.
@Suite("forwarding yields to a saturated intake")
struct IntakeYieldTests {
    @Test("holds off while intake is saturated, for the limit in all, then not again until it catches up")
    func boundedHoldOff() {
        let start = ContinuousClock.now
        var yield = IntakeYield(limit: .seconds(30))
        func waits(saturated: Bool, at seconds: Int) -> Bool { yield.shouldWait(intakeSaturated: saturated, now: start + .seconds(seconds)) }
        #expect(!waits(saturated: false, at: 0))
        #expect(waits(saturated: true, at: 1))
        #expect(waits(saturated: true, at: 20))
        // A lull in the burst does not restart the clock: the limit counts from the first hold.
        #expect(!waits(saturated: false, at: 25))
        #expect(waits(saturated: true, at: 30))
        #expect(!waits(saturated: true, at: 31))
        #expect(!waits(saturated: true, at: 300))
        yield.caughtUp()
        #expect(waits(saturated: true, at: 301))

        var never = IntakeYield(limit: .zero)
        let neverWaits = never.shouldWait(intakeSaturated: true, now: start)
        #expect(!neverWaits)
    }

    @Test("a commit carrying 16 or more callers marks intake saturated, for as long as the window asked about")
    func pressure() async throws {
        let pressure = IntakePressure()
        #expect(!pressure.isSaturated(within: .seconds(60)))
        pressure.commitStarted(callers: IntakePressure.saturatedCallers - 1)
        #expect(!pressure.isSaturated(within: .seconds(60)))
        pressure.commitStarted(callers: IntakePressure.saturatedCallers)
        #expect(pressure.isSaturated(within: .seconds(60)))
        try await Task.sleep(for: .milliseconds(50))
        #expect(!pressure.isSaturated(within: .milliseconds(10)))
        #expect(pressure.isSaturated(within: .seconds(60)))
    }

    @Test("64 callers at once saturate the group committer; one caller at a time does not", arguments: TestStore.enabled)
    func committerReportsPressure(store: TestStore) async throws {
        try await store.withRegistry { registry in
            // Pressure is under test, not the commit deadline.
            let committer = GroupCommitter(registry: registry, commitTimeout: .seconds(120))
            let group = ServiceGroup(configuration: .init(services: [.init(service: committer)], logger: Logger(label: "test")))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                for (index, item) in ForwarderWindowTests.leads(20, prefix: "alone").enumerated() {
                    let outcomes = try await committer.commit([item])
                    #expect(outcomes.count == 1, "\(index)")
                }
                #expect(!committer.pressure.isSaturated(within: .seconds(60)))
                // Rounds of 64 concurrent callers until one commit has carried 16 of them: the
                // first commit of a round usually leaves the rest queued behind it.
                for round in 0..<20 where !committer.pressure.isSaturated(within: .seconds(60)) {
                    try await withThrowingTaskGroup(of: Int.self) { callers in
                        for item in ForwarderWindowTests.leads(64, prefix: "burst-\(round)") {
                            callers.addTask { try await committer.commit([item]).count }
                        }
                        let answered = try await callers.reduce(0, +)
                        #expect(answered == 64)
                    }
                }
                #expect(committer.pressure.isSaturated(within: .seconds(60)))
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }

    /// A Graph stand-in that counts the events it receives and notes when the first arrived.
    final class Receipts: Sendable {
        let state = Mutex<(events: Int, first: ContinuousClock.Instant?)>((0, nil))
        var events: Int { state.withLock { $0.events } }
        var first: ContinuousClock.Instant? { state.withLock { $0.first } }

        func router() -> Router<BasicRequestContext> {
            let router = Router()
            router.post("/v26.0/:pixel/events") { request, context -> Response in
                let body = try await request.body.collect(upTo: 10_000_000)
                let events = try JSONValue(parsing: Array(buffer: body))["data"]?.arrayValue?.count ?? 0
                self.state.withLock { state in
                    state.events += events
                    if state.first == nil { state.first = .now }
                }
                let answer = #"{"events_received":\#(events),"messages":[],"fbtrace_id":"AYieldTrace"}"#
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer)))
            }
            return router
        }
    }

    @Test("with intake saturated throughout, nothing is claimed before the limit and everything is forwarded after it", arguments: TestStore.enabled)
    func forwarderHoldsOffThenForwards(store: TestStore) async throws {
        let manifest = try pushManifest(maxEvents: 50)
        let receipts = Receipts()
        let pressure = IntakePressure()
        let limit = Duration.milliseconds(800)
        try await store.withRegistry { registry in
            _ = try await registry.commitIntake(ForwarderWindowTests.leads(300, prefix: "yield"))
            try await withLoopbackServer(receipts.router(), label: "graph-yield") { port in
                let forwarder = Forwarder(
                    registry: registry,
                    graph: GraphClient(configuration: .init(baseURL: "http://127.0.0.1:\(port)", version: "v26.0", timeout: hangLimit)),
                    pixels: manifest.pixels,
                    configuration: .init(maxEvents: 50, linger: .milliseconds(20), maxInFlight: 2, yieldToIntake: limit),
                    policy: RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(1)),
                    logger: Logger(label: "test"),
                    intakePressure: pressure
                )
                let group = ServiceGroup(configuration: .init(services: [.init(service: forwarder)], logger: Logger(label: "test")))
                // A burst that never ends: a saturated commit every 10 ms, from a thread of its
                // own. As a task it shared the cooperative pool with the rest of a full test run,
                // which once held it back for more than the forwarder's 100 ms window: the burst
                // seemed over and the forwarder claimed at 0.5 s.
                let burst = Burst(pressure)
                defer { burst.stop() }
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    let started = ContinuousClock.now
                    tasks.addTask { try await group.run() }
                    try await Task.sleep(for: .milliseconds(400))
                    #expect(receipts.events == 0)
                    #expect(try await registry.outboxDepth() == 300)
                    try await eventually("all forwarded despite the burst") { try await registry.outboxDepth() == 0 }
                    #expect(receipts.events == 300)
                    let first = try #require(receipts.first)
                    #expect(first - started >= limit - .milliseconds(50))
                    await group.triggerGracefulShutdown()
                    tasks.cancelAll()
                    try await tasks.waitForAll()
                }
                let forwarded = try await registry.deliveredEvents(since: nil).filter { $0.outcome == .forwarded }
                #expect(forwarded.count == 300)
            }
        }
    }
}

/// Saturated commits every 10 ms on a dedicated thread until stopped.
private final class Burst: Sendable {
    private let stopped = Atomic<Bool>(false)

    init(_ pressure: IntakePressure) {
        let thread = Thread { [self] in
            while !self.stopped.load(ordering: .relaxed) {
                pressure.commitStarted(callers: 32)
                usleep(10_000)
            }
        }
        thread.start()
    }

    func stop() { stopped.store(true, ordering: .relaxed) }
}
