import CAPICore
import ConnectorRuntime
import Foundation
import Testing

@testable import PullMode

@Suite("KPI report")
struct KPIReportTests {
    static let zone = AccountTimeZone(identifier: "America/Los_Angeles")!
    static let day = CalendarDate(iso: "2026-11-24")!  // a Tuesday
    /// 2026-11-27 20:00 UTC: the 24th is three days back, inside Meta's 7-day /stats horizon.
    static let now = UnixSeconds(Int64(UTCTimestamp.parse("2026-11-27T20:00:00Z")!))

    static func delivered(
        _ id: String,
        at time: UnixSeconds,
        outcome: DeliveryOutcome = .forwarded,
        value: Double = 10,
        currency: String = "USD"
    )
        -> DeliveredEvent
    {
        DeliveredEvent(
            key: EventKey(pixelID: "p1", eventID: id, eventTime: time),
            receivedAt: UnixMillis(0),
            outcome: outcome,
            record: JSONValue.object(["event_name": .string("Purchase"), "value": .number(value), "currency": .string(currency)]).serialized,
            fbtraceID: nil,
            deadLetterReason: nil
        )
    }

    static func insights(_ campaign: String, day: CalendarDate, spend: Double, purchases: Double?, value: Double?) -> AdInsightsRecord {
        AdInsightsRecord(
            accountID: "42",
            level: "campaign",
            levelID: campaign,
            day: day,
            currency: "USD",
            timeZone: zone.identifier,
            pixels: ["p1"],
            spend: spend,
            impressions: 1000,
            clicks: 10,
            conversions: [
                AdConversion(
                    eventName: "Purchase",
                    actionType: "offsite_conversion.fb_pixel_purchase",
                    count: purchases,
                    value: value,
                    windows: purchases.map { ["7d_click": $0] } ?? [:],
                    valueWindows: [:]
                )
            ]
        )
    }

    /// Insights were last read on the 25th (so the 24th is settled and the 25th is not).
    func report(by grouping: KPIReport.Grouping = .day, insightsThrough: CalendarDate = Self.day.adding(days: 1)) -> KPIReport {
        let start = Self.zone.start(of: Self.day)
        // Late evening in Los Angeles is the next morning in UTC: these belong to the 24th locally.
        let late = start + .seconds(23 * 3600)
        let delivered =
            (0..<4).map { Self.delivered("e\($0)", at: late) } + [
                Self.delivered("eur", at: start + .seconds(3600), value: 5, currency: "EUR"),
                Self.delivered("dead", at: start + .seconds(3600), outcome: .deadLettered),
                Self.delivered("next", at: start + .seconds(30 * 3600)),
            ]
        let statuses = [
            StoredDeliveryStatus(
                status: DeliveryStatusRecord(pixelID: "p1", bucketStart: late, eventName: "Purchase", eventSource: "server", count: 4),
                pulledAt: UnixMillis(0),
                runID: "r"
            )
        ]
        let insights = [
            Self.insights("c1", day: Self.day, spend: 60, purchases: 2, value: 20),
            Self.insights("c2", day: Self.day, spend: 40, purchases: 2, value: 20),
            Self.insights("c1", day: Self.day.adding(days: 1), spend: 50, purchases: nil, value: nil),
        ]
        let accounts = [KPIReport.Account(id: "42", pixels: ["p1"], timeZone: Self.zone, currency: "USD", events: ["Purchase"])]
        return KPIReport(
            accounts: accounts,
            pixels: ["p1"],
            delivered: DeliveredTally(accounts: accounts, events: delivered),
            statuses: statuses,
            insights: insights,
            statusesThrough: ["p1": Self.zone.start(of: Self.day.adding(days: 1)) + .seconds(3600)],
            insightsThrough: ["42": insightsThrough],
            now: Self.now,
            since: { _ in Self.day },
            until: { _ in Self.day.adding(days: 3) },
            by: grouping,
            threshold: 5
        )
    }

