import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import GraphSandbox
import Logging
import NIOCore
import PullMode
import TestSupport
import Testing

let adAccount = "1122334455"

func insightsManifest(_ extra: String = "", token: String = "", pageSize: Int = 3) throws -> Manifest {
    try ManifestLoader(environment: [:]).load(
        yaml: """
            \(TestManifest.header)
            pixels:
              - {id: "\(pixelID)", access_token: pixel-token}
            pull:
              streams:
                delivery_statuses: {step: PT12H, lookback_window: PT6H, settle_lag: PT0M}
                match_quality: {enabled: false}
                ad_insights:
                  accounts:
                    - {id: "act_\(adAccount)", pixels: ["\(pixelID)"]\(token.isEmpty ? "" : ", access_token: \(token)")}
                  step: P7D
                  lookback: P5D
                  initial_lookback: P10D
                  page_size: \(pageSize)
            \(extra)
              retry: {max_attempts: 3, initial_backoff: 2ms, max_backoff: 10ms}
            """,
        path: "insights.yaml"
    )
}

func pollInsights(
    _ manifest: Manifest,
    registry: any StateRegistry,
    graphURL: String,
    clock: WallClock = .system,
    logger: Logger = Logger(label: "test.insights"),
    usagePause: UsagePause = .sleeping
) async throws -> PollJob.Report {
    var configuration = GraphClient.Configuration(manifest: manifest, baseURL: graphURL)
    configuration.readTimeout = .seconds(5)
    return try await PollJob(
        manifest: manifest,
        pull: manifest.pull!,
        registry: registry,
        graph: GraphClient(configuration: configuration),
        logger: logger,
        clock: clock,
        insightsPollInterval: .milliseconds(5),
        usagePause: usagePause
    ).run()
}

