import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import Logging
import Metrics
import ServiceLifecycle

/// The `ad_insights` stream for one poll: for every configured ad account, its time zone and
/// currency, then day windows from the cursor minus the lookback (attributed conversions keep
/// changing for 28 days) to today in the account's time zone, each window's rows replaced together
/// with the account's cursor in one transaction.
///
/// Meta's limits shape the reads: a window longer than the async threshold becomes an async
/// report, polled until "Job Completed" at 100 %, split by days when the job fails; "Please reduce
/// the amount of data" halves the window (then the page size) instead of failing; usage headers
/// near the limit slow the reads down and a throttle waits for the regain time. One account's
/// failure never stops another's.
public struct InsightsJob: Sendable {
    public static let stream = StateStream.adInsights.rawValue

    let manifest: Manifest
    let configuration: AdInsightsConfiguration
    let registry: any PullStore
    let graph: GraphClient
    let tokens: TokenProvider
    let policy: RetryPolicy
    let clock: WallClock
    let logger: Logger
    /// Between two status reads of an async report.
    let asyncPollInterval: Duration
    let usagePause: UsagePause
    let progress: @Sendable (String) -> Void

    public init(
        manifest: Manifest,
        configuration: AdInsightsConfiguration,
        registry: any PullStore,
        graph: GraphClient,
        tokens: TokenProvider,
        policy: RetryPolicy,
        clock: WallClock = .system,
        logger: Logger,
        asyncPollInterval: Duration = .seconds(2),
        usagePause: UsagePause = .sleeping,
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.manifest = manifest
        self.configuration = configuration
        self.registry = registry
        self.graph = graph
        self.tokens = tokens
        self.policy = policy
        self.clock = clock
        self.logger = logger
        self.asyncPollInterval = asyncPollInterval
        self.usagePause = usagePause
        self.progress = progress
    }

    /// The partition name of an account: `act_{id}`.
    public static func partition(_ account: AdInsightsConfiguration.Account) -> String { "act_\(account.id)" }

    /// Outcomes by partition (`act_{id}`); records and windows committed are added to the counters.
    public func run(_ run: RunRecord) async -> [(partition: String, outcome: PollJob.PixelOutcome, records: Int, windows: Int)] {
        var results: [(partition: String, outcome: PollJob.PixelOutcome, records: Int, windows: Int)] = []
        await forEach(configuration.accounts, atMost: PollJob.pixelsAtOnce) { account in
            var records = 0
            var windows = 0
            let outcome = await self.poll(account, run: run, records: &records, windows: &windows)
            return (Self.partition(account), outcome, records, windows)
        } collect: {
            results.append($0)
        }
        return results
    }

    func poll(_ account: AdInsightsConfiguration.Account, run: RunRecord, records: inout Int, windows: inout Int) async -> PollJob.PixelOutcome {
        let partition = Self.partition(account)
        let cursorKey = CursorKey(connector: manifest.id, stream: Self.stream, partition: partition)
        if Task.isShuttingDownGracefully { return .stopped }
        do {
            let info = try await call(account: account) { token throws(GraphError) in
                try await graph.get(partition, query: [("fields", "timezone_name,currency")], accessToken: token)
            }
            guard let zoneName = info.body["timezone_name"]?.stringValue, let zone = AccountTimeZone(identifier: zoneName) else {
                throw AnswerShapeProblem(answer: "ad account", field: "timezone_name", expectation: "a time zone name").graphError
            }
            let currency = info.body["currency"]?.stringValue ?? ""
            let today = zone.day(of: run.startedAt.seconds)
            let stored = try await registry.cursor(cursorKey)
            let earliest = today.adding(days: -Self.horizonDays)
            // The last `lookback` days up to the cursor's day are read again (that day was partial
            // when it was read); a first poll reads `initial_lookback` days up to today.
            let first =
                stored.map { zone.day(of: $0.position).adding(days: 1 - configuration.lookbackDays) }
                ?? today.adding(days: 1 - configuration.initialDays)
            var start = max(first, earliest)
            let reader = Reader(job: self, account: account, zone: zone, currency: currency)
            while start <= today {
                if Task.isShuttingDownGracefully { return .stopped }
                let end = min(start.adding(days: configuration.stepDays - 1), today)
                let rows = try await reader.read(start...end)
                try await registry.commitInsightsWindow(
                    rows,
                    account: account.id,
                    level: account.level,
                    days: start...end,
                    cursor: cursorKey,
                    position: zone.start(of: end),
                    run: run,
                    now: clock.now()
                )
                records += rows.count
                windows += 1
                Counter(label: "capi_insights_rows_pulled_total", dimensions: [("account_id", account.id)]).increment(by: rows.count)
                progress("ad account \(account.id): \(start) – \(end) (\(zone.identifier)), \(rows.count) rows")
                start = end.adding(days: 1)
            }
            return .ok
        } catch let error as GraphError where error.errorClass == .auth || error.errorClass == .permission {
            logger.error(
                error.errorClass == .auth
                    ? "ad account refused insights reads: Meta does not take the token (expired, revoked or mistyped)"
                    : "ad account refused insights reads: the token needs ads_read on it",
                metadata: ["account_id": "\(account.id)", "class": "\(error.errorClass.rawValue)", "code": "\(error.code ?? 0)"]
            )
            return .authFailed(error.description)
        } catch {
            if PollJob.cancelledByShutdown {
                logger.notice(
                    "ad account stopped mid-window by the shutdown; that window is read again next poll",
                    metadata: ["account_id": "\(account.id)"]
                )
                return .stopped
            }
            logger.error(
                "ad account failed; its cursor stays at the last committed window",
                metadata: ["account_id": "\(account.id)", "error": "\(error)"]
            )
            return .failed(String(describing: error))
        }
    }

