import CAPICore
import ConnectorRuntime
import Foundation

/// What analytics teams reconcile: per ad account and period (days of the account's time zone,
/// or weeks from Monday, or months), what it spent, and per mapped event of its pixels what was
/// forwarded, dead-lettered, received by Meta from servers and attributed by Meta, with the cost
/// per acquisition, the return on ad spend and the funnel losses between the three.
///
/// Spend belongs to the account and period row; events carry no spend, so no reader can sum it
/// twice. Values in different currencies are never added: an event's sent value is kept per
/// currency, and its ROAS is computed only when its currency is the account's. A period Meta has
/// not reported yet is `pending`, one older than what `/stats` returns (7 days) and never pulled is
/// `not_available`; neither is ever flagged as divergent. Pure: it reads records handed in.
public struct KPIReport: Sendable {
    public enum Grouping: String, Sendable, CaseIterable {
        case day, week, month
    }

    /// Whether a figure is there, and if not, why.
    public enum Availability: String, Sendable {
        case reported
        /// Not pulled yet, or still settling.
        case pending
        /// Older than Meta still returns, and never pulled.
        case notAvailable = "not_available"
        /// Meta withheld it.
        case notReported = "not_reported"
    }

    public struct EventFigures: Sendable, Equatable {
        public var eventName: String
        public var forwarded: Int64 = 0
        /// Forwarded in the UTC hours whose counts Meta's `/stats` assigns to the period: what
        /// `metaReceived` is compared with. Equal to `forwarded` in a zone a whole number of hours
        /// off UTC; in one such as Asia/Kolkata a day's hourly counts run from 00:30 to 00:30.
        public var forwardedInReceivedHours: Int64 = 0
        public var deadLettered: Int64 = 0
        /// Accepted, not yet forwarded.
        public var queued: Int64 = 0
        /// Value sent, per currency (never added across currencies).
        public var valueSent: [String: Double] = [:]
        public var metaReceived: Int64?
        public var received: Availability = .pending
        public var attributed: Double?
        public var attributedWindows: [String: Double] = [:]
        public var valueAttributed: Double?
        public var attribution: Availability = .pending
        public var cpa: Double?
        public var costPerForwarded: Double?
        public var roas: Double?
        /// Forwarded but not counted as received by Meta, in percent of forwarded.
        public var lossForwardedToReceived: Double?
        /// Received but not attributed, in percent of received.
        public var lossReceivedToAttributed: Double?
        /// Forwarded and received differ beyond the threshold, where both are known.
        public var diverges = false
    }

    public struct Row: Sendable, Equatable {
        /// `nil` for pixels no configured ad account advertises for.
        public var accountID: String?
        public var pixels: [String]
        public var timeZone: String
        public var currency: String?
        public var periodStart: CalendarDate
        public var periodEnd: CalendarDate
        public var spend: Double?
        public var impressions: Int64?
        public var clicks: Int64?
        public var spendStatus: Availability
        public var events: [EventFigures]
    }

    /// An ad account as the report sees it.
    public struct Account: Sendable {
        public var id: String
        public var pixels: [String]
        public var timeZone: AccountTimeZone
        public var currency: String?
        /// The event names mapped to action types.
        public var events: [String]

        public init(id: String, pixels: [String], timeZone: AccountTimeZone, currency: String?, events: [String]) {
            self.id = id
            self.pixels = pixels
            self.timeZone = timeZone
            self.currency = currency
            self.events = events
        }
    }

    public var rows: [Row]

