import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import GraphSandbox
import Logging
import NIOCore
import PullMode
import Synchronization
import TestSupport
import Testing

let pixelID = "777000111"
let seedToken = "seed-token"

func manifest(step: String = "PT12H", lookback: String = "PT6H", pageSize: Int? = nil, attempts: Int = 5) throws -> Manifest {
    try ManifestLoader(environment: [:]).load(
        yaml: """
            \(TestManifest.header)
            pixels:
              - {id: "\(pixelID)", access_token: pixel-token}
            pull:
              streams:
                delivery_statuses: {step: \(step), lookback_window: \(lookback), settle_lag: PT0M\(pageSize.map { ", page_size: \($0)" } ?? "")}
              retry: {max_attempts: \(attempts), initial_backoff: 2ms, max_backoff: 10ms}
            """,
        path: "pull.yaml"
    )
}

/// A running sandbox seeded with server events over the last two days.
func withSeededSandbox<T: Sendable>(
    _ configuration: GraphSandbox.Configuration = .init(),
    events: Int = 40,
    _ body: @Sendable (String, GraphSandbox, [String: Int]) async throws -> T
) async throws -> T {
    let sandbox = GraphSandbox(configuration: configuration)
    return try await sandbox.withRunning { url in
        // Seeding retries until the batch is accepted, so a sandbox with faults still gets every event.
        let client = GraphClient(configuration: .init(baseURL: url, version: "v26.0", timeout: hangLimit))
        let now = Int64(Date().timeIntervalSince1970)
        var expected: [String: Int] = [:]
        var batch: [ByteBuffer] = []
        for index in 0..<events {
            let name = ["Purchase", "Lead", "AddToCart"][index % 3]
            expected[name, default: 0] += 1
            let time = now - 3600 - Int64(index) * 3600
            batch.append(
                ByteBuffer(
                    string:
                        #"{"event_name":"\#(name)","event_time":\#(time),"event_id":"seed-\#(index)","action_source":"email","user_data":{"em":["\#(SHA256Hex.digest("p\(index)@x.co"))"]},"custom_data":{"value":5,"currency":"EUR"}}"#
                )
            )
        }
        let policy = RetryPolicy(maxAttempts: 100, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(5))
        let events = batch
        let outcome = await RetryLoop.run(policy: policy) { () async throws(GraphError) -> SendEventsReceipt in
            try await client.sendEvents(pixelID: pixelID, accessToken: Secret(seedToken), encodedEvents: events)
        }
        guard case .success = outcome else {
            Issue.record("seeding failed: \(outcome)")
            throw TestSetupError("the sandbox could not be seeded")
        }
        return try await body(url, sandbox, expected)
    }
}

/// A poll job against the stand-in at `graphURL` that tells `progress` of each committed window.
func pollJob(_ manifest: Manifest, registry: any StateRegistry, graphURL: String, progress: @escaping @Sendable (String) -> Void) -> PollJob {
    PollJob(
        manifest: manifest,
        pull: manifest.pull!,
        registry: registry,
        graph: GraphClient(configuration: .init(baseURL: graphURL, version: "v26.0", timeout: hangLimit)),
        logger: Logger(label: "test"),
        progress: progress
    )
}

/// A poll job's run against the stand-in at `graphURL`, its client configured from `manifest`.
func poll(
    _ manifest: Manifest,
    registry: any StateRegistry,
    graphURL: String,
    drift: DriftMonitor? = nil,
    logger: Logger = Logger(label: "test.poll"),
    clock: WallClock = .system,
    usagePause: UsagePause = .sleeping
) async throws -> PollJob.Report {
    let graph = GraphClient(configuration: GraphClient.Configuration(manifest: manifest, baseURL: graphURL))
    return try await PollJob(
        manifest: manifest,
        pull: manifest.pull!,
        registry: registry,
        graph: graph,
        logger: logger,
        clock: clock,
        drift: drift,
        usagePause: usagePause
    )
    .run()
}

/// The pauses a poll asked for, recorded instead of slept.
final class RecordedPauses: Sendable {
    private let asked = Mutex<[Duration]>([])
    var all: [Duration] { asked.withLock { $0 } }
    var pause: UsagePause { UsagePause { duration in self.asked.withLock { $0.append(duration) } } }
}

/// Server-side totals per event name, from what the registry stored.
func storedTotals(_ registry: any StateRegistry) async throws -> (totals: [String: Int], rows: Int) {
    let records = try await registry.deliveryStatuses(since: nil).map(\.status)
    var totals: [String: Int] = [:]
    for record in records where record.eventSource == "server" { totals[record.eventName, default: 0] += Int(record.count) }
    return (totals, records.count)
}

