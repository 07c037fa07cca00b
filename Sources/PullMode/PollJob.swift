import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// One poll: for every configured pixel (one partition each), read `delivery_statuses` window by
/// window and `match_quality` once, committing each window's records together with its cursor;
/// then `ad_insights` for every configured ad account (``InsightsJob``, partition `act_{id}`).
///
/// A failing pixel does not stop the others; an auth failure stops that pixel and is reported as
/// such. Re-reading (lookback, a retried run) upserts, so nothing is ever duplicated.
public struct PollJob: Sendable {
    public enum PixelOutcome: Sendable, Equatable {
        case ok
        case failed(String)
        case authFailed(String)
        /// A graceful shutdown came first: the partition stopped between windows.
        case stopped
    }

    public struct Report: Sendable {
        public var runID: String
        public var outcomes: [String: PixelOutcome]
        public var records: Int
        public var windows: Int
        /// The longest stretch some partition could no longer read (beyond Meta's horizon).
        public var gap: Duration

        /// The run as a whole: an authentication failure anywhere outranks a failed partition,
        /// which outranks one stopped by a shutdown.
        public var result: PollResult {
            let values = Array(outcomes.values)
            if values.contains(where: { if case .authFailed = $0 { true } else { false } }) { return .authenticationFailed }
            if values.contains(where: { if case .failed = $0 { true } else { false } }) { return .partial }
            if values.contains(.stopped) { return .stopped }
            return .ok
        }
    }

    public static let stream = "delivery_statuses"

    let manifest: Manifest
    let pull: PullConfiguration
    let registry: any PullStore
    let graph: GraphClient
    let tokens: TokenProvider
    let logger: Logger
    /// Unix milliseconds.
    let clock: WallClock
    /// Counts the answers' shape and Meta's quality scores for the drift alarms, and evaluates at
    /// the end of every run.
    let drift: DriftMonitor?
    let insightsPollInterval: Duration
    let usagePause: UsagePause
    let progress: @Sendable (String) -> Void

    public init(
        manifest: Manifest,
        pull: PullConfiguration,
        registry: any PullStore,
        graph: GraphClient,
        logger: Logger,
        clock: WallClock = .system,
        drift: DriftMonitor? = nil,
        insightsPollInterval: Duration = .seconds(2),
        usagePause: UsagePause = .sleeping,
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.manifest = manifest
        self.pull = pull
        self.registry = registry
        self.graph = graph
        self.tokens = TokenProvider(auth: pull.auth, graph: graph)
        self.logger = logger
        self.clock = clock
        self.drift = drift
        self.insightsPollInterval = insightsPollInterval
        self.usagePause = usagePause
        self.progress = progress
    }

    /// The `ad_insights` part of the run, when the manifest configures an ad account.
    var insights: InsightsJob? {
        pull.adInsights.map { configuration in
            InsightsJob(
                manifest: manifest,
                configuration: configuration,
                registry: registry,
                graph: graph,
                tokens: tokens,
                policy: policy,
                clock: clock,
                logger: logger,
                asyncPollInterval: insightsPollInterval,
                usagePause: usagePause,
                progress: progress
            )
        }
    }

    var policy: RetryPolicy {
        RetryPolicy(maxAttempts: pull.retry.maxAttempts, initialBackoff: pull.retry.initialBackoff, maxBackoff: pull.retry.maxBackoff)
    }

    /// Pixels (and ad accounts) polled at once.
    static let pixelsAtOnce = 8

