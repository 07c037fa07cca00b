import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import GraphSandbox
import Logging
import PullMode
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@Suite("Scheduled poll")
struct ScheduledPollTests {
    @Test("polls on its interval until a graceful shutdown, which it honours between polls")
    func pollsUntilShutdown() async throws {
        try await withSeededSandbox { url, _, expected in
            try await TestStore.sqlite.withRegistry { registry in
                let manifest = try manifest()
                let graph = GraphClient(configuration: .init(baseURL: url, version: "v26.0", timeout: hangLimit))
                let job = PollJob(manifest: manifest, pull: manifest.pull!, registry: registry, graph: graph, logger: Logger(label: "test"))
                let log = CapturedLog()
                let scheduled = ScheduledPoll(job: job, registry: registry, interval: .milliseconds(200), logger: log.logger)
                let group = ServiceGroup(configuration: .init(services: [.init(service: scheduled)], logger: Logger(label: "test")))
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    let deadline = ContinuousClock.now + hangLimit
                    while await scheduled.lastResult.polls < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
                #expect(await scheduled.lastResult.polls >= 2)
                #expect(await scheduled.lastResult.value == .ok)
                #expect(try await registry.recentRuns(limit: 10).count >= 2)
                #expect(try await storedTotals(registry).totals == expected)
                // A scheduled job's log says it started, each poll and when the next is; not after a
                // poll the shutdown stopped, when there is no next.
                let messages = log.all.map(\.message)
                #expect(messages.first == "polling on a schedule until SIGTERM", "\(messages)")
                let whole = log.all.filter { $0.message == "poll finished" && $0.metadata["result"] != "stopped" }
                #expect(whole.count >= 2 && whole.count == messages.filter { $0 == "next poll" }.count, "\(messages)")
                #expect(log.all.first { $0.message == "next poll" }?.metadata["at"]?.hasSuffix("Z") == true)
            }
        }
    }

    @Test("a shutdown during a poll stops it between windows; the schedule's result stays that of the last whole poll")
    func shutdownMidPoll() async throws {
        try await withSeededSandbox { url, _, _ in
            try await TestStore.sqlite.withRegistry { registry in
                let running = Mutex<ServiceGroup?>(nil)
                // The shutdown is asked for as the first window of the first poll is committed.
                let job = pollJob(try manifest(step: "PT6H"), registry: registry, graphURL: url) { _ in
                    guard let group = running.withLock({ $0 }) else { return }
                    Task { await group.triggerGracefulShutdown() }
                }
                let scheduled = ScheduledPoll(job: job, registry: registry, interval: .seconds(60), logger: Logger(label: "test"))
                let group = ServiceGroup(configuration: .init(services: [.init(service: scheduled)], logger: Logger(label: "test")))
                running.withLock { $0 = group }
                try await group.run()
                #expect(await scheduled.lastResult.polls == 1)
                #expect(await scheduled.lastResult.value == .ok, "being stopped is how a schedule ends, not a failure of it")
                let runs = try await registry.recentRuns(limit: 5)
                #expect(runs.count == 1 && runs.first?.status == .interrupted)
                // The group learns of the shutdown a moment after the first window: one more may start.
                let windows = try JSONValue(parsing: runs.first?.counts ?? "")["windows"]
                #expect(windows == .integer(1) || windows == .integer(2), "stopped early, of about 28: \(String(describing: windows))")
            }
        }
    }

    @Test("an authentication failure ends the schedule instead of retrying the same refusal")
    func stopsOnAuthenticationFailure() async throws {
        try await withSeededSandbox(.init(appCredentials: (id: "app-1", secret: "right"))) { url, _, _ in
            try await TestStore.sqlite.withRegistry { registry in
                var manifest = try manifest()
                manifest.pull?.auth = .appCredentials(appID: "app-1", appSecret: Secret("wrong"))
                let graph = GraphClient(configuration: .init(baseURL: url, version: "v26.0", timeout: hangLimit))
                let job = PollJob(manifest: manifest, pull: manifest.pull!, registry: registry, graph: graph, logger: Logger(label: "test"))
                let log = CapturedLog()
                let scheduled = ScheduledPoll(job: job, registry: registry, interval: .milliseconds(50), logger: log.logger)
                try await scheduled.run()
                #expect(await scheduled.lastResult.polls == 1)
                #expect(log.all.contains { $0.level == .error && $0.message.hasPrefix("the schedule ends: Meta refused the credentials") })
                #expect(await scheduled.lastResult.value == .authenticationFailed)
            }
        }
    }
}