    @Test("spend sums campaigns on the account's day; CPA, ROAS and the funnel per event; hourly counts re-bucketed into local days")
    func dailyFigures() throws {
        let row = try #require(report().rows.first { $0.periodStart == Self.day })
        #expect(row.spend == 100 && row.impressions == 2000 && row.spendStatus == .reported && row.currency == "USD")
        let purchase = try #require(row.events.first { $0.eventName == "Purchase" })
        #expect(purchase.forwarded == 5 && purchase.deadLettered == 1 && purchase.metaReceived == 4 && purchase.received == .reported)
        #expect(purchase.attributed == 4 && purchase.cpa == 25 && purchase.roas == 0.4 && purchase.costPerForwarded == 20)
        #expect(purchase.valueSent == ["USD": 40, "EUR": 5], "currencies are kept apart, never added")
        #expect(purchase.lossForwardedToReceived == 20 && purchase.diverges, "one of five forwarded never reached Meta's count")
        #expect(purchase.lossReceivedToAttributed == 0 && purchase.attributedWindows == ["7d_click": 4])
    }

    @Test("a day not read after it ended is pending, withheld conversions are not reported; neither is divergent")
    func pendingAndWithheld() throws {
        let rows = report().rows
        let next = try #require(rows.first { $0.periodStart == Self.day.adding(days: 1) })
        #expect(next.spend == 50 && next.spendStatus == .pending, "the cursor's day was read while it was still running")
        let purchase = try #require(next.events.first)
        #expect(purchase.attribution == .notReported && purchase.attributed == nil && purchase.cpa == nil && purchase.roas == nil)
        #expect(purchase.received == .pending && !purchase.diverges && purchase.forwarded == 1)
        let last = try #require(rows.last)
        #expect(last.periodStart == Self.day.adding(days: 2) && last.spend == nil && last.spendStatus == .pending)
    }

    @Test("a week starts on Monday and carries its spend once; the CSV spend column sums to the spend")
    func weeks() throws {
        let weekly = report(by: .week)
        #expect(weekly.rows.count == 1)
        let week = try #require(weekly.rows.first)
        #expect(week.periodStart == CalendarDate(iso: "2026-11-23") && week.periodEnd == Self.day.adding(days: 2))
        #expect(week.spend == 150)
        let csv = KPIReportFormat.csv(weekly).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let spendColumn = try #require(csv.first?.firstIndex(of: "spend"))
        #expect(csv.dropFirst().compactMap { Double($0[spendColumn]) }.reduce(0, +) == 150, "spend is never repeated on event lines")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(KPIReportFormat.json(report()).utf8)) as? [[String: Any]])
        let first = try #require(json.first)
        let event = try #require((first["events"] as? [[String: Any]])?.first)
        #expect(first["spend"] as? Double == 100 && event["spend"] == nil, "spend on the day, never on its events")
        #expect(event["cpa"] as? Double == 25 && event["roas"] as? Double == 0.4 && first["period_start"] as? String == "2026-11-24")
    }