    /// - Parameters:
    ///   - accounts: the configured ad accounts; pixels none of them claims get rows without spend (UTC days).
    ///   - delivered: the `delivered_events` stream, tallied for these accounts.
    ///   - statusesThrough: per pixel, how far `delivery_statuses` has been read (its cursor).
    ///   - insightsThrough: per account, the last day `ad_insights` has been read.
    ///   - since, until: per time zone, the first day and the day after the last (`until` excluded).
    public init(
        accounts: [Account],
        pixels: [String],
        delivered: DeliveredTally,
        statuses: [StoredDeliveryStatus],
        insights: [AdInsightsRecord],
        statusesThrough: [String: UnixSeconds],
        insightsThrough: [String: CalendarDate],
        now: UnixSeconds,
        since: @escaping (AccountTimeZone) -> CalendarDate,
        until: @escaping (AccountTimeZone) -> CalendarDate,
        by grouping: Grouping,
        threshold: Double
    ) {
        let claimed = Set(accounts.flatMap(\.pixels))
        var groups = accounts.map { (account: $0 as Account?, pixels: $0.pixels, zone: $0.timeZone) }
        let unclaimed = pixels.filter { !claimed.contains($0) }
        if !unclaimed.isEmpty { groups.append((nil, unclaimed, .utc)) }
        var rows: [Row] = []
        for group in groups {
            let zone = group.zone
            let first = since(zone)
            let last = until(zone).adding(days: -1)
            guard first <= last else { continue }
            let pixelSet = Set(group.pixels)
            var periods: [CalendarDate: Row] = [:]
            func periodStart(_ day: CalendarDate) -> CalendarDate { Self.start(of: day, grouping) }
            func row(_ day: CalendarDate) -> Row {
                let start = periodStart(day)
                return periods[start]
                    ?? Row(
                        accountID: group.account?.id,
                        pixels: group.pixels,
                        timeZone: zone.identifier,
                        currency: group.account?.currency,
                        periodStart: start,
                        periodEnd: min(Self.end(of: start, grouping), last),
                        spend: nil,
                        impressions: nil,
                        clicks: nil,
                        spendStatus: group.account == nil ? .notAvailable : .pending,
                        events: []
                    )
            }
            func update(_ day: CalendarDate, _ name: String, _ change: (inout EventFigures) -> Void) {
                var current = row(day)
                if let index = current.events.firstIndex(where: { $0.eventName == name }) {
                    change(&current.events[index])
                } else {
                    var figures = EventFigures(eventName: name)
                    change(&figures)
                    current.events.append(figures)
                }
                periods[current.periodStart] = current
            }
            // Every day of the range has a row, so a day without events still shows its spend and status.
            var day = first
            while day <= last {
                periods[periodStart(day)] = row(day)
                for name in group.account?.events ?? [] { update(day, name) { _ in } }
                day = day.adding(days: 1)
            }
            for (key, tallied) in delivered.figures
            where key.zone == zone.identifier && pixelSet.contains(key.pixelID) && key.day >= first && key.day <= last {
                update(key.day, key.eventName) { figures in
                    figures.forwarded += tallied.forwarded
                    figures.forwardedInReceivedHours += tallied.forwardedInReceivedHours
                    figures.deadLettered += tallied.deadLettered
                    figures.queued += tallied.queued
                    for (currency, value) in tallied.valueSent { figures.valueSent[currency, default: 0] += value }
                }
            }
            for stored in statuses where stored.status.eventSource == "server" && pixelSet.contains(stored.status.pixelID) {
                let local = zone.day(of: stored.status.bucketStart)
                guard local >= first, local <= last else { continue }
                update(local, stored.status.eventName) { $0.metaReceived = ($0.metaReceived ?? 0) + stored.status.count }
            }
            if let account = group.account {
                for record in insights where record.accountID == account.id && record.day >= first && record.day <= last {
                    var current = row(record.day)
                    if let spend = record.spend { current.spend = (current.spend ?? 0) + spend }
                    if let impressions = record.impressions { current.impressions = (current.impressions ?? 0) + impressions }
                    if let clicks = record.clicks { current.clicks = (current.clicks ?? 0) + clicks }
                    current.currency = record.currency
                    periods[current.periodStart] = current
                    for conversion in record.conversions {
                        update(record.day, conversion.eventName) { figures in
                            guard let count = conversion.count else {
                                figures.attribution = .notReported
                                return
                            }
                            figures.attributed = (figures.attributed ?? 0) + count
                            if let value = conversion.value { figures.valueAttributed = (figures.valueAttributed ?? 0) + value }
                            for (window, figure) in conversion.windows { figures.attributedWindows[window, default: 0] += figure }
                        }
                    }
                }
            }
            // Availability per period, then the ratios.
            for (start, var current) in periods {
                let through = group.account.flatMap { insightsThrough[$0.id] }
                let today = zone.day(of: now)
                if group.account != nil {
                    // Settled once every day in it was read after the day ended (the cursor day was partial).
                    let read = through.map { current.periodEnd < $0 } ?? false
                    current.spendStatus = read && current.periodEnd < today ? .reported : .pending
                }
                let statusesCursor = group.pixels.compactMap { statusesThrough[$0] }.min()
                // The period's last hourly count ends on the hour after its last local midnight.
                let periodEndInstant = Self.nextWholeHour(from: zone.start(of: current.periodEnd.adding(days: 1)))
                let horizon = UnixSeconds(now.rawValue - MetaLimits.statsHorizonSeconds)
                for index in current.events.indices {
                    var figures = current.events[index]
                    if let cursor = statusesCursor, cursor >= periodEndInstant {
                        figures.received = .reported
                        figures.metaReceived = figures.metaReceived ?? 0
                    } else if figures.metaReceived == nil, zone.start(of: current.periodStart) < horizon {
                        figures.received = .notAvailable
                    } else {
                        figures.received = .pending
                    }
                    if figures.attribution != .notReported {
                        figures.attribution = group.account == nil ? .notAvailable : current.spendStatus
                        if group.account != nil, figures.attributed == nil, current.spendStatus == .reported { figures.attributed = 0 }
                    }
                    if let spend = current.spend {
                        // CPA and ROAS once Meta's attribution for the period is settled, not from a partial day.
                        if let attributed = figures.attributed, attributed > 0, figures.attribution == .reported { figures.cpa = spend / attributed }
                        if figures.forwarded > 0 { figures.costPerForwarded = spend / Double(figures.forwarded) }
                        // ROAS for events that carry a value (a Lead without one has none, not 0).
                        let valued = !figures.valueSent.isEmpty || (figures.valueAttributed ?? 0) > 0
                        if valued, let value = figures.valueAttributed, spend > 0, figures.attribution == .reported { figures.roas = value / spend }
                    }
                    if figures.received == .reported, let received = figures.metaReceived {
                        // Like with like: Meta's counts against what was forwarded in the same hours.
                        let sent = figures.forwardedInReceivedHours
                        if sent > 0 {
                            figures.lossForwardedToReceived = Double(sent - received) * 100 / Double(sent)
                            figures.diverges = abs(figures.lossForwardedToReceived ?? 0) > threshold
                        } else {
                            figures.diverges = received > 0
                        }
                        if received > 0, figures.attribution == .reported, let attributed = figures.attributed {
                            figures.lossReceivedToAttributed = (Double(received) - attributed) * 100 / Double(received)
                        }
                    }
                    current.events[index] = figures
                }
                current.events.sort { $0.eventName < $1.eventName }
                periods[start] = current
            }
            // Mapped events this account's pixels never sent, Meta never counted or attributed in
            // the range are left out: a row of zeros per unused mapping is noise.
            func isActive(_ event: EventFigures) -> Bool {
                if event.forwarded > 0 || event.deadLettered > 0 || event.queued > 0 { return true }
                if (event.metaReceived ?? 0) > 0 || (event.attributed ?? 0) > 0 { return true }
                return event.attribution == .notReported
            }
            let active = Set(periods.values.flatMap(\.events).filter(isActive).map(\.eventName))
            rows += periods.values.sorted { $0.periodStart < $1.periodStart }.map { row in
                var trimmed = row
                trimmed.events.removeAll { !active.contains($0.eventName) }
                return trimmed
            }
        }
        self.rows = rows
    }

