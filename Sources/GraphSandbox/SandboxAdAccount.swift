import CAPICore

/// An ad account the stand-in reports insights for: two campaigns with spend seeded per campaign
/// and local day, and conversions attributed from the events the stand-in actually received.
///
/// Attribution is deterministic per event id: a share of events is attributed (to one campaign,
/// by click or by view), and each attributed event shows up only some days after it happened, as
/// Meta's attributed counts grow over the following days; so a poll's lookback matters.
public struct SandboxAdAccount: Sendable {
    /// Digits, without `act_`.
    public var id: String
    public var timeZone: String
    public var currency: String
    /// Pixels whose events this account's campaigns are credited with; empty: every pixel.
    public var pixels: [String]
    /// Share of received events attributed to a campaign (0…1).
    public var attributedShare: Double
    /// Attributed events appear 0…`maximumDelayDays` local days after they happened.
    public var maximumDelayDays: Int

    public init(
        id: String = "1122334455",
        timeZone: String = "America/Los_Angeles",
        currency: String = "USD",
        pixels: [String] = [],
        attributedShare: Double = 0.6,
        maximumDelayDays: Int = 3
    ) {
        self.id = id
        self.timeZone = timeZone
        self.currency = currency
        self.pixels = pixels
        self.attributedShare = attributedShare
        self.maximumDelayDays = maximumDelayDays
    }

    public struct Campaign: Sendable, Equatable {
        public var id: String
        public var name: String
    }

    public var campaigns: [Campaign] {
        [Campaign(id: "12020\(id)01", name: "Prospecting"), Campaign(id: "12020\(id)02", name: "Retargeting")]
    }

    /// Meta's action types per event name: the pixel type, the generic type and the omni type all
    /// report the same conversions (a reader that sums them counts each three times).
    static let actionTypes: [String: [String]] = [
        "Purchase": ["offsite_conversion.fb_pixel_purchase", "purchase", "omni_purchase"],
        "Lead": ["offsite_conversion.fb_pixel_lead", "lead"],
        "AddToCart": ["offsite_conversion.fb_pixel_add_to_cart", "add_to_cart", "omni_add_to_cart"],
        "CompleteRegistration": ["offsite_conversion.fb_pixel_complete_registration", "complete_registration"],
    ]

    /// Spend in the account currency, in cents, for a campaign on a local day.
    func spendCents(campaign: Campaign, day: CalendarDate, seed: UInt64) -> Int64 {
        5_000 + Int64(Self.hash("\(campaign.id)|\(day)", seed: seed) % 10_000)
    }

    /// One received event as the account attributes it, or `nil` when it is not attributed.
    struct Attribution: Sendable {
        var campaign: Campaign
        var eventName: String
        /// The local day the conversion happened (Meta's `conversion` report time).
        var day: CalendarDate
        /// The first local day on which Meta reports it.
        var visibleFrom: CalendarDate
        var byClick: Bool
        /// Within a day of the click or view.
        var withinOneDay: Bool
        var value: Double?
    }

    func attribution(of eventID: String, name: String, time: Int64, event: JSONValue, seed: UInt64, zone: AccountTimeZone) -> Attribution? {
        guard Self.actionTypes[name] != nil, !eventID.isEmpty else { return nil }
        let hash = Self.hash("\(id)|\(eventID)", seed: seed)
        guard Double(hash % 10_000) / 10_000 < attributedShare else { return nil }
        let day = zone.day(of: UnixSeconds(time))
        let delay = maximumDelayDays > 0 ? Int((hash >> 16) % UInt64(maximumDelayDays + 1)) : 0
        let value: Double? =
            switch event["custom_data"]?["value"] {
            case .integer(let number)?: Double(number)
            case .number(let number)?: number
            case .string(let text)?: Double(text)
            default: nil
            }
        return Attribution(
            campaign: campaigns[Int((hash >> 8) % UInt64(campaigns.count))],
            eventName: name,
            day: day,
            visibleFrom: day.adding(days: delay),
            byClick: (hash >> 24) % 4 != 0,
            withinOneDay: (hash >> 28) % 2 == 0,
            value: value
        )
    }

    static func hash(_ text: String, seed: UInt64) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        // SplitMix64's finalizer: FNV alone leaves the high bits of similar ids correlated.
        hash = (hash ^ (hash >> 30)) &* 0xBF58_476D_1CE4_E5B9
        hash = (hash ^ (hash >> 27)) &* 0x94D0_49BB_1331_11EB
        return hash ^ (hash >> 31)
    }
}