    /// Meta keeps 37 months of insights.
    static let horizonDays = 37 * 30

    func token(for account: AdInsightsConfiguration.Account) async throws -> Secret {
        if let token = account.accessToken { return token }
        let pixel = manifest.pixels.first { account.pixels.contains($0.id) } ?? manifest.pixels[0]
        return try await tokens.token(for: pixel)
    }

    /// "Please reduce the amount of data you're asking for": code 1 or 100/1487534 on this endpoint,
    /// told apart by subcode and message (code 1 elsewhere means "unknown error, retry").
    public static func asksForLessData(_ error: GraphError) -> Bool {
        error.subcode == 1_487_534
            || ((error.code == 1 || error.code == 100) && error.message.localizedCaseInsensitiveContains("reduce the amount of data"))
    }

    /// A call under the retry policy, paced by the usage headers (slowing down from 90 %); a
    /// request for less data is handed back at once for the caller to split. The token is the
    /// account's, else the pixels' one; an app token Meta stops taking is exchanged again, once
    /// per call, as the pixels' reads do.
    func call(
        account: AdInsightsConfiguration.Account,
        _ operation: @escaping @Sendable (Secret) async throws(GraphError) -> GraphResponse
    ) async throws -> GraphResponse {
        var token = try await token(for: account)
        var refreshed = false
        while true {
            let current = token
            let outcome = await RetryLoop.run(policy: policy, onRetry: PollJob.retryLogger(logger, metadata: ["account_id": "\(account.id)"])) {
                () async throws(GraphError) -> GraphResponse in
                do throws(GraphError) { return try await operation(current) } catch {
                    guard Self.asksForLessData(error) else { throw error }
                    var refusal = error
                    refusal.errorClass = .invalid
                    throw refusal
                }
            }
            switch outcome {
            case .success(let response, _):
                let pause = response.usage.pacingDelay(slowDownAt: 90)
                if pause > .zero {
                    logger.notice("slowing down: Ads Insights usage near the limit", metadata: ["usage_percent": "\(response.usage.maxPercent)"])
                    try await usagePause(pause)
                }
                return response
            case .stopped(_, let error, _):
                if error.errorClass == .auth, account.accessToken == nil, !refreshed, let fresh = try await tokens.refresh(after: current) {
                    token = fresh
                    refreshed = true
                    continue
                }
                throw error
            }
        }
    }
}

extension InsightsJob {
    /// Reads one account's days, choosing sync or async and splitting when Meta asks for less.
    struct Reader: Sendable {
        let job: InsightsJob
        let account: AdInsightsConfiguration.Account
        let zone: AccountTimeZone
        let currency: String

        var page: InsightsPage {
            InsightsPage(
                accountID: account.id,
                level: account.level,
                currency: currency,
                timeZone: zone.identifier,
                pixels: account.pixels.isEmpty ? job.manifest.pixels.map(\.id) : account.pixels,
                actionTypes: job.configuration.actionTypes
            )
        }

        func read(_ days: ClosedRange<CalendarDate>, limit: Int? = nil) async throws -> [AdInsightsRecord] {
            let count = days.lowerBound.days(to: days.upperBound) + 1
            let limit = limit ?? job.configuration.pageSize
            do {
                if count > job.configuration.asyncThresholdDays { return try await readAsync(days, limit: limit) }
                return try await readSync(days, limit: limit)
            } catch let error as GraphError where InsightsJob.asksForLessData(error) {
                if count > 1 {
                    let middle = days.lowerBound.adding(days: count / 2 - 1)
                    job.logger.notice(
                        "Meta asked for less data: splitting the window",
                        metadata: ["account_id": "\(account.id)", "days": "\(count)"]
                    )
                    return try await read(days.lowerBound...middle, limit: limit) + read(middle.adding(days: 1)...days.upperBound, limit: limit)
                }
                guard limit > 25 else { throw error }
                job.logger.notice(
                    "Meta asked for less data: halving the page size",
                    metadata: ["account_id": "\(account.id)", "limit": "\(limit / 2)"]
                )
                return try await read(days, limit: limit / 2)
            }
        }

