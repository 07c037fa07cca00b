import CAPICore
import ConnectorRuntime
import Foundation
import GraphSandbox
import PullMode
import ServiceLifecycleTestKit
import TestSupport
import Testing

/// What a poll does with what Meta says about its budget and its token: it slows down when the
/// usage headers near the limit, stops waiting when asked to shut down, and exchanges its app
/// credentials again, once, when Meta stops taking the app token.
@Suite("Poll pacing and app token refresh")
struct PollPacingTests {
    @Test(
        "every read answered with usage past 75 % is followed by a pause in proportion (90 %: 36 s of 60), every page included; below, none",
        arguments: [(90.0, Duration.seconds(36)), (60.0, nil)] as [(Double, Duration?)]
    )
    func pacesByUsage(percent: Double, expected: Duration?) async throws {
        var configuration = GraphSandbox.Configuration(statsPageSize: 3)
        configuration.readUsagePercent = percent
        try await withSeededSandbox(configuration) { url, _, totals in
            try await TestStore.sqlite.withRegistry { registry in
                let pauses = RecordedPauses()
                let log = CapturedLog()
                let report = try await poll(try manifest(), registry: registry, graphURL: url, logger: log.logger, usagePause: pauses.pause)
                #expect(report.result == .ok)
                #expect(try await storedTotals(registry).totals == totals)
                let slowing = log.all.filter { $0.message.hasPrefix("slowing down") }
                guard let expected else {
                    #expect(pauses.all.isEmpty && slowing.isEmpty)
                    return
                }
                // Two stats queries per window, some of several pages, and the quality read.
                #expect(pauses.all.count > report.windows * 2 + 1, "\(pauses.all.count) pauses for \(report.windows) windows")
                #expect(pauses.all.allSatisfy { $0 == expected }, "\(Set(pauses.all))")
                #expect(slowing.count == pauses.all.count)
                #expect(slowing.allSatisfy { $0.metadata["usage_percent"] == "90.0" && $0.metadata["pixel_id"] == pixelID })
            }
        }
    }

    @Test(
        "a graceful shutdown during a usage pause ends the wait: the window in hand is committed and the poll stops, long before the pause would end",
        .timeLimit(.minutes(1))
    )
    func shutdownEndsThePause() async throws {
        var configuration = GraphSandbox.Configuration()
        configuration.readUsagePercent = 99  // a pause of 57.6 s after every read
        try await withSeededSandbox(configuration) { url, _, _ in
            try await TestStore.sqlite.withRegistry { registry in
                let manifest = try manifest(step: "PT6H")
                let clock = ContinuousClock()
                let started = clock.now
                let report = try await testGracefulShutdown { trigger in
                    // SIGTERM arrives while the first read's pause is under way.
                    let pause = UsagePause { duration in
                        trigger.triggerGracefulShutdown()
                        try await UsagePause.sleeping(duration)
                    }
                    return try await poll(manifest, registry: registry, graphURL: url, usagePause: pause)
                }
                let took = clock.now - started
                #expect(took < .seconds(20), "stopped after \(took)")
                #expect(report.result == .stopped && report.windows == 1, "\(report.result) after \(report.windows) windows")
                let run = try #require(try await registry.recentRuns(limit: 1).first)
                #expect(run.runID == report.runID && run.status == .interrupted)
                let cursor = try await registry.cursor(CursorKey(connector: manifest.id, stream: "delivery_statuses", partition: pixelID))
                #expect(cursor != nil, "the window read before the stop was committed")
            }
        }
    }

    @Test(
        "an app token Meta stops taking between the pages of a window is exchanged again, the next page read with the new token alone, and the poll completes; reads never use the pixel's token"
    )
    func appTokenRefreshed() async throws {
        var configuration = GraphSandbox.Configuration(
            accessTokens: [seedToken],
            appCredentials: (id: "app-1", secret: "app-secret-7Qx"),
            statsPageSize: 3
        )
        configuration.appTokenRequests = 3
        try await withSeededSandbox(configuration) { url, sandbox, totals in
            try await TestStore.sqlite.withRegistry { registry in
                var manifest = try manifest()
                manifest.pull?.auth = .appCredentials(appID: "app-1", appSecret: Secret("app-secret-7Qx"))
                let log = CapturedLog()
                let report = try await poll(manifest, registry: registry, graphURL: url, logger: log.logger, usagePause: RecordedPauses().pause)
                #expect(report.result == .ok, "\(report.outcomes)")
                #expect(try await storedTotals(registry).totals == totals)
                // Three reads per token (so one expires between the pages of a window), and more than six in the poll.
                #expect(await sandbox.appTokenExchanges() >= 3)
                let text = log.all.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
                #expect(!text.contains("sandbox-app-token") && !text.contains("app-secret-7Qx"), "no token or secret in the log")
            }
        }
    }

    @Test("an app token refused again right after its exchange fails the pixel as an authentication failure after one refresh, not a loop")
    func appTokenRefusedAfterRefresh() async throws {
        var configuration = GraphSandbox.Configuration(appCredentials: (id: "app-1", secret: "app-secret-7Qx"))
        configuration.appTokenRequests = 0
        try await withSeededSandbox(configuration) { url, sandbox, _ in
            try await TestStore.sqlite.withRegistry { registry in
                var manifest = try manifest()
                manifest.pull?.auth = .appCredentials(appID: "app-1", appSecret: Secret("app-secret-7Qx"))
                let report = try await poll(manifest, registry: registry, graphURL: url, usagePause: RecordedPauses().pause)
                #expect(report.result == .authenticationFailed)
                #expect(await sandbox.appTokenExchanges() == 2, "the first exchange and one refresh")
                #expect(try await registry.recentRuns(limit: 1).first?.status == .authFailed)
                #expect(try await registry.cursor(CursorKey(connector: manifest.id, stream: "delivery_statuses", partition: pixelID)) == nil)
            }
        }
    }
}