@Suite("Poll job against the sandbox")
struct PollJobTests {
    @Test("two polls exit 0; totals match what the stand-in received; re-reading never duplicates", arguments: TestStore.enabled)
    func pollTwice(store: TestStore) async throws {
        try await withSeededSandbox(.init(statsPageSize: 3)) { url, _, expected in
            try await store.withRegistry { registry in
                let manifest = try manifest()
                let first = try await poll(manifest, registry: registry, graphURL: url)
                #expect(first.result == .ok && first.windows >= 4)
                let (totals, rows) = try await storedTotals(registry)
                #expect(totals == expected)
                let second = try await poll(manifest, registry: registry, graphURL: url)
                #expect(second.result == .ok)
                let again = try await storedTotals(registry)
                #expect(again.totals == expected && again.rows == rows, "a re-read duplicated records")
                let cursor = try await registry.cursor(CursorKey(connector: manifest.id, stream: "delivery_statuses", partition: pixelID))
                #expect(cursor != nil)
                #expect(try await registry.recentRuns(limit: 5).filter { $0.status == .ok }.count == 2)
                let snapshots = try await registry.matchQualitySnapshots(since: nil)
                #expect(snapshots.count == 6, "one snapshot of three event names per run")
                #expect(Set(snapshots.compactMap { $0.quality.record["snapshot_at"]?.stringValue }).count == 2)
                #expect(Set(snapshots.map(\.snapshotAt)).count == 2)
            }
        }
    }

    @Test("stats pages whose paging.next names Meta's host are read through the configured base URL")
    func pagingLinksOnMetasHost() async throws {
        var configuration = GraphSandbox.Configuration(statsPageSize: 3)
        configuration.pagingLinkOrigin = "https://graph.facebook.com"
        try await withSeededSandbox(configuration) { url, _, expected in
            try await TestStore.sqlite.withRegistry { registry in
                let report = try await poll(try manifest(), registry: registry, graphURL: url)
                #expect(report.result == .ok)
                #expect(try await storedTotals(registry).totals == expected)
            }
        }
    }

    @Test("a poll that fails mid-run resumes from its last committed window: no gaps, no duplicates", arguments: TestStore.enabled)
    func resumes(store: TestStore) async throws {
        // One sandbox data set, read first through a failing stand-in, then through a healthy one.
        try await withSeededSandbox(events: 45) { healthyURL, _, expected in
            let failing = GraphSandbox.Configuration(faults: FaultPlan(rate: 0.35, kinds: [.serverError]), seed: 9)
            try await withSeededSandbox(failing, events: 45) { failingURL, _, _ in
                try await store.withRegistry { registry in
                    let manifest = try manifest(step: "PT6H", attempts: 1)
                    let interrupted = try await poll(manifest, registry: registry, graphURL: failingURL)
                    #expect(interrupted.result == .partial, "the fault plan did not interrupt the poll")
                    let partial = try await storedTotals(registry)
                    #expect(partial.totals.values.reduce(0, +) < expected.values.reduce(0, +))
                    let resumed = try await poll(manifest, registry: registry, graphURL: healthyURL)
                    #expect(resumed.result == .ok)
                    let (totals, _) = try await storedTotals(registry)
                    #expect(totals == expected)
                }
            }
        }
    }

    @Test("reads slower than the send timeout are read within graph_api.read_timeout, and the poll succeeds")
    func slowReads() async throws {
        // Every answer held 600 ms: past the manifest's 300 ms send timeout, within its 10 s read timeout.
        let slow = GraphSandbox.Configuration(faults: FaultPlan(rate: 1, kinds: [.slow]), timeoutDelay: .milliseconds(600))
        try await withSeededSandbox(slow, events: 6) { url, _, expected in
            try await TestStore.sqlite.withRegistry { registry in
                func slowManifest(readTimeout: Duration) throws -> Manifest {
                    var manifest = try manifest(step: "P2D", lookback: "PT6H", attempts: 1)
                    manifest.graphAPI.timeout = .milliseconds(300)
                    manifest.graphAPI.readTimeout = readTimeout
                    return manifest
                }
                let cut = try await poll(try slowManifest(readTimeout: .milliseconds(300)), registry: registry, graphURL: url)
                #expect(cut.result == .partial, "reads held past the read timeout must fail the window")
                let report = try await poll(try slowManifest(readTimeout: .seconds(10)), registry: registry, graphURL: url)
                #expect(report.result == .ok)
                #expect(try await storedTotals(registry).totals == expected)
            }
        }
    }