    @Test("the default table: twelve named columns, every value starting under its name, spend on day lines only")
    func table() throws {
        let lines = KPIReportFormat.table(report()).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = try #require(lines.first)
        let names = header.split(separator: " ").map(String.init)
        #expect(
            names == [
                "account_id", "period_start", "currency", "event_name", "spend", "forwarded", "dead_lettered", "meta_received", "attributed",
                "cpa", "roas", "status",
            ]
        )
        // Where each column starts: every line's value for it starts there too.
        let starts = names.map { header.distance(from: header.startIndex, to: header.range(of: $0)!.lowerBound) }
        func cell(_ line: String, _ name: String) -> String {
            let column = names.firstIndex(of: name)!
            let characters = Array(line)
            let start = starts[column]
            let end = column + 1 < starts.count ? starts[column + 1] : characters.count
            guard start < characters.count else { return "" }
            return String(characters[start..<min(end, characters.count)]).trimmingCharacters(in: .whitespaces)
        }
        #expect(lines.count == KPIReportFormat.csv(report()).split(separator: "\n").count, "one line per CSV line")
        let purchase = try #require(lines.first { cell($0, "period_start") == "2026-11-24" && cell($0, "event_name") == "Purchase" })
        #expect(cell(purchase, "forwarded") == "5" && cell(purchase, "dead_lettered") == "1" && cell(purchase, "meta_received") == "4")
        #expect(cell(purchase, "cpa") == "25.00" && cell(purchase, "roas") == "0.4000" && cell(purchase, "spend").isEmpty, "\(lines)")
        #expect(cell(purchase, "status") == "divergent" && lines.allSatisfy { $0.last != " " }, "no line ends in blanks")
        let day = try #require(lines.first { cell($0, "period_start") == "2026-11-24" && cell($0, "event_name").isEmpty })
        #expect(cell(day, "spend") == "100.00" && cell(day, "currency") == "USD")
    }

    @Test(
        "the chart's axes count in round steps, whole for conversions; a figure Meta gave for one day alone is a dot with its value, and no line crosses a pending day"
    )
    func chartAxesAndDots() throws {
        #expect(KPIReportFormat.roundStep(atLeast: 5.0 / 4, whole: true) == 2)
        #expect(KPIReportFormat.roundStep(atLeast: 0.5, whole: true) == 1 && KPIReportFormat.roundStep(atLeast: 0, whole: true) == 1)
        #expect(KPIReportFormat.roundStep(atLeast: 150.0 / 4, whole: false) == 50 && KPIReportFormat.roundStep(atLeast: 0.125, whole: false) == 0.2)
        #expect(KPIReportFormat.roundStep(atLeast: 2.2, whole: true) == 5 && KPIReportFormat.roundStep(atLeast: 2.2, whole: false) == 2.5)
        #expect(KPIReportFormat.roundStep(atLeast: 1_000, whole: true) == 1_000 && KPIReportFormat.roundStep(atLeast: 1_001, whole: true) == 2_000)

        let html = KPIReportFormat.html(report(), title: "t", generatedAt: "now")
        func labels(after marker: String) -> [String] {
            html.components(separatedBy: marker).dropFirst().map { String($0.prefix { $0 != "<" }) }
        }
        // Five forwarded Purchases at most: 0 to 8 in steps of 2. Spend 100 at most: 0 to 100 by 25.
        #expect(labels(after: #"text-anchor="end">"#) == ["0", "2", "4", "6", "8"])
        let spendLabels = labels(after: #"<text x="950.0" y="#).map { $0.split(separator: ">").last.map(String.init) ?? "" }
        #expect(Array(spendLabels.prefix(5)) == ["0", "25", "50", "75", "100"])
        // Meta's count is known for the first day alone (the others are pending): one dot, no line.
        #expect(html.contains("<title>2026-11-24: received by Meta 4</title>") && html.contains("<title>2026-11-24: attributed by Meta 4</title>"))
        #expect(!html.contains("2026-11-25: received by Meta"), "a pending day has no count")
        #expect(html.components(separatedBy: "<polyline").count - 1 == 1, "only forwarded, known every day, is a line")
    }

    @Test("a day older than /stats returns and never read: received is not available, not divergent")
    func notAvailable() throws {
        let old = KPIReport(
            accounts: [],
            pixels: ["p1"],
            delivered: DeliveredTally(accounts: [], events: [Self.delivered("old", at: Self.zone.start(of: Self.day.adding(days: -20)))]),
            statuses: [],
            insights: [],
            statusesThrough: [:],
            insightsThrough: [:],
            now: Self.now,
            since: { _ in Self.day.adding(days: -21) },
            until: { _ in Self.day.adding(days: -19) },
            by: .day,
            threshold: 5
        )
        let events = old.rows.flatMap(\.events)
        #expect(events.count == 1 && events[0].received == .notAvailable && !events[0].diverges && events[0].forwarded == 1)
    }

    /// Meta counts server events per UTC hour. In Asia/Kolkata (+5:30) the hour from 18:00 UTC is
    /// 23:30 to 00:30 local: its count falls on the day it starts on, so a day's counts run from
    /// 00:30 to 00:30, and only the events forwarded in those hours can be compared with them.
    @Test("in a zone half an hour off UTC, Meta's hourly counts are compared with the events forwarded in the same hours")
    func partHourZone() throws {
        let kolkata = try #require(AccountTimeZone(identifier: "Asia/Kolkata"))
        let at = { (text: String) in UnixSeconds(Int64(UTCTimestamp.parse(text)!)) }
        // Local 00:10 on the 24th (two), noon (three), 23:50 (one): six forwarded on the 24th.
        let delivered =
            [
                Self.delivered("a0", at: at("2026-11-23T18:40:00Z")), Self.delivered("a1", at: at("2026-11-23T18:40:00Z")),
                Self.delivered("b0", at: at("2026-11-24T06:30:00Z")), Self.delivered("b1", at: at("2026-11-24T06:30:00Z")),
                Self.delivered("b2", at: at("2026-11-24T06:30:00Z")), Self.delivered("c", at: at("2026-11-24T18:20:00Z")),
            ]
        // What Meta counts of them, nothing lost: the 00:10s in the hour that started at 23:30 on the 23rd.
        let statuses = [("2026-11-23T18:00:00Z", 2), ("2026-11-24T06:00:00Z", 3), ("2026-11-24T18:00:00Z", 1)].map { start, count in
            StoredDeliveryStatus(
                status: DeliveryStatusRecord(
                    pixelID: "p1",
                    bucketStart: at(start),
                    eventName: "Purchase",
                    eventSource: "server",
                    count: Int64(count)
                ),
                pulledAt: UnixMillis(0),
                runID: "r"
            )
        }
        let accounts = [KPIReport.Account(id: "42", pixels: ["p1"], timeZone: kolkata, currency: "USD", events: ["Purchase"])]
        func report(statusesThrough: String) -> KPIReport {
            KPIReport(
                accounts: accounts,
                pixels: ["p1"],
                delivered: DeliveredTally(accounts: accounts, events: delivered),
                statuses: statuses,
                insights: [],
                statusesThrough: ["p1": at(statusesThrough)],
                insightsThrough: [:],
                now: Self.now,
                since: { _ in Self.day },
                until: { _ in Self.day.adding(days: 1) },
                by: .day,
                threshold: 5
            )
        }
        func purchase(statusesThrough: String) throws -> KPIReport.EventFigures {
            let row = try #require(report(statusesThrough: statusesThrough).rows.first { $0.periodStart == Self.day })
            return try #require(row.events.first { $0.eventName == "Purchase" })
        }
        let figures = try purchase(statusesThrough: "2026-11-24T19:00:00Z")
        #expect(figures.forwarded == 6, "forwarded counts the local day, by event time")
        #expect(figures.forwardedInReceivedHours == 4 && figures.metaReceived == 4 && figures.received == .reported)
        #expect(figures.lossForwardedToReceived == 0 && !figures.diverges, "\(figures)")
        // The last hour of the 24th's counts ends at 19:00 UTC: a cursor at 18:42 has not read it whole.
        #expect(try purchase(statusesThrough: "2026-11-24T18:42:00Z").received == .pending)
        #expect(kolkata.isPartHourOffUTC(at: Self.now) && !Self.zone.isPartHourOffUTC(at: Self.now))
        // The HTML page's ratio compares the same hours too: all four of them arrived.
        let html = KPIReportFormat.html(report(statusesThrough: "2026-11-24T19:00:00Z"), title: "t", generatedAt: "now")
        #expect(html.contains("<span>Sent vs received</span><b>100.0 %</b>"), "\(html)")
        let json = KPIReportFormat.json(report(statusesThrough: "2026-11-24T19:00:00Z"))
        #expect(json.contains(#""forwarded":6,"forwarded_in_received_hours":4"#), "\(json)")
    }

    @Test("CSV cells: quoted as RFC 4180 says, and text a spreadsheet would run as a formula starts with '")
    func csvCells() {
        #expect(KPIReportFormat.csvCell(#"=HYPERLINK("http://x.example","y")"#) == #""'=HYPERLINK(""http://x.example"",""y"")""#)
        #expect(KPIReportFormat.csvCell("@SUM(A1)") == "'@SUM(A1)")
        #expect(KPIReportFormat.csvCell("+1 Signup") == "'+1 Signup" && KPIReportFormat.csvCell("-Lead") == "'-Lead")
        // Numbers stay numbers; plain text stays as it is.
        #expect(KPIReportFormat.csvCell("-12.50") == "-12.50" && KPIReportFormat.csvCell("+3") == "+3")
        #expect(KPIReportFormat.csvCell("Purchase") == "Purchase" && KPIReportFormat.csvCell("a=b") == "a=b")
        #expect(KPIReportFormat.csvCell("a,b") == #""a,b""# && KPIReportFormat.csvCell("a\r\nb") == "\"a\r\nb\"")
        #expect(KPIReportFormat.csvCell("a\rb") == "\"a\rb\"")
    }
}
