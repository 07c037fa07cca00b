import CAPICore
import ConnectorRuntime
import Foundation
import GraphSandbox
import Logging
import TestSupport
import Testing

@testable import GraphAPI
@testable import PushMode

/// Retries used to be silent: a sidecar that could not reach Meta queued for its whole retry
/// budget, minutes to hours, and its log said nothing until the first dead letter.
@Suite("Deliveries that fail, in the log")
struct DeliveryOutageTests {
    @Test("a pixel whose deliveries fail says so once, with Meta's error and the next attempt, and once when they succeed again")
    func failingThenRecovering() async throws {
        let manifest = try pushManifest(maxEvents: 5)
        let failing = GraphSandbox.Configuration(faults: FaultPlan(rate: 1, kinds: [.serverError]))
        try await TestStore.sqlite.withRegistry { registry in
            _ = try await registry.commitIntake(ForwarderWindowTests.identifiedLeads(20, prefix: "outage"))
            let log = CapturedLog()
            let (forwarder, port) = try await withSandbox(failing) { baseURL, _ in
                let forwarder = Forwarder(
                    registry: registry,
                    graph: GraphClient(configuration: .init(baseURL: baseURL, version: "v26.0", timeout: hangLimit)),
                    pixels: manifest.pixels,
                    configuration: .init(maxEvents: 5, linger: .milliseconds(20), maxInFlight: 1),
                    policy: RetryPolicy(maxAttempts: 8, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(1)),
                    logger: log.logger
                )
                let report = try await forwarder.flushDue()
                #expect(report.forwarded == 0 && report.rescheduled == 20, "\(report)")
                let lines = log.all.filter { $0.message.hasPrefix("deliveries to Meta") }
                #expect(lines.count == 1, "four failed batches are one line: \(lines)")
                #expect(lines.first?.level == .warning)
                #expect(lines.first?.message == "deliveries to Meta fail; the events stay queued and are retried with backoff")
                #expect(lines.first?.metadata["pixel_id"] == testPixel)
                #expect(lines.first?.metadata["events"] == "5")
                #expect(lines.first?.metadata["error"]?.hasPrefix("transient: http 5") == true, "\(lines)")
                #expect(lines.first?.metadata["next_attempt_in"]?.hasSuffix(" s") == true)
                return (forwarder, try #require(URLComponents(string: baseURL)?.port))
            }

            // Meta answers again on the same address; the same forwarder sends the queue.
            var working = GraphSandbox.Configuration()
            working.port = port
            try await withSandbox(working) { _, sandbox in
                var forwarded = 0
                for _ in 0..<5 where forwarded < 20 { forwarded += try await forwarder.flushDue().forwarded }
                #expect(forwarded == 20)
                #expect(await sandbox.receivedCounts(pixelID: testPixel).count == 20)
            }
            let lines = log.all.filter { $0.message.hasPrefix("deliveries to Meta") }
            #expect(
                lines.map(\.message) == [
                    "deliveries to Meta fail; the events stay queued and are retried with backoff",
                    "deliveries to Meta succeed again",
                ]
            )
            #expect(lines.last?.level == .notice)
            #expect(lines.last?.metadata["pixel_id"] == testPixel)
            #expect(lines.last?.metadata["failures"] == "4")
        }
    }
}