    /// One poll. Call it holding the poll lock (``runHoldingLock(registry:logger:)``): it takes
    /// runs still `running` for ones whose process died, since none other can be alive.
    ///
    /// A graceful shutdown (`Task.isShuttingDownGracefully`) is honoured between windows: each
    /// partition commits the window it is reading and stops, and the run ends `interrupted`.
    public func run() async throws(StateError) -> Report {
        let unfinished = try await registry.interruptUnfinishedRuns(mode: .pull)
        if unfinished > 0 {
            logger.warning(
                "earlier polls never recorded their end (killed, or the store was lost mid-run); marked interrupted",
                metadata: ["runs": "\(unfinished)"]
            )
        }
        let run = RunRecord(runID: "pull-" + UUID().uuidString.prefix(12).lowercased(), mode: .pull, startedAt: clock.now())
        try await registry.recordRun(run)
        // Every line logged for the run carries its id, the one `state show` lists it under.
        let outcome: Result<Report, StateError> = await RunIdentity.$current.withValue(run.runID) {
            do throws(StateError) {
                return .success(try await perform(run))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    /// The run recorded as started: every partition's windows, then the run's end.
    private func perform(_ run: RunRecord) async throws(StateError) -> Report {
        var report = Report(runID: run.runID, outcomes: [:], records: 0, windows: 0, gap: .zero)
        await forEach(manifest.pixels, atMost: Self.pixelsAtOnce) { pixel in
            var records = 0
            var windows = 0
            var gap: Int64 = 0
            let outcome = await self.poll(pixel: pixel, run: run, records: &records, windows: &windows, gap: &gap)
            return (pixel.id, outcome, records, windows, gap)
        } collect: { pixel, outcome, records, windows, gap in
            report.outcomes[pixel] = outcome
            report.records += records
            report.windows += windows
            report.gap = max(report.gap, .seconds(gap))
        }
        if let insights {
            for account in await insights.run(run) {
                report.outcomes[account.partition] = account.outcome
                report.records += account.records
                report.windows += account.windows
            }
        }
        var finished = run
        finished.endedAt = clock.now()
        finished.status =
            switch report.result {
            case .ok: .ok
            case .authenticationFailed: .authFailed
            case .partial, .locked: .partial
            case .stopped: .interrupted
            }
        finished.errorClass =
            switch report.result {
            case .ok, .locked, .stopped: nil
            case .authenticationFailed: .auth
            case .partial: .partitionFailed
            }
        finished.counts =
            JSONValue.object([
                "records": .integer(Int64(report.records)), "windows": .integer(Int64(report.windows)),
                // Partitions: pixels and ad accounts.
                "failed_pixels": .integer(Int64(report.outcomes.values.filter { $0 != .ok && $0 != .stopped }.count)),
                "stopped_pixels": .integer(Int64(report.outcomes.values.filter { $0 == .stopped }.count)),
                "gap_seconds": .integer(report.gap.components.seconds),
            ]).serialized
        if Self.cancelledByShutdown {
            // Cut short by the shutdown timeout, the store refuses this task's work; the run's end
            // is recorded from a task that is not cancelled, or else by the next poll.
            let registry = registry
            _ = try? await Task { try await registry.recordRun(finished) }.value
            return report
        }
        try await registry.recordRun(finished)
        await drift?.flushAndEvaluate()
        return report
    }

    func poll(pixel: PixelConfiguration, run: RunRecord, records: inout Int, windows: inout Int, gap: inout Int64) async -> PixelOutcome {
        let cursorKey = CursorKey(connector: manifest.id, stream: Self.stream, partition: pixel.id)
        // Every stats page read, and what of its shape could not be relied on, for the drift alarms.
        let shapes = ShapeTally()
        defer {
            drift?.recordWindow(shapes.counters, stream: StateStream.deliveryStatuses.rawValue, pixelID: pixel.id, eventName: DriftKey.anyEvent)
        }
        do {
            let stored = try await registry.cursor(cursorKey)
            let statuses = pull.deliveryStatuses
            let plan = DateWindows(
                cursor: stored?.position,
                startDate: pull.startDate.map { UnixSeconds(Int64($0.timeIntervalSince1970)) },
                now: run.startedAt.seconds,
                step: statuses.step,
                granularity: statuses.cursorGranularity,
                lookback: statuses.lookbackWindow,
                settleLag: statuses.settleLag
            )
            if plan.gap > .zero {
                gap = plan.gap.components.seconds
                Counter(label: "capi_pull_gap_seconds_total", dimensions: [("pixel_id", pixel.id)]).increment(by: Int(gap))
                logger.warning(
                    "cursor older than Meta's 7-day horizon: the gap cannot be read",
                    metadata: ["pixel_id": "\(pixel.id)", "gap_seconds": "\(gap)"]
                )
            }
            var position = stored?.position ?? UnixSeconds(0)
            for (index, window) in plan.windows.enumerated() {
                if Task.isShuttingDownGracefully { return .stopped }
                var fetched: [DeliveryStatusRecord] = []
                for (source, filter) in [("all", nil), ("server", "SERVER_ONLY")] as [(String, String?)] {
                    fetched += try await fetchStats(pixel: pixel, window: window, source: source, eventSourceFilter: filter, shapes: shapes)
                }
                position = max(position, window.end)
                try await registry.commitWindow(
                    fetched,
                    replacing: window.start..<window.end,
                    cursor: cursorKey,
                    position: position,
                    run: run,
                    now: clock.now()
                )
                records += fetched.count
                windows += 1
                Counter(label: "capi_events_pulled_total", dimensions: [("pixel_id", pixel.id)]).increment(
                    by: fetched.reduce(0) { $0 + Int($1.count) }
                )
                progress(
                    "pixel \(pixel.id): window \(index + 1)/\(plan.windows.count) \(window.start.iso8601) – \(window.end.iso8601), \(fetched.count) records"
                )
            }
            if Task.isShuttingDownGracefully { return .stopped }
            if pull.matchQuality { try await snapshotQuality(pixel: pixel, run: run) }
            return .ok
        } catch let error as GraphError where error.errorClass == .auth || error.errorClass == .permission {
            logger.error(
                "pixel refused reads",
                metadata: ["pixel_id": "\(pixel.id)", "class": "\(error.errorClass.rawValue)", "code": "\(error.code ?? 0)"]
            )
            return .authFailed(error.description)
        } catch {
            if Self.cancelledByShutdown {
                logger.notice("pixel stopped mid-window by the shutdown; that window is read again next poll", metadata: ["pixel_id": "\(pixel.id)"])
                return .stopped
            }
            logger.error("pixel failed; its cursor stays at the last committed window", metadata: ["pixel_id": "\(pixel.id)", "error": "\(error)"])
            return .failed(String(describing: error))
        }
    }

    /// Whether the work in hand was cancelled because a graceful shutdown outlasted its timeout: a
    /// window cut short then is stopped, not failed.
    static var cancelledByShutdown: Bool { Task.isCancelled && Task.isShuttingDownGracefully }

    /// All pages of one stats query, retried and paced per Meta's usage headers.
    func fetchStats(
        pixel: PixelConfiguration,
        window: DateWindows.Window,
        source: String,
        eventSourceFilter: String?,
        shapes: ShapeTally = ShapeTally()
    ) async throws -> [DeliveryStatusRecord] {
        var query = [("aggregation", "event"), ("start_time", String(window.start.rawValue)), ("end_time", String(window.end.rawValue))]
        if let eventSourceFilter { query.append(("event_source", eventSourceFilter)) }
        if let pageSize = pull.deliveryStatuses.pageSize { query.append(("limit", String(pageSize))) }
        let parameters = query
        var response = try await get(pixel: pixel) { token throws(GraphError) in
            try await graph.get("\(pixel.id)/stats", query: parameters, accessToken: token)
        }
        func page(_ body: JSONValue) throws(GraphError) -> [DeliveryStatusRecord] {
            do {
                let records = try StatsPage.records(from: body, pixelID: pixel.id, eventSource: source, window: window)
                shapes.add([])
                return records
            } catch {
                shapes.add([error.driftKey])
                throw error.graphError
            }
        }
        var records = try page(response.body)
        var visited: Set<String> = []
        while let next = GraphClient.nextPage(of: response) {
            // A `next` link seen before, or more pages than any window can have, would loop while
            // holding the poll lock: the window fails instead (nothing committed, cursor unchanged).
            guard visited.insert(next).inserted else {
                throw GraphError(errorClass: .transient, message: "the stats answer repeats a paging.next link", transport: .malformedResponse)
            }
            guard visited.count <= Self.maximumPages else {
                throw GraphError(
                    errorClass: .transient,
                    message: "the stats answer has more than \(Self.maximumPages) pages",
                    transport: .malformedResponse
                )
            }
            response = try await get(pixel: pixel) { token throws(GraphError) in try await graph.get(next: next, accessToken: token) }
            records += try page(response.body)
        }
        return records
    }

    /// The stats pages of one pixel's poll, read concurrently with other pixels' but by one task.
    final class ShapeTally: Sendable {
        private let tally = Mutex(DriftCounters())
        func add(_ problems: [String]) { tally.withLock { $0.addPulled(shapeProblems: problems) } }
        var counters: DriftCounters { tally.withLock { $0 } }
    }

    /// More pages than one window of hourly buckets can fill, even one event name per page.
    public static let maximumPages = 1000

    func snapshotQuality(pixel: PixelConfiguration, run: RunRecord) async throws {
        let fields = "web{event_name,event_match_quality,event_coverage,dedupe_key_feedback,data_freshness}"
        let response = try await get(pixel: pixel) { token throws(GraphError) in
            try await graph.get("dataset_quality", query: [("dataset_id", pixel.id), ("fields", fields)], accessToken: token)
        }
        let stream = StateStream.matchQuality.rawValue
        let reading: QualityAnswer.Reading
        do {
            reading = try QualityAnswer.read(response.body, pixelID: pixel.id, snapshotAt: run.startedAt, runID: run.runID)
        } catch {
            var answer = DriftCounters()
            answer.addPulled(shapeProblems: [error.driftKey])
            drift?.recordWindow(answer, stream: stream, pixelID: pixel.id, eventName: DriftKey.anyEvent)
            throw error.graphError
        }
        try await registry.commitMatchQuality(reading.rows.map(\.record), snapshotAt: run.startedAt, runID: run.runID)
        var answer = DriftCounters()
        answer.addPulled(shapeProblems: reading.problems.map(\.driftKey))
        drift?.recordWindow(answer, stream: stream, pixelID: pixel.id, eventName: DriftKey.anyEvent)
        for row in reading.rows {
            var counters = DriftCounters()
            counters.addPulled(qualityScore: row.score, shapeProblems: row.problems.map(\.driftKey))
            drift?.recordWindow(counters, stream: stream, pixelID: pixel.id, eventName: row.record.eventName)
        }
        if !reading.problems.isEmpty {
            logger.warning(
                "dataset_quality rows without an event name were not stored",
                metadata: ["pixel_id": "\(pixel.id)", "rows": "\(reading.problems.count)"]
            )
        }
    }

    /// One warning per retried read, so a poll waiting out an outage (a minute and more under the
    /// shipped policy) says what it is waiting for instead of going quiet until it gives up.
    static func retryLogger(_ logger: Logger, metadata: Logger.Metadata) -> @Sendable (GraphError, Int, Duration) -> Void {
        { error, attempt, delay in
            var details = metadata
            details["error"] = "\(error)"
            details["attempt"] = "\(attempt)"
            details["retry_in_seconds"] = "\(String(format: "%.1f", delay.inSeconds))"
            logger.warning("read failed; retrying", metadata: details)
        }
    }

    /// A read under the retry policy, paced by usage headers; one token refresh after an auth refusal.
    func get(pixel: PixelConfiguration, _ call: @escaping @Sendable (Secret) async throws(GraphError) -> GraphResponse) async throws -> GraphResponse
    {
        var token = try await tokens.token(for: pixel)
        var refreshed = false
        while true {
            let current = token
            let retrying = Self.retryLogger(logger, metadata: ["pixel_id": "\(pixel.id)"])
            switch await RetryLoop.run(policy: policy, onRetry: retrying, { () async throws(GraphError) -> GraphResponse in try await call(current) })
            {
            case .success(let response, _):
                let pause = response.usage.pacingDelay()
                if pause > .zero {
                    logger.notice(
                        "slowing down: Meta's usage headers near the limit",
                        metadata: ["pixel_id": "\(pixel.id)", "usage_percent": "\(response.usage.maxPercent)"]
                    )
                    try await usagePause(pause)
                }
                return response
            case .stopped(_, let error, _):
                if error.errorClass == .auth, !refreshed, let fresh = try await tokens.refresh(after: current) {
                    token = fresh
                    refreshed = true
                    continue
                }
                throw error
            }
        }
    }
}
