/// The collecting half of ``EventPreparer``: each method checks one part and records problems.
struct Checker {
    var problems: [EventProblem] = []
    var warnings: [String] = []
    /// `user_data` values dropped, as field path and reason: what a refusal for having no customer
    /// information left explains itself with.
    var droppedUserData: [String] = []

    mutating func problem(_ field: String, _ code: EventProblem.Code, _ message: String) {
        problems.append(EventProblem(field: field, code: code, message: message))
    }

    mutating func pixelID(_ value: JSONValue?, fromPath: String?) -> String? {
        if let fromPath {
            if let value, value != .null, identifierText(value) != fromPath {
                problem("pixel_id", .invalidValue, "differs from the pixel in the request path")
                return nil
            }
            return fromPath
        }
        guard let value, value != .null else {
            problem("pixel_id", .missing, "is required")
            return nil
        }
        guard let text = identifierText(value), !text.isEmpty, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            problem("pixel_id", .invalidValue, "must be a numeric pixel (dataset) id")
            return nil
        }
        return text
    }

    /// A mirrored event's `test_event_code`: absent, `null` or empty is none.
    mutating func testEventCode(_ value: JSONValue?) -> String? {
        switch value {
        case nil, .null?, .string("")?: return nil
        case .string(let code)? where TestEventCode.isValid(code): return code
        default:
            problem("test_event_code", .invalidValue, TestEventCode.expected)
            return nil
        }
    }

    func identifierText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): String(TextFolding.trimmed(text))
        case .integer(let number): String(number)
        default: nil
        }
    }

    mutating func optionalString(_ value: JSONValue?, _ field: String) {
        switch value {
        case nil, .null?, .string?: break
        case let value?: problem(field, .invalidType, "must be a string, found \(value.typeName)")
        }
    }

    mutating func optionalBool(_ value: JSONValue?, _ field: String) {
        switch value {
        case nil, .null?, .bool?: break
        default: problem(field, .invalidType, "must be true or false")
        }
    }

    mutating func requiredString(_ value: JSONValue?, _ field: String) -> String? {
        guard let value, value != .null else {
            problem(field, .missing, "is required")
            return nil
        }
        guard case .string(let text) = value else {
            problem(field, .invalidType, "must be a string, found \(value.typeName)")
            return nil
        }
        let trimmed = String(TextFolding.trimmed(text))
        guard !trimmed.isEmpty else {
            problem(field, .missing, "must not be empty")
            return nil
        }
        return trimmed
    }

    mutating func identifier(_ value: JSONValue?, _ field: String) -> String? {
        guard let value, value != .null else {
            problem(field, .missing, "is required: it is the de-duplication key with pixel_id and event_time")
            return nil
        }
        guard let text = identifierText(value) else {
            problem(field, .invalidType, "must be a string, found \(value.typeName)")
            return nil
        }
        guard !text.isEmpty, text.utf8.count <= 512 else {
            problem(field, .invalidValue, "must be 1 to 512 bytes long")
            return nil
        }
        return text
    }

    /// `event_id` and `event_name` cannot be dropped like a free-form value, and they are stored,
    /// logged and sent as given: one that holds an email address is refused. (Phone shapes are
    /// not: ids such as `2026-11-20-0001` are common and look like one.) So is one with a control
    /// character: PostgreSQL cannot store a NUL in the key's text column, so such an event failed
    /// its commit (503) however often it was sent, and the rest of its batch with it.
    mutating func sentAsGiven(_ text: String?, _ field: String) -> String? {
        guard let text else { return nil }
        if PersonalData.containsControlCharacter(text) {
            problem(field, .invalidValue, "holds a control character (U+0000 to U+001F or U+007F)")
            return nil
        }
        guard PersonalData.containsEmail(text) else { return text }
        problem(field, .invalidValue, "holds an email address; it is stored and sent unhashed, so it must not hold personal data")
        return nil
    }

    mutating func actionSource(_ value: JSONValue?) -> ActionSource? {
        guard let text = requiredString(value, "action_source") else { return nil }
        guard let source = ActionSource(rawValue: text) else {
            // One of them in another case (the text is trimmed already): named, since Meta refuses it too.
            let near = ActionSource(rawValue: text.lowercased()).map { "; values are lowercase: `\($0.rawValue)`" }
            problem("action_source", .invalidValue, "must be one of \(ActionSource.allCases.map(\.rawValue).joined(separator: ", "))" + (near ?? ""))
            return nil
        }
        return source
    }

    mutating func eventTime(_ value: JSONValue?, actionSource: ActionSource?, policy: EventPolicy) -> Int64? {
        guard let value, value != .null else {
            problem("event_time", .missing, "is required (Unix seconds)")
            return nil
        }
        let parsed: Int64? =
            switch value {
            case .integer(let number): number
            case .number(let number): Bounded.int64(exactly: number)
            case .string(let text): Bounded.digits(text, maxDigits: 16)
            default: nil
            }
        guard let seconds = parsed else {
            problem("event_time", .invalidType, "must be an integer number of Unix seconds")
            return nil
        }
        if seconds <= 0 {
            problem("event_time", .invalidValue, "must be a positive number of Unix seconds")
            return nil
        }
        if seconds >= MetaLimits.millisecondsThreshold {
            problem("event_time", .millisecondsTimestamp, "looks like milliseconds; Meta expects Unix seconds (divide by 1000)")
            return nil
        }
        let maximumAge = (actionSource ?? .website).maximumAge
        let age = Bounded.difference(policy.now.rawValue, seconds)
        if age > maximumAge {
            problem("event_time", .tooOld, "is more than \(maximumAge / 86_400) days in the past; Meta rejects the whole request for such an event")
            return nil
        }
        if age > maximumAge - MetaLimits.deliveryMarginSeconds {
            problem(
                "event_time",
                .tooOld,
                "is less than \(MetaLimits.deliveryMarginSeconds / 60) minutes from Meta's \(maximumAge / 86_400)-day limit: too late to reach Meta"
            )
            return nil
        }
        if Bounded.difference(seconds, policy.now.rawValue) > policy.maxFutureSkew.components.seconds {
            problem("event_time", .inFuture, "is more than \(policy.maxFutureSkew.components.seconds) seconds in the future")
            return nil
        }
        return seconds
    }

    mutating func requirementsOf(_ source: ActionSource?, fields: EventFields, userData: PreparedUserData?) {
        switch source {
        case .website:
            switch fields[.eventSourceURL] {
            case nil, .null?: problem("event_source_url", .missing, "is required when action_source is website")
            case .string(let url)? where url.hasPrefix("http://") || url.hasPrefix("https://"): break
            default: problem("event_source_url", .invalidValue, "must be an http(s) URL")
            }
            // Not when the value given was itself refused: that problem already names the key.
            if let userData, !userData.contains(.clientUserAgent),
                !problems.contains(where: { $0.field.hasPrefix("user_data.client_user_agent") || $0.field.hasPrefix("user_data.user_agent") })
            {
                problem("user_data.client_user_agent", .missing, "is required when action_source is website")
            }
        case .app:
            appData(fields[.appData])
        default:
            break
        }
    }

    mutating func appData(_ value: JSONValue?) {
        guard let value, value != .null else {
            problem("app_data", .missing, "is required when action_source is app")
            return
        }
        guard case .object(let app) = value else {
            problem("app_data", .invalidType, "must be an object, found \(value.typeName)")
            return
        }
        switch app["advertiser_tracking_enabled"] {
        case .bool?, .integer(0)?, .integer(1)?: break
        case nil, .null?: problem("app_data.advertiser_tracking_enabled", .missing, "is required when action_source is app")
        default: problem("app_data.advertiser_tracking_enabled", .invalidType, "must be true, false, 0 or 1")
        }
        guard let extinfo = app["extinfo"], extinfo != .null else {
            problem("app_data.extinfo", .missing, "is required when action_source is app (16 strings, \"\" for unknown)")
            return
        }
        guard case .array(let slots) = extinfo, slots.count == 16, slots.allSatisfy(AppExtendedInfo.isSlot) else {
            problem("app_data.extinfo", .invalidValue, "must be an array of exactly 16 strings (\"\" for unknown; numbers and null are taken)")
            return
        }
        if let version = slots[0].stringValue, !["a2", "i2"].contains(version) {
            problem("app_data.extinfo[0]", .invalidValue, "must be a2 (Android) or i2 (iOS)")
        }
    }
}
