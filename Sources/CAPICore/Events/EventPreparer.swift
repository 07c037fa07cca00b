/// Validates a mirrored server event and turns it into the event Meta receives.
///
/// Every problem is collected (a sender fixes them all in one go), each named by field path and
/// never echoing a value. Personal data is normalized and hashed here, in memory; values that
/// cannot be made valid are dropped with a warning naming the key, and the event goes on.
public enum EventPreparer {
    /// Meta's server-event parameters; anything else is dropped with a warning.
    public static let knownFields: [String] = EventField.allCases.map(\.name)

    /// Whether `name` is one of ``knownFields``.
    public static func isKnownField(_ name: String) -> Bool { EventField.byName.contains(name) }

    /// - Parameter pixelID: the pixel from the request path (Graph-compatible route); otherwise the
    ///   event's own `pixel_id` is required.
    public static func prepare(_ raw: JSONValue, pixelID: String? = nil, policy: EventPolicy) -> Result<PreparedEvent, EventRejection> {
        guard case .object(let object) = raw else {
            return .failure(
                EventRejection(problems: [EventProblem(field: "event", code: .invalidType, message: "must be a JSON object, found \(raw.typeName)")])
            )
        }
        var check = Checker()
        // Each name looked up once; the payload built in the same pass, nothing removed afterwards.
        var (fields, payload) = EventFields.read(object)
        check.lengths(object)

        let pixel = check.pixelID(fields[.pixelID], fromPath: pixelID)
        let testEventCode = check.testEventCode(fields[.testEventCode])
        let eventName = check.sentAsGiven(check.requiredString(fields[.eventName], "event_name"), "event_name")
        if let eventName, let standard = StandardEvent.nearMiss(eventName) {
            check.warnings.append(
                "event_name: is sent as given, which Meta takes as a custom event, not its standard \(standard) (names are compared exactly): no \(standard) optimization, no deduplication with the pixel's \(standard)"
            )
        }
        let eventID = check.sentAsGiven(check.identifier(fields[.eventID], "event_id"), "event_id")
        let actionSource = check.actionSource(fields[.actionSource])
        let eventTime = check.eventTime(fields[.eventTime], actionSource: actionSource, policy: policy)
        if let eventID { payload["event_id"] = .string(eventID) }
        if let eventTime { payload["event_time"] = .integer(eventTime) }

        var userData: PreparedUserData?
        if let given = fields[.userData] {
            userData = check.userData(given, policy: policy)
        } else {
            check.problem("user_data", .missing, "is required: Meta matches events to people through it")
        }
        for field in [EventField.eventSourceURL, .referrerURL] {
            guard case .string(let url)? = fields[field] else { continue }
            let scrubbed = URLScrubber.scrub(url)
            guard !scrubbed.removed.isEmpty else { continue }
            payload[field.name] = .string(scrubbed.url)
            check.warnings.append("\(field.name): masked personal data (\(scrubbed.removed.joined(separator: ", ")))")
        }
        var customData = fields[.customData]
        if let given = customData, let coerced = CustomDataNumbers.coerced(given) {
            customData = coerced.value
            check.warnings.append(contentsOf: coerced.paths.map { "\($0): a number given as text; sent as a number" })
        }
        for field in EventField.freeForm {
            guard let given = field == .customData ? customData : fields[field] else { continue }
            if let kept = check.withoutPersonalData(given, path: field.name, keepingPositions: field == .appData) {
                payload[field.name] = field == .appData ? AppExtendedInfo.canonical(kept) : kept
            } else {
                payload.removeValue(forKey: field.name)
            }
        }
        check.requirementsOf(actionSource, fields: fields, userData: userData)
        check.customData(customData, eventName: eventName)
        check.privacy(fields)
        check.optionalBool(fields[.optOut], "opt_out")
        // The Advanced Measurement API's table name, an event field of Meta's SDK 26.0.3.
        check.optionalString(fields[.advancedMeasurementTable], "advanced_measurement_table")
        for name in fields.hasUnknownFields ? object.keys.filter({ !isKnownField($0) }).sorted() : [] {
            let meant = Spelling.closest(to: name, among: knownFields).map { " (did you mean `\($0)`?)" } ?? ""
            check.warnings.append("\(PersonalData.shown(name: name)): not a Meta server-event parameter; not forwarded" + meant)
        }

        check.problems.sort { $0.field < $1.field }
        check.warnings.sort()
        guard check.problems.isEmpty, let pixel, let eventName, let eventID, let eventTime, let actionSource, let userData else {
            return .failure(EventRejection(problems: check.problems, warnings: check.warnings))
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
                warnings: check.warnings,
                testEventCode: testEventCode
            )
        )
    }
}
