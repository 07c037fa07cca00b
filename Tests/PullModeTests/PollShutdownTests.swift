import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import Logging
import PullMode
import ServiceLifecycleTestKit
import TestSupport
import Testing

/// A poll asked to stop (SIGTERM to a container job) and a poll that was killed: neither leaves a
/// run that never ends, and the next poll goes on from the last committed window.
@Suite("Poll stopped or killed")
struct PollShutdownTests {
    @Test(
        "a graceful shutdown stops a poll after the window in flight; the run is interrupted and the next poll reads the rest",
        arguments: TestStore.enabled
    )
    func stopsBetweenWindows(store: TestStore) async throws {
        try await withSeededSandbox { url, _, expected in
            try await store.withRegistry { registry in
                let manifest = try manifest(step: "PT6H")
                let stopped = try await testGracefulShutdown { trigger in
                    // Asked to stop as soon as the first window is committed.
                    try await pollJob(manifest, registry: registry, graphURL: url) { _ in trigger.triggerGracefulShutdown() }.run()
                }
                #expect(stopped.result == .stopped)
                #expect(stopped.outcomes == [pixelID: .stopped])
                #expect(stopped.windows == 1, "one window committed, then the poll stopped")
                let run = try #require(try await registry.recentRuns(limit: 5).first)
                #expect(run.runID == stopped.runID && run.status == .interrupted && run.endedAt != nil && run.errorClass == nil)
                let counts = try JSONValue(parsing: run.counts)
                #expect(
                    counts["stopped_pixels"] == .integer(1) && counts["failed_pixels"] == .integer(0) && counts["windows"] == .integer(1),
                    "\(counts)"
                )
                #expect(try await registry.matchQualitySnapshots(since: nil).isEmpty, "match quality is not read after the stop")
                let cursor = try await registry.cursor(CursorKey(connector: manifest.id, stream: "delivery_statuses", partition: pixelID))
                #expect(cursor != nil, "the committed window moved the cursor")

                let next = try await poll(manifest, registry: registry, graphURL: url)
                #expect(next.result == .ok && next.windows > 1)
                #expect(try await storedTotals(registry).totals == expected)
                #expect(try await registry.recentRuns(limit: 5).first { $0.runID == stopped.runID }?.status == .interrupted)
            }
        }
    }

    @Test("a run a killed poll left running is marked interrupted by the next poll; ended runs keep their status", arguments: TestStore.enabled)
    func killedRunsAreClosed(store: TestStore) async throws {
        try await withSeededSandbox(events: 3) { url, _, _ in
            try await store.withRegistry { registry in
                let started = UnixMillis(WallClock.system.now().rawValue - 3_600_000)
                try await registry.recordRun(RunRecord(runID: "pull-killed", mode: .pull, startedAt: started))
                try await registry.recordRun(
                    RunRecord(runID: "pull-ended", mode: .pull, startedAt: started - .seconds(60), endedAt: started, status: .ok)
                )
                let report = try await poll(try manifest(), registry: registry, graphURL: url)
                #expect(report.result == .ok)
                let runs = Dictionary(uniqueKeysWithValues: try await registry.recentRuns(limit: 10).map { ($0.runID, $0) })
                #expect(runs["pull-killed"]?.status == .interrupted && runs["pull-killed"]?.endedAt == nil)
                #expect(runs["pull-ended"]?.status == .ok && runs["pull-ended"]?.endedAt == started)
                #expect(runs[report.runID]?.status == .ok)
                #expect(try await registry.interruptUnfinishedRuns(mode: .pull) == 0, "nothing is left running")
            }
        }
    }
}
