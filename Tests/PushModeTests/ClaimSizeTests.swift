import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle
import TestSupport
import Testing

@testable import PushMode

/// A claim returns its rows, payloads included, through PostgreSQL's portal store, which writes
/// whatever passes `work_mem` to a temporary file. The forwarder claims one batch per statement,
/// so a backlog of full batches never does. The store here runs as a role that may write no
/// temporary file at all (`temp_file_limit = 0`): a claim that spilled fails instead.
@Suite("forwarder claim size", .enabled(if: TestPostgres.enabled))
struct ClaimSizeTests {
    enum Mode: String, CaseIterable, CustomTestStringConvertible {
        case flushOnce, serve
        var testDescription: String { rawValue }
    }

    /// 4,000 events of about 1.3 KB: four batches of 1,000 are 5 MB, past the default 4 MB
    /// `work_mem`; one batch is 1.3 MB.
    static let events = 4_000
    static let maxEvents = 1_000

    @Test("a backlog of four full batches is claimed without a temporary file", arguments: Mode.allCases)
    func noTemporaryFile(mode: Mode) async throws {
        let manifest = try pushManifest(maxEvents: Self.maxEvents)
        let received = FlushOnceTests.RequestCount()
        try await TestPostgres.withRole(settings: [("temp_file_limit", "0"), ("work_mem", "'4MB'")]) { target in
            try await withStateRegistry(.postgres(target), schema: TestPostgres.uniqueName("claim_size"), logger: Logger(label: "test")) {
                registry in
                // Queued as intake queues them: at most 1,000 events per commit.
                let leads = Self.largeLeads(Self.events)
                for start in stride(from: 0, to: leads.count, by: Self.maxEvents) {
                    _ = try await registry.commitIntake(Array(leads[start..<start + Self.maxEvents]))
                }
                try await withLoopbackServer(Self.acceptingGraph(received), label: "graph-claim-size") { port in
                    let forwarder = Forwarder(
                        registry: registry,
                        graph: GraphClient(configuration: .init(baseURL: "http://127.0.0.1:\(port)", version: "v26.0", timeout: hangLimit)),
                        pixels: manifest.pixels,
                        configuration: .init(maxEvents: Self.maxEvents, linger: .milliseconds(20), maxInFlight: 4),
                        policy: RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(1)),
                        logger: Logger(label: "test")
                    )
                    switch mode {
                    case .flushOnce:
                        let report = try await forwarder.flushDue()
                        #expect(report == Forwarder.FlushReport(forwarded: Self.events, rescheduled: 0, deadLettered: 0, remaining: 0))
                    case .serve:
                        let group = ServiceGroup(configuration: .init(services: [.init(service: forwarder)], logger: Logger(label: "test")))
                        try await withThrowingTaskGroup(of: Void.self) { tasks in
                            tasks.addTask { try await group.run() }
                            try await eventually("the backlog forwarded") { try await registry.outboxDepth() == 0 }
                            await group.triggerGracefulShutdown()
                            try await tasks.waitForAll()
                        }
                        #expect(forwarder.recorded.forwarded == Self.events)
                    }
                }
                #expect(received.value == Self.events)
            }
        }
    }

    /// Lead events a minute old whose payloads carry about 1.2 KB of `custom_data`.
    static func largeLeads(_ count: Int) -> [IntakeItem] {
        let padding = String(repeating: "x", count: 1_200)
        return ForwarderWindowTests.leads(count, prefix: "claim-size").map { item in
            var item = item
            item.payload = String(item.payload.dropLast()) + #","custom_data":{"note":"\#(padding)"}}"#
            return item
        }
    }

    /// A Graph stand-in that takes every batch and counts its events.
    static func acceptingGraph(_ received: FlushOnceTests.RequestCount) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/v26.0/:pixel/events") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 20_000_000)
            let events = try JSONValue(parsing: Array(buffer: body))["data"]?.arrayValue?.count ?? 0
            received.count.withLock { $0 += events }
            let answer = #"{"events_received":\#(events),"messages":[],"fbtrace_id":"AClaimSizeTrace"}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer)))
        }
        return router
    }
}
