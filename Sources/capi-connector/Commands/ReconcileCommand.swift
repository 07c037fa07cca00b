import ArgumentParser
import CAPICore
import ConnectorRuntime
import Foundation
import PullMode

struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "The KPI report: ad spend against conversions forwarded, received by Meta and attributed by Meta, with CPA and ROAS.",
        discussion: """
            Per ad account and period (days in the account's time zone; weeks from Monday; months): spend, \
            impressions, clicks; and per event of the account's pixels: forwarded, dead-lettered, received by \
            Meta from servers (delivery_statuses, re-bucketed into the account's days), attributed by Meta \
            (default attribution and each window), value sent and attributed, cpa = spend / attributed, \
            cost per forwarded conversion, roas = attributed value / spend, and the funnel losses. Spend sits \
            on the account's period, never on its events, so no column counts it twice. Values in different \
            currencies are never added. Periods not read yet or not over are pending; periods older than \
            Meta's 7-day /stats horizon that were never read are not available; neither is divergent. \
            Pixels no ad account claims get rows without spend (UTC days). Meta counts per UTC hour: in a \
            zone a part of an hour off UTC (Asia/Kolkata), a day's meta_received holds the hours that start \
            on it (00:30 to 00:30), and the loss compares it with the events forwarded in those hours.

            --since and --until take a date (2026-11-20), an ISO 8601 time, Unix seconds, or days relative \
            to today in each account's time zone (-7d, 0d); --until is exclusive, and without it the report \
            runs through today (today's period is pending). Yesterday alone: --since -1d --until 0d. One \
            report covers at most ten years.

            JSON: one object per account and period with account_id, period_start, period_end, time_zone, \
            currency, spend, impressions, clicks, spend_status and events[] (event_name, forwarded, \
            forwarded_in_received_hours, dead_lettered, queued, value_sent, meta_received, received_status, attributed, \
            attributed_windows, value_attributed, attribution_status, cpa, cost_per_forwarded, roas, \
            loss_forwarded_to_received_pct, loss_received_to_attributed_pct, diverges). CSV: the same \
            figures flat, with stable column names; spend only on lines without an event name.

            Example:
              capi-connector reconcile --since -28d --until 0d --by week --format html --output kpi.html
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, csv, json, html }

    @OptionGroup var state: StoreOptions
    @Option(parsing: .unconditional, help: ArgumentHelp("First day (date, ISO 8601 time, Unix seconds or -Nd).", valueName: "day"))
    var since: String
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("End, exclusive (date, ISO 8601 time, Unix seconds or -Nd); default 1d: through today.", valueName: "day")
    )
    var until: String = "1d"
    @Option(help: "Period: day, week (from Monday) or month.") var by: String = "day"
    @Option(help: "Output format: table, csv, json or html.") var format: Format = .table
    @Option(parsing: .unconditional, help: "Flag periods whose forwarded and received counts differ by more than this percentage.")
    var threshold: Double = 5
    @Option(help: ArgumentHelp("Write the report here instead of standard output (`-` is standard output).", valueName: "path"))
    var output: String?

    /// The file to write, if any: `-` names standard output, as it does for most Unix tools (it
    /// was written to a file called `-`).
    var outputFile: String? { output == "-" ? nil : output }

    func validate() throws {
        for (name, value, example) in [("--since", since, "-7d"), ("--until", until, "0d")] where DaySpec(value) == nil {
            let reason = TimeArgument.likelyMistake(value, relativeUnits: "days (d)").map { "; " + $0 } ?? ""
            throw ValidationError(
                "\(name) takes a date (2026-11-20), an ISO 8601 time, Unix seconds or days relative to today (\(example))\(reason)"
            )
        }
        guard KPIReport.Grouping(rawValue: by) != nil else { throw ValidationError("--by must be day, week or month (spend is reported per day)") }
        guard threshold.isFinite, (0...1_000_000).contains(threshold) else {
            throw ValidationError("--threshold must be a percentage from 0 upwards, such as 5")
        }
        // Checked before the store is read: a report computed and then not written is work lost.
        if let output = outputFile {
            var isFolder: ObjCBool = false
            if output.hasSuffix("/") || (FileManager.default.fileExists(atPath: output, isDirectory: &isFolder) && isFolder.boolValue) {
                throw ValidationError(
                    "--output: \(output) is a folder; name the file to write, such as \(output.hasSuffix("/") ? output : output + "/")kpi.\(format == .table ? "txt" : format.rawValue)"
                )
            }
            if FileManager.default.fileExists(atPath: output), !FileManager.default.isWritableFile(atPath: output) {
                throw ValidationError("--output: \(output) exists and is not writable")
            }
            let folder = URL(fileURLWithPath: output).deletingLastPathComponent().path
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                throw ValidationError("--output: the folder \(folder) does not exist")
            }
            guard FileManager.default.isWritableFile(atPath: folder) else { throw ValidationError("--output: the folder \(folder) is not writable") }
        }
        let now = WallClock.system.seconds()
        let (first, end) = (DaySpec(since)!.first(in: .utc, now: now), DaySpec(until)!.end(in: .utc, now: now))
        guard first < end else { throw ValidationError("--since must be before --until") }
        // A typo such as -99999d would print a row for every day since 1753.
        guard first.days(to: end) <= Self.maximumDays else {
            throw ValidationError(
                "--since \(since) to --until \(until) spans \(first.days(to: end)) days; a report covers at most \(Self.maximumDays) (ten years)"
            )
        }
    }

    /// The ad accounts as their latest Ads Insights rows describe them (time zone, currency, pixels).
    static func accounts(_ insights: [AdInsightsRecord]) -> [KPIReport.Account] {
        Dictionary(grouping: insights, by: \.accountID).sorted(by: { $0.key < $1.key }).map { id, rows in
            let latest = rows.max { $0.day < $1.day }
            let zone = latest?.timeZone.flatMap(AccountTimeZone.init(identifier:)) ?? .utc
            let events = Set(rows.flatMap { $0.conversions.map(\.eventName) }).sorted()
            return KPIReport.Account(id: id, pixels: latest?.pixels ?? [], timeZone: zone, currency: latest?.currency, events: events)
        }
    }

    /// The page's title: its days as the accounts count them when they share a time zone (`-9d`
    /// is nine days before the account's today, which UTC's may already have passed), else UTC's.
    static func title(from: DaySpec, to: DaySpec, accounts: [KPIReport.Account], now: UnixSeconds, by: String) -> String {
        let zones = Set(accounts.map(\.timeZone.identifier))
        let zone = zones.count == 1 ? accounts[0].timeZone : .utc
        let named = zones.count > 1 ? ", UTC days; each account in its own zone" : ""
        return "Ad spend and conversions, \(from.first(in: zone, now: now)) to \(to.end(in: zone, now: now).adding(days: -1)) (by \(by)\(named))"
    }

    /// The longest period one report covers: ten years, far beyond what Meta keeps of Ads Insights
    /// (37 months) and of delivery statistics.
    static let maximumDays = 3_660

    func run() async throws {
        let now = WallClock.system.seconds()
        let (from, to) = (DaySpec(since)!, DaySpec(until)!)
        let (delivered, statuses, insights, summary, accounts) = try await state.withRegistry { registry in
            // An account's days are UTC's give or take a day; rows outside the report are not read.
            let reportDays = from.first(in: .utc, now: now).adding(days: -2)...to.end(in: .utc, now: now).adding(days: 1)
            let insights = try await registry.adInsights(since: nil, days: reportDays).map(\.insights)
            let accounts = Self.accounts(insights)
            // Events of the report's days were received at most max_future_skew (a day at most)
            // before their event_time; in any zone the first day starts at most 14 h before UTC's.
            let firstDay = AccountTimeZone.utc.start(of: from.first(in: .utc, now: now).adding(days: -2))
            let receivedFloor = UnixSeconds(firstDay.rawValue - MetaLimits.longestFutureSkewSeconds).milliseconds
            var delivered = DeliveredTally(accounts: accounts)
            try await registry.forEachDeliveredEventsPage(since: receivedFloor) { delivered.add($0) }
            // Meta's hours of the report's days in any zone (each starts within 14 h of UTC's):
            // from two days before UTC's first day to two days after its last.
            let lastDay = AccountTimeZone.utc.start(of: to.end(in: .utc, now: now).adding(days: 2))
            let statuses = try await registry.deliveryStatuses(since: nil, buckets: firstDay..<lastDay)
            return (delivered, statuses, insights, try await registry.summary(), accounts)
        }
        var statusesThrough: [String: UnixSeconds] = [:]
        var insightsThrough: [String: CalendarDate] = [:]
        for (key, value) in summary.cursors {
            if key.stream == StateStream.deliveryStatuses.rawValue { statusesThrough[key.partition] = value.position }
            if key.stream == StateStream.adInsights.rawValue, let account = accounts.first(where: { "act_\($0.id)" == key.partition }) {
                insightsThrough[account.id] = account.timeZone.day(of: value.position)
            }
        }
        let pixels = delivered.pixels.union(statuses.map(\.status.pixelID)).union(accounts.flatMap(\.pixels)).sorted()
        let report = KPIReport(
            accounts: accounts,
            pixels: pixels,
            delivered: delivered,
            statuses: statuses,
            insights: insights,
            statusesThrough: statusesThrough,
            insightsThrough: insightsThrough,
            now: now,
            since: { from.first(in: $0, now: now) },
            until: { to.end(in: $0, now: now) },
            by: KPIReport.Grouping(rawValue: by)!,
            threshold: threshold
        )
        let text =
            switch format {
            case .table: KPIReportFormat.table(report)
            case .csv: KPIReportFormat.csv(report)
            case .json: KPIReportFormat.json(report)
            case .html:
                KPIReportFormat.html(report, title: Self.title(from: from, to: to, accounts: accounts, now: now, by: by), generatedAt: now.iso8601)
            }
        if let output = outputFile {
            // What standard output gets: the text and the newline that ends its last line.
            do { try (text + "\n").write(toFile: output, atomically: true, encoding: .utf8) } catch {
                StandardStreams.printError("capi-connector: cannot write the report to \(output): \(error.localizedDescription)")
                throw ExitCode(1)
            }
            let events = report.rows.flatMap(\.events)
            StandardStreams.printError("wrote \(output) (\(report.rows.count) periods, \(events.filter(\.diverges).count) divergent event periods)")
        } else {
            StandardStreams.printOutput(text)
        }
        for account in accounts where account.timeZone.isPartHourOffUTC(at: now) {
            StandardStreams.printError(
                "account \(account.id) keeps time in \(account.timeZone.identifier), a part of an hour off UTC: Meta counts events per UTC "
                    + "hour, so each day's meta_received holds the hours that start on that day, and the loss compares them with "
                    + "forwarded_in_received_hours, the events forwarded in those same hours"
            )
        }
        if report.rows.isEmpty {
            StandardStreams.printError(
                "nothing to report for that period in this store: no ad account in the manifest, no event forwarded and no "
                    + "delivery status read (poll reads spend and statuses; serve records conversions)"
            )
        }
    }
}

/// A day as `--since`/`--until` give it: a date, an instant, or days relative to today; resolved
/// per account, since "today" and an instant's day depend on the account's time zone.
struct DaySpec {
    enum Kind {
        case date(CalendarDate)
        case instant(UnixSeconds)
        case relative(Int)
    }

    let kind: Kind

    init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix("d"), let days = Int(trimmed.dropLast()), abs(days) <= 100_000 {
            kind = .relative(days)
        } else if let date = CalendarDate(iso: trimmed) {
            kind = .date(date)
        } else if !TimeArgument.isCount(trimmed), let instant = UnixSeconds(parsing: trimmed) {
            kind = .instant(instant)
        } else {
            return nil
        }
    }

    /// The first day included.
    func first(in zone: AccountTimeZone, now: UnixSeconds) -> CalendarDate {
        switch kind {
        case .date(let date): date
        case .instant(let instant): zone.day(of: instant)
        case .relative(let days): zone.day(of: now).adding(days: days)
        }
    }

    /// The first day excluded: an instant inside a day includes that day's part before it.
    func end(in zone: AccountTimeZone, now: UnixSeconds) -> CalendarDate {
        switch kind {
        case .date(let date): date
        case .instant(let instant):
            zone.start(of: zone.day(of: instant)) == instant ? zone.day(of: instant) : zone.day(of: instant).adding(days: 1)
        case .relative(let days): zone.day(of: now).adding(days: days)
        }
    }
}