/// What the stand-in answers for the same days, read without the connector: per campaign and day,
/// spend and the purchases under the one mapped action type.
func standInTotals(_ url: String, since: CalendarDate, until: CalendarDate) async throws -> [String: (spend: Double, purchases: Double?)] {
    let client = GraphClient(configuration: .init(baseURL: url, version: "v26.0", timeout: hangLimit))
    var totals: [String: (spend: Double, purchases: Double?)] = [:]
    var next: String? = nil
    repeat {
        let response: GraphResponse
        if let next {
            response = try await client.get(url: next, accessToken: Secret("t"))
        } else {
            response = try await client.get(
                "act_\(adAccount)/insights",
                query: [
                    ("level", "campaign"), ("fields", #"["campaign_id","spend","actions"]"#), ("time_increment", "1"),
                    ("time_range", #"{"since":"\#(since)","until":"\#(until)"}"#), ("limit", "7"),
                ],
                accessToken: Secret("t")
            )
        }
        guard case .array(let rows)? = response.body["data"] else { throw TestSetupError("the stand-in answered without data") }
        for row in rows {
            let key = "\(row["campaign_id"]?.stringValue ?? "")|\(row["date_start"]?.stringValue ?? "")"
            var purchases: Double?
            if case .array(let actions)? = row["actions"] {
                let mapped = actions.first { $0["action_type"]?.stringValue == "offsite_conversion.fb_pixel_purchase" }
                purchases = mapped?["value"]?.stringValue.flatMap { Double($0) } ?? 0
            }
            totals[key] = (Double(row["spend"]?.stringValue ?? "") ?? -1, purchases)
        }
        next = GraphClient.nextPage(of: response)
    } while next != nil
    return totals
}

@Suite("Ad insights poll against the stand-in")
struct InsightsJobTests {
    @Test("rows equal what the stand-in reports per campaign and day; a second poll changes nothing", arguments: TestStore.enabled)
    func matchesStandIn(store: TestStore) async throws {
        try await withSeededSandbox(events: 60) { url, _, _ in
            try await store.withRegistry { registry in
                let manifest = try insightsManifest()
                let report = try await pollInsights(manifest, registry: registry, graphURL: url)
                #expect(report.outcomes["act_\(adAccount)"] == .ok, "\(report.outcomes)")
                let stored = try await registry.adInsights(since: nil).map(\.insights)
                let zone = AccountTimeZone(identifier: "America/Los_Angeles")!
                let today = zone.day(of: WallClock.system.seconds())
                #expect(Set(stored.map(\.day)) == Set((0..<10).map { today.adding(days: -$0) }), "ten local days, today included")
                #expect(stored.count == 20, "two campaigns a day")
                let expected = try await standInTotals(url, since: today.adding(days: -9), until: today)
                for row in stored {
                    let theirs = try #require(expected["\(row.levelID)|\(row.day)"])
                    #expect(row.spend == theirs.spend)
                    #expect(row.conversion(for: "Purchase")?.count == theirs.purchases, "one action type, never the sum of overlapping ones")
                    #expect(row.currency == "USD" && row.level == "campaign")
                }
                #expect(stored.compactMap { $0.conversion(for: "Purchase")?.count }.reduce(0, +) > 0, "some purchases are attributed")
                let again = try await pollInsights(manifest, registry: registry, graphURL: url)
                #expect(again.outcomes["act_\(adAccount)"] == .ok)
                #expect(try await registry.adInsights(since: nil).map(\.insights) == stored, "re-reading never duplicates or changes a row")
            }
        }
    }

    @Test("insights pages whose paging.next names Meta's host are read through the configured base URL")
    func pagingLinksOnMetasHost() async throws {
        var configuration = GraphSandbox.Configuration()
        configuration.pagingLinkOrigin = "https://graph.facebook.com"
        try await withSeededSandbox(configuration, events: 60) { url, _, _ in
            try await TestStore.sqlite.withRegistry { registry in
                let report = try await pollInsights(try insightsManifest(), registry: registry, graphURL: url)
                #expect(report.outcomes["act_\(adAccount)"] == .ok, "\(report.outcomes)")
                #expect(try await registry.adInsights(since: nil).count == 20, "two campaigns a day for ten days, over pages of three")
            }
        }
    }

    @Test("a later poll within the lookback picks up conversions Meta attributed to earlier days since")
    func lookbackUpdatesEarlierDays() async throws {
        let now = WallClock.system.now()
        let later = WallClock.fixed(now + .seconds(3 * 86_400))
        try await TestStore.sqlite.withRegistry { registry in
            let manifest = try insightsManifest()
            let first = try await withSeededSandbox(.init(clock: .fixed(now)), events: 60) { url, _, _ in
                _ = try await pollInsights(manifest, registry: registry, graphURL: url, clock: .fixed(now))
                return try await registry.adInsights(since: nil).map(\.insights)
            }
            let second = try await withSeededSandbox(.init(clock: later), events: 60) { url, _, _ in
                #expect(try await pollInsights(manifest, registry: registry, graphURL: url, clock: later).result == .ok)
                return try await registry.adInsights(since: nil).map(\.insights)
            }
            func purchases(_ rows: [AdInsightsRecord], on day: CalendarDate) -> Double {
                rows.filter { $0.day == day }.compactMap { $0.conversion(for: "Purchase")?.count }.reduce(0, +)
            }
            let zone = AccountTimeZone(identifier: "America/Los_Angeles")!
            let today = zone.day(of: now.seconds)
            let grown = (0..<3).map { today.adding(days: -$0) }.filter { purchases(second, on: $0) > purchases(first, on: $0) }
            #expect(
                !grown.isEmpty,
                "attribution grows over the following days and the lookback re-reads them: \((0..<4).map { (purchases(first, on: today.adding(days: -$0)), purchases(second, on: today.adding(days: -$0))) })"
            )
            #expect(Set(second.map(\.day)).isSuperset(of: Set(first.map(\.day))))
            #expect(second.count == Set(second.map { "\($0.levelID)|\($0.day)" }).count, "one row per campaign and day")
        }
    }

    @Test("Meta's \"reduce the amount of data\" splits the window down to single days; nothing is lost")
    func reduceData() async throws {
        var configuration = GraphSandbox.Configuration()
        configuration.insightsRowLimit = 2
        try await withSeededSandbox(configuration) { url, _, _ in
            try await TestStore.sqlite.withRegistry { registry in
                let report = try await pollInsights(try insightsManifest(), registry: registry, graphURL: url)
                #expect(report.outcomes["act_\(adAccount)"] == .ok, "\(report.outcomes)")
                #expect(try await registry.adInsights(since: nil).count == 20)
            }
        }
    }

    @Test(
        "a page size Meta refuses is halved, after the window is down to single days, until it is taken; none taken at 25 rows fails the account, not the pixels",
        arguments: [(50, true), (10, false)]
    )
    func pageSizeHalved(maxPageSize: Int, taken: Bool) async throws {
        var configuration = GraphSandbox.Configuration()
        configuration.insightsMaxPageSize = maxPageSize
        try await withSeededSandbox(configuration) { url, _, _ in
            try await TestStore.sqlite.withRegistry { registry in
                let log = CapturedLog()
                let report = try await pollInsights(try insightsManifest(pageSize: 200), registry: registry, graphURL: url, logger: log.logger)
                #expect(report.outcomes[pixelID] == .ok)
                let halved = Set(log.all.filter { $0.message.contains("halving the page size") }.compactMap { $0.metadata["limit"] })
                if taken {
                    #expect(report.outcomes["act_\(adAccount)"] == .ok, "\(report.outcomes)")
                    #expect(try await registry.adInsights(since: nil).count == 20)
                    #expect(halved == ["100", "50"])
                } else {
                    #expect(report.result == .partial)
                    guard case .failed(let reason)? = report.outcomes["act_\(adAccount)"] else {
                        Issue.record("the account was not failed: \(report.outcomes)")
                        return
                    }
                    #expect(reason.contains("reduce the amount of data"), "\(reason)")
                    #expect(halved == ["100", "50", "25"])
                    #expect(try await registry.adInsights(since: nil).isEmpty)
                }
            }
        }
    }

    @Test("the insights throttle header at 95 % pauses after every insights read, 30 s of 60; the pixels' reads, without usage headers, never")
    func insightsPaced() async throws {
        var configuration = GraphSandbox.Configuration()
        configuration.insightsUtilization = 95
        try await withSeededSandbox(configuration) { url, _, _ in
            try await TestStore.sqlite.withRegistry { registry in
                let log = CapturedLog()
                let pauses = RecordedPauses()
                let report = try await pollInsights(
                    try insightsManifest(),
                    registry: registry,
                    graphURL: url,
                    logger: log.logger,
                    usagePause: pauses.pause
                )
                #expect(report.result == .ok)
                #expect(try await registry.adInsights(since: nil).count == 20)
                let asked = pauses.all
                // 20 rows in pages of 3: at least 7 insights pages.
                #expect(asked.count >= 7 && asked.allSatisfy { $0 == .seconds(30) }, "\(asked)")
                let slowing = log.all.filter { $0.message.hasPrefix("slowing down") }
                #expect(
                    slowing.count == asked.count
                        && slowing.allSatisfy { $0.message.contains("Ads Insights") && $0.metadata["usage_percent"] == "95.0" }
                )
            }
        }
    }

    @Test("an async report that fails is split by days until its parts complete")
    func asyncSplit() async throws {
        var configuration = GraphSandbox.Configuration()
        configuration.asyncMaxDays = 2
        try await withSeededSandbox(configuration) { url, _, _ in
            try await TestStore.sqlite.withRegistry { registry in
                let manifest = try insightsManifest()
                var pull = manifest.pull!
                pull.adInsights!.asyncThresholdDays = 1
                var withAsync = manifest
                withAsync.pull = pull
                let report = try await pollInsights(withAsync, registry: registry, graphURL: url)
                #expect(report.outcomes["act_\(adAccount)"] == .ok, "\(report.outcomes)")
                #expect(try await registry.adInsights(since: nil).count == 20)
            }
        }
    }

    @Test("a token without ads_read is an authentication failure (exit 3), and the pixels still advance")
    func permission() async throws {
        var configuration = GraphSandbox.Configuration()
        configuration.adsReadTokens = ["ads-reader"]
        try await withSeededSandbox(configuration) { url, _, _ in
            try await TestStore.sqlite.withRegistry { registry in
                let refused = try await pollInsights(try insightsManifest(), registry: registry, graphURL: url)
                #expect(refused.result == .authenticationFailed)
                #expect(refused.outcomes[pixelID] == .ok)
                let allowed = try await pollInsights(try insightsManifest(token: "ads-reader"), registry: registry, graphURL: url)
                #expect(allowed.result == .ok)
            }
        }
    }

    @Test(
        "an app token Meta stops taking between insights pages is exchanged again and the account completes; one refused right after its exchange fails the account, not a loop"
    )
    func appTokenRefreshed() async throws {
        for (requests, completes) in [(4, true), (0, false)] {
            var configuration = GraphSandbox.Configuration(appCredentials: (id: "app-1", secret: "app-secret-7Qx"))
            configuration.appTokenRequests = requests
            try await withSeededSandbox(configuration, events: 60) { url, sandbox, _ in
                try await TestStore.sqlite.withRegistry { registry in
                    var manifest = try insightsManifest()
                    manifest.pull?.auth = .appCredentials(appID: "app-1", appSecret: Secret("app-secret-7Qx"))
                    let log = CapturedLog()
                    let report = try await pollInsights(
                        manifest,
                        registry: registry,
                        graphURL: url,
                        logger: log.logger,
                        usagePause: RecordedPauses().pause
                    )
                    if completes {
                        #expect(report.outcomes["act_\(adAccount)"] == .ok, "\(report.outcomes)")
                        #expect(try await registry.adInsights(since: nil).count == 20, "two campaigns a day for ten days, over pages of three")
                        // Four reads per token, and the account alone reads more than eight times.
                        #expect(await sandbox.appTokenExchanges() >= 3)
                    } else {
                        guard case .authFailed? = report.outcomes["act_\(adAccount)"] else {
                            Issue.record("\(report.outcomes)")
                            return
                        }
                        #expect(report.result == .authenticationFailed)
                        #expect(try await registry.adInsights(since: nil).isEmpty)
                        #expect(log.all.contains { $0.message.contains("Meta does not take the token") }, "not told to add ads_read")
                    }
                }
            }
        }
    }

    @Test("withheld conversion metrics are stored as not reported, never as zero")
    func withheld() async throws {
        var configuration = GraphSandbox.Configuration()
        configuration.withheldShare = 1
        try await withSeededSandbox(configuration) { url, _, _ in
            try await TestStore.sqlite.withRegistry { registry in
                _ = try await pollInsights(try insightsManifest(), registry: registry, graphURL: url)
                let rows = try await registry.adInsights(since: nil).map(\.insights)
                #expect(!rows.isEmpty && rows.allSatisfy { !$0.conversionsReported && $0.spend != nil })
                #expect(rows.allSatisfy { $0.conversion(for: "Purchase")?.count == nil })
            }
        }
    }
}