    /// `instant` if it is on the hour (UTC), else the next hour.
    static func nextWholeHour(from instant: UnixSeconds) -> UnixSeconds {
        let past = ((instant.rawValue % 3600) + 3600) % 3600
        return past == 0 ? instant : UnixSeconds(instant.rawValue - past + 3600)
    }

    /// The first day of the period holding `day`: itself, the Monday of its week, or the 1st of its month.
    public static func start(of day: CalendarDate, _ grouping: Grouping) -> CalendarDate {
        switch grouping {
        case .day: return day
        case .week:
            // 1970-01-01 was a Thursday: Monday is day number ≡ 4 (mod 7).
            let weekday = Int(((day.dayNumber - 4) % 7 + 7) % 7)
            return day.adding(days: -weekday)
        case .month: return CalendarDate(year: day.year, month: day.month, day: 1)
        }
    }

    /// The last day of the period starting at `start`.
    public static func end(of start: CalendarDate, _ grouping: Grouping) -> CalendarDate {
        switch grouping {
        case .day: return start
        case .week: return start.adding(days: 6)
        case .month:
            let next =
                start.month == 12
                ? CalendarDate(year: start.year + 1, month: 1, day: 1) : CalendarDate(year: start.year, month: start.month + 1, day: 1)
            return next.adding(days: -1)
        }
    }
}