    @Test(
        "a poll after more than Meta's 7 days reads from the horizon, reports the gap it could not read and warns once",
        arguments: TestStore.enabled
    )
    func gapBeyondHorizon(store: TestStore) async throws {
        try await withSeededSandbox { url, _, _ in
            try await store.withRegistry { registry in
                let manifest = try manifest(step: "P1D")
                let first = try await poll(manifest, registry: registry, graphURL: url)
                #expect(first.result == .ok && first.gap == .zero)
                let key = CursorKey(connector: manifest.id, stream: "delivery_statuses", partition: pixelID)
                let before = try #require(try await registry.cursor(key)).position

                // Ten days later: three of them have passed out of Meta's reach.
                let later = WallClock { UnixMillis(WallClock.system.now().rawValue + 10 * 86_400_000) }
                let log = CapturedLog()
                let report = try await poll(manifest, registry: registry, graphURL: url, logger: log.logger, clock: later)
                #expect(report.result == .ok)
                let horizon = later.seconds().rawValue - 7 * 86_400
                let expectedGap = horizon - before.rawValue
                #expect(abs(report.gap.components.seconds - expectedGap) <= 3_600, "gap \(report.gap), expected about \(expectedGap) s")
                let warnings = log.all.filter { $0.message == "cursor older than Meta's 7-day horizon: the gap cannot be read" }
                #expect(warnings.count == 1 && warnings.first?.level == .warning)
                #expect(warnings.first?.metadata["pixel_id"] == pixelID)
                #expect(warnings.first?.metadata["gap_seconds"] == "\(report.gap.components.seconds)")
                let after = try #require(try await registry.cursor(key)).position
                #expect(after.rawValue > horizon, "the cursor moved on to the new run's last window")
            }
        }
    }

    @Test("each retried read is one warning naming the pixel or ad account, the attempt and the wait, so an outage is not silence")
    func retriesAreLogged() async throws {
        let failing = GraphSandbox(configuration: .init(faults: FaultPlan(rate: 1, kinds: [.serverError])))
        try await failing.withRunning { url in
            try await TestStore.sqlite.withRegistry { registry in
                let manifest = try insightsManifest()
                let log = CapturedLog()
                let report = try await poll(manifest, registry: registry, graphURL: url, logger: log.logger)
                #expect(report.result == .partial)
                let retries = log.all.filter { $0.message == "read failed; retrying" }
                #expect(
                    retries.allSatisfy {
                        $0.level == .warning && $0.metadata["retry_in_seconds"] != nil && $0.metadata["error"]?.contains("http 5") == true
                    }
                )
                // max_attempts 3: two retries of the pixel's first read and of the account's first read.
                let pixel = retries.filter { $0.metadata["pixel_id"] == pixelID }
                let account = retries.filter { $0.metadata["account_id"]?.hasSuffix(adAccount) == true }
                #expect(pixel.compactMap { $0.metadata["attempt"] }.prefix(2) == ["1", "2"], "\(retries.map(\.metadata))")
                #expect(account.compactMap { $0.metadata["attempt"] } == ["1", "2"], "\(retries.map(\.metadata))")
            }
        }
    }

    @Test("a token Meta refuses is an authentication failure (exit code 3), and the cursor does not move")
    func authFailure() async throws {
        try await withSeededSandbox(.init(accessTokens: [seedToken])) { url, _, _ in
            try await TestStore.sqlite.withRegistry { registry in
                let manifest = try manifest()
                let report = try await poll(manifest, registry: registry, graphURL: url)
                #expect(report.result == .authenticationFailed)
                #expect(try await registry.cursor(CursorKey(connector: manifest.id, stream: "delivery_statuses", partition: pixelID)) == nil)
                #expect(try await registry.recentRuns(limit: 1).first?.status == .authFailed)
            }
        }
    }
}

@Suite("Poll authentication")
struct PollAuthenticationTests {
    @Test("app credentials are exchanged for an app token; a wrong app secret is an authentication failure")
    func appCredentials() async throws {
        try await withSeededSandbox(.init(appCredentials: (id: "app-1", secret: "right"))) { url, _, expected in
            try await TestStore.sqlite.withRegistry { registry in
                var good = try manifest()
                good.pull?.auth = .appCredentials(appID: "app-1", appSecret: Secret("right"))
                #expect(try await poll(good, registry: registry, graphURL: url).result == .ok)
                #expect(try await storedTotals(registry).totals == expected)
                var bad = try manifest()
                bad.pull?.auth = .appCredentials(appID: "app-1", appSecret: Secret("wrong"))
                #expect(try await poll(bad, registry: registry, graphURL: url).result == .authenticationFailed)
            }
        }
    }
}