@Suite("Ad insights parsing and days")
struct InsightsParsingTests {
    @Test("account days: a Los Angeles day starts at 08:00 UTC (07:00 in summer); Tokyo's is ahead of UTC")
    func timeZoneDays() throws {
        let losAngeles = try #require(AccountTimeZone(identifier: "America/Los_Angeles"))
        let winter = try #require(CalendarDate(iso: "2026-12-02"))
        #expect(losAngeles.start(of: winter) == UnixSeconds(Int64(UTCTimestamp.parse("2026-12-02T08:00:00Z")!)))
        #expect(losAngeles.day(of: UnixSeconds(Int64(UTCTimestamp.parse("2026-12-02T07:59:59Z")!))) == CalendarDate(iso: "2026-12-01"))
        #expect(losAngeles.day(of: UnixSeconds(Int64(UTCTimestamp.parse("2026-12-02T08:00:00Z")!))) == winter)
        let summer = try #require(CalendarDate(iso: "2026-07-01"))
        #expect(losAngeles.start(of: summer) == UnixSeconds(Int64(UTCTimestamp.parse("2026-07-01T07:00:00Z")!)))
        // The day clocks go back (1 November 2026) lasts 25 hours.
        let fallBack = try #require(CalendarDate(iso: "2026-11-01"))
        #expect(losAngeles.start(of: fallBack.adding(days: 1)).rawValue - losAngeles.start(of: fallBack).rawValue == 25 * 3600)
        let tokyo = try #require(AccountTimeZone(identifier: "Asia/Tokyo"))
        #expect(tokyo.day(of: UnixSeconds(Int64(UTCTimestamp.parse("2026-12-01T15:00:00Z")!))) == winter)
        #expect(CalendarDate(iso: "2026-02-29") == nil && CalendarDate(iso: "2028-02-29") != nil && CalendarDate(iso: "2026-1-01") == nil)
        #expect(winter.days(to: try #require(CalendarDate(iso: "2027-01-01"))) == 30)
    }

