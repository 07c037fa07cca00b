/// Validates a mirrored server event and turns it into the event Meta receives.
///
/// Every problem is collected (a sender fixes them all in one go), each named by field path and
/// never echoing a value. Personal data is normalized and hashed here, in memory; values that
/// cannot be made valid are dropped with a warning naming the key, and the event goes on.
public enum EventPreparer {
    /// Meta's server-event parameters; anything else is dropped with a warning (an unknown field
    /// may hold anything, personal data included, and Meta would ignore it anyway).
    public static let knownFields: Set<String> = [
        "event_name", "event_time", "event_id", "event_source_url", "opt_out", "action_source", "user_data",
        "custom_data", "app_data", "data_processing_options", "data_processing_options_country",
        "data_processing_options_state", "referrer_url", "customer_segmentation", "original_event_data",
        "attribution_data", "messaging_channel", "pixel_id",
    ]

    /// - Parameter pixelID: the pixel from the request path (Graph-compatible route); otherwise the
    ///   event's own `pixel_id` is required.
    public static func prepare(_ raw: JSONValue, pixelID: String? = nil, policy: EventPolicy) -> Result<PreparedEvent, EventRejection> {
        guard case .object(let fields) = raw else {
            return .failure(
                EventRejection(problems: [EventProblem(field: "event", code: .invalidType, message: "must be a JSON object, found \(raw.typeName)")])
            )
        }
        var check = Checker()
        // Rebuilding the dictionary rehashes every key; only an event with unknown fields needs it.
        let hasUnknownFields = !fields.keys.allSatisfy(knownFields.contains)
        var payload = hasUnknownFields ? fields.filter { knownFields.contains($0.key) } : fields
        payload["pixel_id"] = nil
        // Raw personal values: `user_data` goes on as ``PreparedUserData``'s text.
        payload["user_data"] = nil
        check.lengths(fields)

        let pixel = check.pixelID(fields["pixel_id"], fromPath: pixelID)
        let eventName = check.requiredString(fields["event_name"], "event_name")
        let eventID = check.identifier(fields["event_id"], "event_id")
        let actionSource = check.actionSource(fields["action_source"])
        let eventTime = check.eventTime(fields["event_time"], actionSource: actionSource, policy: policy)
        if let eventID { payload["event_id"] = .string(eventID) }
        if let eventTime { payload["event_time"] = .integer(eventTime) }

        var userData: PreparedUserData?
        if let given = fields["user_data"] {
            userData = check.userData(given, policy: policy)
        } else {
            check.problem("user_data", .missing, "is required: Meta matches events to people through it")
        }
        for field in ["event_source_url", "referrer_url"] {
            guard case .string(let url)? = fields[field] else { continue }
            let scrubbed = URLScrubber.scrub(url)
            guard !scrubbed.removed.isEmpty else { continue }
            payload[field] = .string(scrubbed.url)
            check.warnings.append("\(field): masked personal data (\(scrubbed.removed.joined(separator: ", ")))")
        }
        if let custom = fields["custom_data"], case .object = custom {
            payload["custom_data"] = check.withoutPersonalData(custom, path: "custom_data")
        }
        check.requirementsOf(actionSource, fields: fields, userDataKeys: userData?.keys ?? [])
        check.customData(fields["custom_data"], eventName: eventName)
        check.privacy(fields)
        check.optionalBool(fields["opt_out"], "opt_out")
        for name in hasUnknownFields ? fields.keys.filter({ !knownFields.contains($0) }).sorted() : [] {
            check.warnings.append("\(Checker.safeName(name)): not a Meta server-event parameter; not forwarded")
        }

        check.problems.sort { $0.field < $1.field }
        check.warnings.sort()
        guard check.problems.isEmpty, let pixel, let eventName, let eventID, let eventTime, let actionSource, let userData else {
            return .failure(EventRejection(problems: check.problems))
        }
        return .success(
            PreparedEvent(
                pixelID: pixel,
                eventID: eventID,
                eventName: eventName,
                eventTime: eventTime,
                actionSource: actionSource,
                fields: payload,
                userData: userData,
                warnings: check.warnings
            )
        )
    }
}
