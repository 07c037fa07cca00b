import CAPICore

/// Meta's documented checks on one server event, written independently of the connector's own
/// validation so the sandbox can catch the connector's mistakes rather than repeat them.
enum SandboxEventRules {
    struct Violation: Error, Equatable {
        var subcode: Int
        var title: String
        var message: String
    }

    static let actionSources: Set<String> = [
        "email", "website", "app", "phone_call", "chat", "physical_store", "system_generated", "business_messaging", "other",
    ]
    static let hashedKeys: Set<String> = [
        "em", "ph", "fn", "ln", "ct", "st", "zp", "country", "db", "ge", "f5first", "f5last", "fi", "dobd", "dobm", "doby",
    ]

    /// Subcodes follow Meta's 2804xxx family; only 2804003 (too old) is taken from Meta's docs.
    static func check(_ event: JSONValue, index: Int, now: Int64) -> Violation? {
        func violation(_ subcode: Int, _ title: String, _ message: String) -> Violation {
            Violation(subcode: subcode, title: title, message: "data[\(index)]: \(message)")
        }
        guard case .object(let fields) = event else { return violation(2_804_001, "Invalid Event", "the event is not an object") }
        guard case .string(let name)? = fields["event_name"], !name.isEmpty else {
            return violation(2_804_001, "Missing Event Name", "event_name is required")
        }
        guard case .integer(let time)? = fields["event_time"] else {
            return violation(2_804_001, "Invalid Event Time", "event_time must be an integer Unix timestamp in seconds")
        }
        guard case .string(let source)? = fields["action_source"], actionSources.contains(source) else {
            return violation(2_804_001, "Invalid Action Source", "action_source is missing or not a supported value")
        }
        let maxAge: Int64 = source == "physical_store" ? MetaLimits.physicalStoreMaximumEventAgeSeconds : MetaLimits.maximumEventAgeSeconds
        if now - time > maxAge {
            return violation(MetaLimits.eventTooOldSubcode, "Event Timestamp Too Old", "the timestamp for this event is too far in the past")
        }
        // Meta documents no limit ahead; like the connector by default, the stand-in refuses an
        // event more than a few minutes ahead (it took a week ahead, where a clock set wrong or a
        // date in the wrong field would show).
        if time - now > MetaLimits.defaultFutureSkewSeconds {
            return violation(2_804_004, "Event Timestamp In Future", "the timestamp for this event is too far in the future")
        }
        guard case .object(let user)? = fields["user_data"] else {
            return violation(2_804_005, "Missing User Data", "user_data is required")
        }
        for (key, value) in user where hashedKeys.contains(key) {
            let hashed =
                if case .array(let elements) = value { elements.allSatisfy(isLowercaseDigest) } else { isLowercaseDigest(value) }
            if !hashed {
                return violation(2_804_008, "Unhashed Customer Information", "user_data.\(key) must be a lowercase SHA-256 hex digest")
            }
        }
        if source == "website" {
            guard case .string? = fields["event_source_url"] else {
                return violation(2_804_019, "Missing Event Source URL", "event_source_url is required for website events")
            }
            guard case .string? = user["client_user_agent"] else {
                return violation(2_804_019, "Missing User Agent", "user_data.client_user_agent is required for website events")
            }
        }
        if source == "app" {
            guard case .object(let app)? = fields["app_data"], app["advertiser_tracking_enabled"] != nil, app["extinfo"]?.arrayValue?.count == 16
            else {
                return violation(
                    2_804_019,
                    "Missing App Data",
                    "app_data with advertiser_tracking_enabled and a 16-element extinfo is required for app events"
                )
            }
        }
        if case .object(let custom)? = fields["custom_data"] {
            let hasValue = custom["value"] != nil && custom["value"] != .null
            let currency = custom["currency"]?.stringValue
            if hasValue, currency == nil || !(currency!.utf8.count == 3 && CurrencyCodes.isValid(currency!.uppercased())) {
                return violation(2_804_012, "Invalid Currency", "custom_data.currency must be a valid ISO 4217 code when value is set")
            }
            if name == "Purchase", !hasValue {
                return violation(2_804_012, "Missing Purchase Value", "custom_data.value and currency are required for Purchase")
            }
        } else if name == "Purchase" {
            return violation(2_804_012, "Missing Purchase Value", "custom_data.value and currency are required for Purchase")
        }
        return nil
    }

    /// 64 lowercase hex digits. Read as contiguous bytes: walking `String.utf8` byte by byte was
    /// most of this check's time in a profile of the forwarder benchmark (ten digests per event).
    static func isLowercaseDigest(_ value: JSONValue) -> Bool {
        guard case .string(var text) = value else { return false }
        return text.withUTF8 { bytes in
            bytes.count == 64 && bytes.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        }
    }
}
