/// Meta's Conversions API and Graph API limits, in one place (see docs/meta-api.md). Validation, the forwarder,
/// the poller and the Graph stand-in all read them from here, so a change in Meta's rules is one edit.
public enum MetaLimits {
    /// Events in one `POST /{pixel}/events`; one invalid event fails all of them.
    public static let eventsPerRequest = 1000
    /// How old an event may be when Meta receives it.
    public static let maximumEventAgeSeconds: Int64 = 7 * 86_400
    /// The same for `action_source: physical_store` (store sales are uploaded late).
    public static let physicalStoreMaximumEventAgeSeconds: Int64 = 62 * 86_400
    /// Time an event must have left before its age limit to be sent: a request reaches Meta
    /// within seconds (each try is bounded by the Graph timeout, at most 60 s), and server clocks
    /// agree within seconds. An event with less left is dead-lettered instead of sent to fail its
    /// batch, and intake refuses it, since it would be dead-lettered at once.
    public static let deliveryMarginSeconds: Int64 = 120
    /// Meta's `error_subcode` (with code 100) for an event older than its age limit.
    public static let eventTooOldSubcode = 2_804_003
    /// How far back `/{pixel}/stats` answers.
    public static let statsHorizonSeconds: Int64 = 7 * 86_400
    /// Future `event_time` is undocumented; the connector's default tolerance for clock skew.
    public static let defaultFutureSkewSeconds: Int64 = 300
    /// The most `push.max_future_skew` may allow: an event's `event_time` is then never more than a
    /// day after its receipt, which lets readers of `delivered_events` by event time skip the
    /// stream's older part by receipt time.
    public static let longestFutureSkewSeconds: Int64 = 86_400
    /// An `event_time` at or above this is milliseconds, not seconds (year 5138 in seconds).
    public static let millisecondsThreshold: Int64 = 100_000_000_000
    /// The `action_attribution_windows` Ads Insights answers for.
    public static let attributionWindows: Set<String> = ["1d_click", "7d_click", "28d_click", "1d_view", "1d_ev", "default", "incrementality"]
    /// Windows Ads Insights still takes but stopped answering for on 2026-01-12.
    public static let retiredAttributionWindows: Set<String> = ["7d_view", "28d_view"]
    /// Meta's recommended request timeout.
    public static let recommendedTimeout: Duration = .milliseconds(1500)
    /// The longest request timeout a manifest may set: the HTTP client's read timeout (90 s)
    /// would end a longer wait first, as a timeout the manifest never asked for.
    public static let longestTimeout: Duration = .seconds(60)
    /// The default timeout of a read (stats, match quality, Ads Insights, the token exchange).
    /// Meta's 1.5 s is advice for sending events; a read is a query Meta computes when asked, so it
    /// may take longer. Cut at 1.5 s, a slower read timed out on every retry and its window never
    /// advanced.
    public static let defaultReadTimeout: Duration = .seconds(30)

    /// The age limit for an event of `actionSource`.
    public static func maximumEventAge(_ actionSource: ActionSource) -> Int64 {
        actionSource == .physicalStore ? physicalStoreMaximumEventAgeSeconds : maximumEventAgeSeconds
    }

    /// When Meta stops accepting an event: its `event_time` plus the age limit of its action source
    /// (the 7-day limit when the source is not known).
    public static func expiry(of eventTime: UnixSeconds, actionSource: ActionSource?) -> UnixMillis {
        (eventTime + .seconds(actionSource.map(maximumEventAge) ?? maximumEventAgeSeconds)).milliseconds
    }
}