        func parameters(_ days: ClosedRange<CalendarDate>, limit: Int) -> [(String, String)] {
            let windows = JSONValue.array(job.configuration.attributionWindows.map(JSONValue.string)).serialized
            let range = JSONValue.object(["since": .string(days.lowerBound.description), "until": .string(days.upperBound.description)]).serialized
            return [
                ("level", account.level), ("fields", InsightsPage.fields(level: account.level).joined(separator: ",")), ("time_range", range),
                ("time_increment", "1"), ("action_attribution_windows", windows), ("action_report_time", job.configuration.actionReportTime),
                ("use_unified_attribution_setting", "true"), ("limit", String(limit)),
            ]
        }

        func readSync(_ days: ClosedRange<CalendarDate>, limit: Int) async throws -> [AdInsightsRecord] {
            let query = parameters(days, limit: limit)
            let path = InsightsJob.partition(account) + "/insights"
            let first = try await job.call(account: account) { token throws(GraphError) in
                try await job.graph.get(path, query: query, accessToken: token)
            }
            return try await pages(from: first)
        }

        /// Every page from `first` on, following `paging.next` (bounded, never a link seen before).
        func pages(from first: GraphResponse) async throws -> [AdInsightsRecord] {
            var response = first
            var rows = try parse(response.body)
            var visited: Set<String> = []
            while let next = GraphClient.nextPage(of: response) {
                guard visited.insert(next).inserted, visited.count <= PollJob.maximumPages else {
                    throw GraphError(
                        errorClass: .transient,
                        message: "the insights answer repeats or never ends its paging",
                        transport: .malformedResponse
                    )
                }
                response = try await job.call(account: account) { token throws(GraphError) in
                    try await job.graph.get(next: next, accessToken: token)
                }
                rows += try parse(response.body)
            }
            return rows
        }

        func parse(_ body: JSONValue) throws(GraphError) -> [AdInsightsRecord] {
            do { return try page.records(from: body) } catch { throw error.graphError }
        }

        /// An async report: created, polled until done, read; a failed or skipped job is split by
        /// days, and a single failing day is read synchronously.
        func readAsync(_ days: ClosedRange<CalendarDate>, limit: Int) async throws -> [AdInsightsRecord] {
            let form = parameters(days, limit: limit)
            let path = InsightsJob.partition(account) + "/insights"
            let created = try await job.call(account: account) { token throws(GraphError) in
                try await job.graph.post(path, form: form, accessToken: token)
            }
            guard let reportID = created.body["report_run_id"]?.stringValue, !reportID.isEmpty else {
                throw AnswerShapeProblem(answer: "async insights", field: "report_run_id", expectation: "a string").graphError
            }
            for _ in 0..<InsightsJob.maximumStatusReads {
                let status = try await job.call(account: account) { token throws(GraphError) in
                    try await job.graph.get(reportID, query: [], accessToken: token)
                }
                let state = status.body["async_status"]?.stringValue ?? ""
                let percent: Int64? =
                    switch status.body["async_percent_completion"] {
                    case .integer(let value)?: value
                    case .number(let value)?: Bounded.int64(value)
                    default: nil
                    }
                switch state {
                case "Job Completed" where percent == 100:
                    let first = try await job.call(account: account) { token throws(GraphError) in
                        try await job.graph.get("\(reportID)/insights", query: [("limit", String(limit))], accessToken: token)
                    }
                    return try await pages(from: first)
                case "Job Failed", "Job Skipped":
                    let count = days.lowerBound.days(to: days.upperBound) + 1
                    job.logger.notice(
                        "async insights report did not finish: splitting it",
                        metadata: ["account_id": "\(account.id)", "status": "\(state)", "days": "\(count)"]
                    )
                    guard count > 1 else { return try await readSync(days, limit: limit) }
                    let middle = days.lowerBound.adding(days: count / 2 - 1)
                    return try await read(days.lowerBound...middle, limit: limit) + read(middle.adding(days: 1)...days.upperBound, limit: limit)
                default:
                    try await Task.sleep(for: job.asyncPollInterval)
                }
            }
            throw GraphError(errorClass: .transient, message: "the async insights report did not complete in time", transport: .timeout)
        }
    }

    /// Status reads of one async report before the window fails (and is read again next poll).
    static let maximumStatusReads = 600
}
