import CAPICore

/// What one incoming event shows the drift monitor, taken from the raw JSON before validation
/// (refused events count too: most breakage shows up as refusals). Values are never kept: only
/// which fields were present, which applied, and a few shape flags.
public struct DriftObservation: Sendable, Equatable {
    public var present: UInt32 = 0
    public var applicable: UInt32 = 0
    public var formats: UInt8 = 0
    /// `code:field` of the first problem when the event was refused (fields are paths, never values).
    public var refusal: String?
    /// Labels (``UnknownFieldLabel``) of fields no schema knows, at most ``maximumUnknownFields``:
    /// empty, and so without allocation, for every event that sends only known fields.
    public var unknownFields: [String] = []

    public static let maximumUnknownFields = 4

    public init() {}

    public func has(_ field: WatchedField) -> Bool { present & (1 << field.rawValue) != 0 }
    public func applies(_ field: WatchedField) -> Bool { applicable & (1 << field.rawValue) != 0 }
    public func flagged(_ flag: FormatFlag) -> Bool { formats & (1 << flag.rawValue) != 0 }

    /// O(fields of the event), no allocation beyond the refusal text and unknown-field labels.
    public static func observe(_ event: JSONValue, problems: [EventProblem]?) -> DriftObservation {
        var observation = DriftObservation()
        guard case .object(let fields) = event else { return observation }
        let website = fields["action_source"]?.stringValue == "website"
        let purchase = fields["event_name"]?.stringValue == "Purchase"
        for field in WatchedField.allCases {
            switch field.scope {
            case .every: observation.applicable |= 1 << field.rawValue
            case .website: if website { observation.applicable |= 1 << field.rawValue }
            case .purchase: if purchase { observation.applicable |= 1 << field.rawValue }
            }
        }
        func mark(_ field: WatchedField, _ value: JSONValue?) {
            guard let value, Self.isPresent(value) else { return }
            observation.present |= 1 << field.rawValue
        }
        mark(.eventID, fields["event_id"])
        mark(.eventName, fields["event_name"])
        mark(.eventTime, fields["event_time"])
        mark(.actionSource, fields["action_source"])
        mark(.eventSourceURL, fields["event_source_url"])
        func unknown(_ container: String, _ name: String) {
            guard observation.unknownFields.count < maximumUnknownFields else { return }
            observation.unknownFields.append(UnknownFieldLabel.label(container: container, name: name))
        }
        for member in fields where !EventPreparer.isKnownField(member.key) { unknown("event", member.key) }
        if case .object(let user)? = fields["user_data"] {
            for (name, value) in user {
                switch UserDataKey(name: name) {
                case .email?: mark(.em, value)
                case .phone?: mark(.ph, value)
                case .externalID?: mark(.externalID, value)
                case .fbp?: mark(.fbp, value)
                case .fbc?: mark(.fbc, value)
                case .clientIPAddress?: mark(.clientIPAddress, value)
                case .clientUserAgent?: mark(.clientUserAgent, value)
                case nil: unknown("user_data", name)
                default: break
                }
            }
        }
        if case .object(let custom)? = fields["custom_data"] {
            mark(.value, custom["value"])
            mark(.currency, custom["currency"])
            if case .string? = custom["value"] { observation.formats |= 1 << FormatFlag.valueAsString.rawValue }
            if case .string(let currency)? = custom["currency"], !Self.isCurrencyShaped(currency) {
                observation.formats |= 1 << FormatFlag.currencyShape.rawValue
            }
        }
        switch fields["event_time"] {
        case .integer(let time)? where time >= MetaLimits.millisecondsThreshold:
            observation.formats |= 1 << FormatFlag.eventTimeMilliseconds.rawValue
        case .number(let time)? where time >= Double(MetaLimits.millisecondsThreshold):
            observation.formats |= 1 << FormatFlag.eventTimeMilliseconds.rawValue
        default: break
        }
        if let problem = problems?.first { observation.refusal = refusalKey(problem) }
        return observation
    }

    /// `code:field`; for an unknown field only its container, since the name itself is counted
    /// (as a label) among the unknown fields.
    static func refusalKey(_ problem: EventProblem) -> String {
        let field = safeField(problem.field)
        guard problem.code == .unknownField else { return "\(problem.code.rawValue):\(field)" }
        let container = field.firstIndex(of: ".").map { String(field[..<$0]) } ?? "event"
        return "\(problem.code.rawValue):\(container)"
    }

    static func isPresent(_ value: JSONValue) -> Bool {
        switch value {
        case .null: false
        case .string(let text): !text.isEmpty
        case .array(let items): items.contains { isPresent($0) }
        default: true
        }
    }

    static func isCurrencyShaped(_ text: String) -> Bool {
        text.utf8.count == 3 && text.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
    }

    /// A problem's field path without array indexes (`user_data.em[3]` → `user_data.em`), so the
    /// refusal keys stay few; paths are the connector's own names or field names it reported.
    static func safeField(_ field: String) -> String {
        guard let bracket = field.firstIndex(of: "[") else { return field }
        return String(field[..<bracket])
    }
}