@Suite("KPI report: forwarded against received for pixels without an ad account")
struct ReconciliationTests {
    func report(_ delivered: [DeliveredEvent], _ statuses: [StoredDeliveryStatus], cursor: UnixSeconds, now: UnixSeconds) -> KPIReport {
        KPIReport(
            accounts: [],
            pixels: [pixelID],
            delivered: DeliveredTally(accounts: [], events: delivered),
            statuses: statuses,
            insights: [],
            statusesThrough: [pixelID: cursor],
            insightsThrough: [:],
            now: now,
            since: { $0.day(of: now).adding(days: -6) },
            until: { $0.day(of: now).adding(days: 1) },
            by: .day,
            threshold: 5
        )
    }

    @Test("matches by construction on a fault-free run, and shows the gap when the stand-in drops events")
    func reconcile() async throws {
        try await withSeededSandbox(events: 30) { url, sandbox, _ in
            try await TestStore.sqlite.withRegistry { registry in
                let manifest = try manifest()
                _ = try await poll(manifest, registry: registry, graphURL: url)
                let received = try await GraphClient(configuration: .init(baseURL: url, version: "v26.0")).get(
                    url: "\(url)/_sandbox/events?pixel_id=\(pixelID)",
                    accessToken: nil
                )
                // What the connector forwarded: exactly what reached the stand-in.
                let delivered: [DeliveredEvent] = try (received.body["data"]?.arrayValue ?? []).map { row in
                    let name = try #require(row["event_name"]?.stringValue)
                    guard case .integer(let time)? = row["event"]?["event_time"] else { throw TestSetupError("the stand-in lost an event_time") }
                    return DeliveredEvent(
                        key: EventKey(pixelID: pixelID, eventID: row["event_id"]?.stringValue ?? "", eventTime: UnixSeconds(time)),
                        receivedAt: UnixMillis(0),
                        outcome: .forwarded,
                        record: JSONValue.object(["event_name": .string(name)]).serialized,
                        fbtraceID: nil,
                        deadLetterReason: nil
                    )
                }
                let now = WallClock.system.seconds()
                let cursor = try #require(
                    try await registry.cursor(CursorKey(connector: manifest.id, stream: "delivery_statuses", partition: pixelID))
                )
                let clean = report(delivered, try await registry.deliveryStatuses(since: nil), cursor: cursor.position, now: now)
                let events = clean.rows.flatMap(\.events)
                #expect(!events.isEmpty && clean.rows.allSatisfy { $0.accountID == nil && $0.spend == nil })
                #expect(events.allSatisfy { !$0.diverges }, "fault-free: nothing divergent")
                #expect(events.filter { $0.received == .reported }.allSatisfy { $0.metaReceived == $0.forwarded })
                #expect(clean.rows.last?.events.allSatisfy { $0.received == .pending } == true, "today is not over: pending, never divergent")

                // Meta "loses" three events from two days ago; the next poll re-reads the lookback window.
                let older = delivered.filter { $0.key.eventTime < now - .seconds(2 * 86_400) }.prefix(3).map(\.key.eventID)
                await sandbox.drop(pixelID: pixelID, eventIDs: Set(older))
                _ = try await poll(manifest, registry: registry, graphURL: url)
                let lossy = report(delivered, try await registry.deliveryStatuses(since: nil), cursor: cursor.position, now: now)
                let lost = lossy.rows.flatMap(\.events).filter { $0.received == .reported }.map { $0.forwarded - ($0.metaReceived ?? 0) }.reduce(0, +)
                #expect(older.isEmpty || lost == Int64(older.count))
                #expect(older.isEmpty || lossy.rows.flatMap(\.events).contains { $0.diverges })
                let html = KPIReportFormat.html(lossy, title: "test", generatedAt: "now")
                #expect(html.contains("<svg") && html.contains("polyline") && !html.contains("http://cdn") && !html.contains("<script src"))
                #expect(KPIReportFormat.csv(lossy).split(separator: "\n").count == lossy.rows.count + lossy.rows.flatMap(\.events).count + 1)
            }
        }
    }
}