    @Test("string numbers, one action type per event, windows, and a missing `actions` as not reported")
    func page() throws {
        let body = try JSONValue(
            parsing: #"""
                {"data": [
                  {"campaign_id": "c1", "campaign_name": "Prospecting", "spend": "120.49", "impressions": "3012", "clicks": "50",
                   "account_currency": "EUR", "date_start": "2026-11-30", "date_stop": "2026-11-30",
                   "actions": [{"action_type": "offsite_conversion.fb_pixel_purchase", "value": "3", "7d_click": "2", "1d_view": "1"},
                               {"action_type": "purchase", "value": "3"}, {"action_type": "omni_purchase", "value": "3"}],
                   "action_values": [{"action_type": "offsite_conversion.fb_pixel_purchase", "value": "37.50"}]},
                  {"campaign_id": "c2", "spend": "83.27", "date_start": "2026-11-30", "date_stop": "2026-11-30"}
                ]}
                """#
        )
        let page = InsightsPage(
            accountID: "1",
            level: "campaign",
            currency: "USD",
            actionTypes: ["Purchase": "offsite_conversion.fb_pixel_purchase", "Lead": "offsite_conversion.fb_pixel_lead"]
        )
        let rows = try page.records(from: body)
        #expect(rows.count == 2)
        let purchase = try #require(rows[0].conversion(for: "Purchase"))
        #expect(purchase.count == 3 && purchase.value == 37.5 && purchase.windows == ["7d_click": 2, "1d_view": 1])
        #expect(rows[0].conversion(for: "Lead")?.count == 0, "reported, none attributed")
        #expect(rows[0].spend == 120.49 && rows[0].impressions == 3012 && rows[0].currency == "EUR" && rows[0].levelName == "Prospecting")
        #expect(rows[1].conversion(for: "Purchase")?.count == nil && !rows[1].conversionsReported, "withheld: not reported")
        #expect(throws: AnswerShapeProblem.self) {
            try page.records(
                from: try JSONValue(parsing: #"{"data":[{"campaign_id":"c","spend":"-1","date_start":"2026-11-30","date_stop":"2026-11-30"}]}"#)
            )
        }
        #expect(throws: AnswerShapeProblem.self) {
            try page.records(from: try JSONValue(parsing: #"{"data":[{"campaign_id":"c","date_start":"2026-11-30","date_stop":"2026-12-01"}]}"#))
        }
    }

    /// Found by fuzzing: a count past `Int64` trapped the poll job when it was rounded into one.
    @Test("counts beyond 64 bits are a shape problem naming the field, never a trap", arguments: ["impressions", "clicks"])
    func hugeCounts(field: String) throws {
        let page = InsightsPage(accountID: "1", level: "campaign", currency: "USD", actionTypes: [:])
        for figure in [#""1e300""#, "1e300", #""9223372036854775808""#] {
            let body = try JSONValue(
                parsing: #"{"data":[{"campaign_id":"c","spend":"1","\#(field)":\#(figure),"date_start":"2026-11-30","date_stop":"2026-11-30"}]}"#
            )
            let problem = #expect(throws: AnswerShapeProblem.self) { try page.records(from: body) }
            #expect(problem?.field == "data[].\(field)", "\(figure)")
        }
        let largest = try JSONValue(
            parsing: #"{"data":[{"campaign_id":"c","spend":"1","\#(field)":"9007199254740992","date_start":"2026-11-30","date_stop":"2026-11-30"}]}"#
        )
        let row = try #require(try page.records(from: largest).first)
        #expect((field == "impressions" ? row.impressions : row.clicks) == 9_007_199_254_740_992)
    }

    @Test("the insights throttle header slows reads near 90 %; the reduce-data refusal is told apart from code 1's other meaning")
    func limits() {
        let busy = UsageHeaders(appUsage: nil, businessUseCaseUsage: nil, insightsThrottle: #"{"app_id_util_pct": 95, "acc_id_util_pct": "12"}"#)
        #expect(busy.maxPercent == 95 && busy.pacingDelay(slowDownAt: 90) > .zero)
        #expect(
            UsageHeaders(appUsage: nil, businessUseCaseUsage: nil, insightsThrottle: #"{"app_id_util_pct": 40}"#).pacingDelay(slowDownAt: 90) == .zero
        )
        let reduce = GraphError(
            errorClass: .transient,
            code: 1,
            message: "Please reduce the amount of data you're asking for, then retry your request"
        )
        #expect(InsightsJob.asksForLessData(reduce))
        #expect(InsightsJob.asksForLessData(GraphError(errorClass: .invalid, code: 100, subcode: 1_487_534, message: "x")))
        #expect(!InsightsJob.asksForLessData(GraphError(errorClass: .transient, code: 1, message: "An unknown error occurred")))
    }
}
