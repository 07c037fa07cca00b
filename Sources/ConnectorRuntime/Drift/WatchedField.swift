/// The fields whose presence the drift monitor counts: what Meta needs to accept an event, and the
/// match keys attribution depends on.
public enum WatchedField: Int, CaseIterable, Sendable {
    case eventID, eventName, eventTime, actionSource, eventSourceURL, clientUserAgent, value, currency
    case em, ph, externalID, fbp, fbc, clientIPAddress

    public var name: String {
        switch self {
        case .eventID: "event_id"
        case .eventName: "event_name"
        case .eventTime: "event_time"
        case .actionSource: "action_source"
        case .eventSourceURL: "event_source_url"
        case .clientUserAgent: "client_user_agent"
        case .value: "value"
        case .currency: "currency"
        case .em: "em"
        case .ph: "ph"
        case .externalID: "external_id"
        case .fbp: "fbp"
        case .fbc: "fbc"
        case .clientIPAddress: "client_ip_address"
        }
    }

    /// A required field's absence is an alarm as soon as it is seen; a match key's is a coverage drop.
    public var isMatchKey: Bool { rawValue >= WatchedField.em.rawValue }

    /// When the field applies: `event_source_url` and `client_user_agent` to website events,
    /// `value` and `currency` to purchases, match keys and the core fields to every event.
    public enum Scope: Sendable { case every, website, purchase }

    public var scope: Scope {
        switch self {
        case .eventSourceURL, .clientUserAgent: .website
        case .value, .currency: .purchase
        default: .every
        }
    }
}

/// Value shapes that break attribution quietly.
public enum FormatFlag: Int, CaseIterable, Sendable {
    /// `event_time` at or above Meta's milliseconds threshold.
    case eventTimeMilliseconds
    /// `custom_data.value` sent as a string.
    case valueAsString
    /// `custom_data.currency` not three ASCII letters (a symbol, a name).
    case currencyShape

    public var name: String {
        switch self {
        case .eventTimeMilliseconds: "event_time_milliseconds"
        case .valueAsString: "value_as_string"
        case .currencyShape: "currency_shape"
        }
    }
}
