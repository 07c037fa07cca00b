import CAPICore

/// One row of Meta's Ads Insights (`ad_insights`): an ad account's object (the account itself, a
/// campaign, an ad set or an ad) on one day of the account's time zone, with what it cost and the
/// conversions Meta attributed to it per mapped event.
public struct AdInsightsRecord: Sendable, Equatable, Codable {
    /// Digits, without `act_`.
    public var accountID: String
    /// `account`, `campaign`, `adset` or `ad`.
    public var level: String
    public var levelID: String
    public var levelName: String?
    /// The day in the account's time zone.
    public var day: CalendarDate
    /// The account's currency: spend and attributed values are in it.
    public var currency: String
    /// The account's time zone (what `day` is a day of); `nil` in rows written before it was kept.
    public var timeZone: String?
    /// The pixels the account advertises for, as configured when the row was pulled (what
    /// reconciliation joins conversions on).
    public var pixels: [String]?
    public var spend: Double?
    public var impressions: Int64?
    public var clicks: Int64?
    /// One per mapped event name (the configured action type for it, never a sum of overlapping ones).
    public var conversions: [AdConversion]

    public init(
        accountID: String,
        level: String,
        levelID: String,
        levelName: String? = nil,
        day: CalendarDate,
        currency: String,
        timeZone: String? = nil,
        pixels: [String]? = nil,
        spend: Double?,
        impressions: Int64?,
        clicks: Int64?,
        conversions: [AdConversion]
    ) {
        self.accountID = accountID
        self.level = level
        self.levelID = levelID
        self.levelName = levelName
        self.day = day
        self.currency = currency
        self.timeZone = timeZone
        self.pixels = pixels
        self.spend = spend
        self.impressions = impressions
        self.clicks = clicks
        self.conversions = conversions
    }

    public func conversion(for eventName: String) -> AdConversion? { conversions.first { $0.eventName == eventName } }

    /// Whether Meta reported this row's conversion metrics.
    public var conversionsReported: Bool { conversions.allSatisfy { $0.count != nil } }
}

/// Conversions of one event name in an insights row: the count and value under the account's
/// default attribution, and per requested attribution window. A `nil` count is "not reported"
/// (Meta withheld the row's conversion metrics), which is not zero.
public struct AdConversion: Sendable, Equatable, Codable {
    public var eventName: String
    public var actionType: String
    public var count: Double?
    public var value: Double?
    /// Counts per window Meta reported (`1d_click`, `7d_click`, `1d_view`, …).
    public var windows: [String: Double]
    public var valueWindows: [String: Double]

    public init(eventName: String, actionType: String, count: Double?, value: Double?, windows: [String: Double], valueWindows: [String: Double]) {
        self.eventName = eventName
        self.actionType = actionType
        self.count = count
        self.value = value
        self.windows = windows
        self.valueWindows = valueWindows
    }
}

/// An insights row as stored: when it was pulled, and by which run.
public struct StoredAdInsights: Sendable, Equatable {
    public var insights: AdInsightsRecord
    public var pulledAt: UnixMillis
    public var runID: String

    public init(insights: AdInsightsRecord, pulledAt: UnixMillis, runID: String) {
        self.insights = insights
        self.pulledAt = pulledAt
        self.runID = runID
    }
}
