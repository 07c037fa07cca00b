import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import GraphSandbox
import PullMode
import TestSupport
import Testing

/// Graph answers that must fail a window rather than delete data, advance the cursor or loop.
@Suite("Poll job against broken answers")
struct PollHardeningTests {
    /// Polls once against a clean stand-in, then against one that answers only with `fault`.
    func pollThenBreak(_ fault: FaultPlan.Kind) async throws {
        try await withSeededSandbox { url, _, expected in
            try await TestStore.sqlite.withRegistry { registry in
                let manifest = try manifest()
                #expect(try await poll(manifest, registry: registry, graphURL: url).result == .ok)
                let key = CursorKey(connector: manifest.id, stream: "delivery_statuses", partition: pixelID)
                let cursor = try await registry.cursor(key)
                let broken = GraphSandbox(configuration: .init(faults: FaultPlan(rate: 1, kinds: [fault])))
                let report = try await broken.withRunning { brokenURL in try await poll(manifest, registry: registry, graphURL: brokenURL) }
                #expect(report.result == .partial, "a window that could not be read is a failed partition")
                #expect(try await registry.cursor(key) == cursor, "the cursor must not move past an unread window")
                #expect(try await storedTotals(registry).totals == expected, "stored counts must survive an unreadable answer")
            }
        }
    }

    @Test("a 200 whose body is not JSON fails the window: nothing deleted, cursor unchanged, exit 1")
    func nonJSONSuccess() async throws {
        try await pollThenBreak(.garbage)
    }

    @Test("a paging.next that repeats fails the window instead of looping with the lock held")
    func repeatingNextLink() async throws {
        try await pollThenBreak(.pagingLoop)
    }

    @Test(
        "stats counts that are NaN-like, negative or huge are malformed answers, not traps",
        arguments: [
            #"{"data":[{"start_time":"2026-11-20T10:00:00+0000","data":[{"value":"Purchase","count":1e300}]}]}"#,
            #"{"data":[{"start_time":"2026-11-20T10:00:00+0000","data":[{"value":"Purchase","count":-5}]}]}"#,
            #"{"data":[{"start_time":"2026-11-20T10:00:00+0000","data":[{"value":"Purchase","count":"99999999999999999999"}]}]}"#,
            #"{"data":[{"start_time":"2026-11-20T25:00:00+0000","data":[]}]}"#,
            #"{"paging":{}}"#,
        ]
    )
    func malformedStats(body: String) throws {
        let window = DateWindows.Window(start: UnixSeconds(1_795_132_800), end: UnixSeconds(1_795_219_200))
        #expect(throws: AnswerShapeProblem.self) {
            try StatsPage.records(from: try JSONValue(parsing: body), pixelID: "1", eventSource: "all", window: window)
        }
    }

    @Test(
        "Retry-After and usage headers never yield a trap or a wait beyond a day",
        arguments: [
            "NaN", "inf", "-5", "1e400", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
        ]
    )
    func retryHints(header: String) {
        let wait = RetryAfter.parse(header, now: UnixSeconds(1_795_000_000))
        #expect(wait.map { $0 >= .zero && $0 <= .seconds(86_400) } ?? true)
        let usage = UsageHeaders(appUsage: nil, businessUseCaseUsage: #"{"x":[{"estimated_time_to_regain_access":1e308,"call_count":"NaN"}]}"#)
        #expect(usage.pacingDelay() <= .seconds(86_400))
    }
}
