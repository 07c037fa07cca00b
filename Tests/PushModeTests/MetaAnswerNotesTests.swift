import CAPICore
import ConnectorRuntime
import GraphSandbox
import Logging
import TestSupport
import Testing

@testable import GraphAPI
@testable import PushMode

/// Meta's warnings and short counts on accepted batches: logged without flooding, never changing
/// the batch's outcome.
@Suite("Meta's notes on accepted batches")
struct MetaAnswerNotesTests {
    static func receipt(received: Int, messages: [String] = []) -> SendEventsReceipt {
        SendEventsReceipt(eventsReceived: received, messages: messages, fbtraceID: "ATrace", usage: UsageHeaders())
    }

    @Test("each message is logged once per pixel and text; a short count once a minute, with what it left unconfirmed since")
    func logging() {
        let log = CapturedLog()
        let notes = MetaAnswerNotes(logger: log.logger)
        let start = ContinuousClock.now
        notes.record(pixelID: "1", sent: 10, receipt: Self.receipt(received: 10), now: start)
        #expect(log.all.isEmpty, "a clean answer says nothing")

        notes.record(pixelID: "1", sent: 10, receipt: Self.receipt(received: 10, messages: ["fbc was modified"]), now: start)
        notes.record(pixelID: "1", sent: 10, receipt: Self.receipt(received: 10, messages: ["fbc was modified"]), now: start)
        notes.record(pixelID: "2", sent: 10, receipt: Self.receipt(received: 10, messages: ["fbc was modified"]), now: start)
        let messageLines = log.all.filter { $0.metadata["meta_message"] != nil }
        #expect(messageLines.map { $0.metadata["pixel_id"] } == ["1", "2"])
        #expect(messageLines.allSatisfy { $0.level == .warning && $0.metadata["meta_message"] == "fbc was modified" })

        notes.record(pixelID: "1", sent: 10, receipt: Self.receipt(received: 8), now: start)
        notes.record(pixelID: "1", sent: 10, receipt: Self.receipt(received: 9), now: start + .seconds(30))
        notes.record(pixelID: "1", sent: 10, receipt: Self.receipt(received: 7), now: start + .seconds(59))
        var shortLines = log.all.filter { $0.metadata["events_unconfirmed"] != nil }
        #expect(shortLines.map { $0.metadata["events_unconfirmed"] } == ["2"], "one line in the first minute")
        notes.record(pixelID: "1", sent: 10, receipt: Self.receipt(received: 9), now: start + .seconds(61))
        shortLines = log.all.filter { $0.metadata["events_unconfirmed"] != nil }
        #expect(shortLines.map { $0.metadata["events_unconfirmed"] } == ["2", "5"], "the next line counts every event since the last")
        #expect(shortLines.last?.metadata["last_batch_received"] == "9")
        // More events received than sent is not a shortfall.
        notes.record(pixelID: "3", sent: 1, receipt: Self.receipt(received: 2), now: start)
        #expect(!log.all.contains { $0.metadata["pixel_id"] == "3" })
    }

    @Test("messages that vary per batch stop being remembered at the bound, and are still not logged twice")
    func bounded() {
        let log = CapturedLog()
        let notes = MetaAnswerNotes(logger: log.logger)
        for index in 0..<(MetaAnswerNotes.maximumRemembered + 50) {
            notes.record(pixelID: "1", sent: 1, receipt: Self.receipt(received: 1, messages: ["message \(index)"]))
        }
        notes.record(pixelID: "1", sent: 1, receipt: Self.receipt(received: 1, messages: ["message 0"]))
        #expect(log.all.count == MetaAnswerNotes.maximumRemembered)
    }

    @Test("batches Meta accepts with a warning and a short count are forwarded, and say so once", arguments: TestStore.enabled)
    func forwarder(store: TestStore) async throws {
        let manifest = try pushManifest(maxEvents: 10)
        let configuration = GraphSandbox.Configuration(faults: FaultPlan(rate: 1, kinds: [.warning, .shortCount]))
        try await withSandbox(configuration) { baseURL, sandbox in
            try await store.withRegistry { registry in
                _ = try await registry.commitIntake(ForwarderWindowTests.identifiedLeads(30, prefix: "noted"))
                let log = CapturedLog()
                let forwarder = ForwarderWindowTests.oneAtATime(
                    registry,
                    graphURL: baseURL,
                    pixels: manifest.pixels,
                    maxEvents: 10,
                    logger: log.logger
                )
                let report = try await forwarder.flushDue()
                #expect(report.forwarded == 30 && report.deadLettered == 0 && report.remaining == 0, "\(report)")
                #expect(await sandbox.receivedCounts(pixelID: testPixel).count == 30)
                let forwarded = try await registry.deliveredEvents(since: nil).filter { $0.outcome == .forwarded }
                #expect(forwarded.count == 30)
                let warnings = log.all.filter { $0.level == .warning }
                #expect(warnings.filter { $0.metadata["meta_message"] != nil }.count == 1, "\(warnings)")
                #expect(warnings.filter { $0.metadata["events_unconfirmed"] != nil }.map { $0.metadata["events_unconfirmed"] } == ["1"])
            }
        }
    }
}
