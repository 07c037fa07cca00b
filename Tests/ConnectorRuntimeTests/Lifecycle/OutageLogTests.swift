import ConnectorRuntime
import Logging
import TestSupport
import Testing

@Suite("Outages in the log")
struct OutageLogTests {
    @Test("a thousand failures are one line when they start, one summary a minute, and one line when the store works again")
    func outageLines() {
        let log = CapturedLog()
        let outage = OutageLog.stateStore(logger: log.logger, work: "intake commits", consequence: "events are answered 503")
        let start = ContinuousClock.now
        outage.succeeded(now: start)
        #expect(log.all.isEmpty, "a success outside an outage is not news")

        let error = StateError(.unavailable, "commit intake: the Postgres server cannot be reached")
        for index in 0..<1000 { outage.failed(error, now: start + .milliseconds(index * 10)) }
        #expect(log.all.count == 1)
        #expect(log.all.first?.level == .error)
        #expect(log.all.first?.message == "the state store fails intake commits; events are answered 503")
        #expect(log.all.first?.metadata["error"]?.contains("cannot be reached") == true)
        #expect(outage.isFailing)

        // A minute after the first line: one summary with the count since.
        outage.failed(error, now: start + .seconds(61))
        outage.failed(error, now: start + .seconds(62))
        #expect(log.all.count == 2)
        #expect(log.all.last?.level == .warning)
        #expect(log.all.last?.metadata["failures_since_last_line"] == "1000")
        #expect(log.all.last?.metadata["for"] == "61 s")

        outage.succeeded(now: start + .seconds(70))
        outage.succeeded(now: start + .seconds(71))
        #expect(log.all.count == 3)
        #expect(log.all.last?.level == .notice)
        #expect(log.all.last?.message == "the state store does intake commits again")
        #expect(log.all.last?.metadata["failures"] == "1002")
        #expect(log.all.last?.metadata["after"] == "70 s")
        #expect(!outage.isFailing)

        // The next outage starts with its own first line.
        outage.failed(error, now: start + .seconds(80))
        #expect(log.all.count == 4)
        #expect(log.all.last?.level == .error)
    }

    @Test("steady failure: failures with no success between for the span, the last one recent")
    func steadyFailure() {
        let outage = OutageLog.stateStore(logger: CapturedLog().logger, work: "intake commits", consequence: "events are answered 503")
        let start = ContinuousClock.now
        let error = StateError(.query, "commit intake: refused")
        func steady(at offset: Duration) -> Bool { outage.isFailingSteadily(for: .seconds(5), lastWithin: .seconds(15), now: start + offset) }
        #expect(!steady(at: .zero), "no failure yet")
        outage.failed(error, now: start)
        outage.failed(error, now: start + .seconds(4))
        #expect(!steady(at: .seconds(4)), "failing for 4 s only")
        outage.failed(error, now: start + .seconds(6))
        #expect(steady(at: .seconds(6)))
        #expect(steady(at: .seconds(21)), "the last failure 15 s ago")
        #expect(!steady(at: .seconds(22)), "nothing tried for more than 15 s: it may be over")
        outage.failed(error, now: start + .seconds(30))
        #expect(steady(at: .seconds(30)), "a failure after a quiet spell is the same outage")
        outage.succeeded(now: start + .seconds(31))
        outage.failed(error, now: start + .seconds(32))
        #expect(!steady(at: .seconds(33)), "a success began it anew")
    }

    @Test("an outage's own wording and metadata: every line names what the work is for, the first one the details given")
    func wordingAndMetadata() {
        let log = CapturedLog()
        let outage = OutageLog(
            logger: log.logger,
            wording: .init(started: "deliveries fail", ongoing: "deliveries still fail", ended: "deliveries work again", startLevel: .warning),
            metadata: ["pixel_id": "111"]
        )
        let start = ContinuousClock.now
        struct Refused: Error, CustomStringConvertible { var description: String { "transient: http 503" } }
        outage.failed(Refused(), details: ["events": "40"], now: start)
        outage.failed(Refused(), details: ["events": "7"], now: start + .seconds(1))
        #expect(log.all.count == 1)
        #expect(log.all.first?.level == .warning)
        #expect(log.all.first?.message == "deliveries fail")
        #expect(log.all.first?.metadata == ["pixel_id": "111", "events": "40", "error": "transient: http 503"])
        outage.failed(Refused(), details: ["events": "3"], now: start + .seconds(60))
        #expect(log.all.last?.message == "deliveries still fail")
        #expect(log.all.last?.metadata["pixel_id"] == "111")
        #expect(log.all.last?.metadata["failures_since_last_line"] == "2")
        outage.succeeded(now: start + .seconds(65))
        #expect(log.all.last?.message == "deliveries work again")
        #expect(log.all.last?.metadata == ["pixel_id": "111", "failures": "3", "after": "65 s"])
    }
}
