/// Where a conversion happened; decides which other fields Meta requires.
public enum ActionSource: String, Sendable, CaseIterable, Codable {
    case email, website, app
    case phoneCall = "phone_call"
    case chat
    case physicalStore = "physical_store"
    case systemGenerated = "system_generated"
    case businessMessaging = "business_messaging"
    case other

    /// How old an event may be when Meta receives it: 7 days, 62 for store sales.
    public var maximumAge: Int64 { MetaLimits.maximumEventAge(self) }
}
