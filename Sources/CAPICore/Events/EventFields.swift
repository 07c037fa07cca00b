/// Meta's server-event parameters. Anything else is dropped with a warning: an unknown field may
/// hold anything, personal data included, and Meta would ignore it anyway.
enum EventField: Int, CaseIterable {
    case eventName, eventTime, eventID, eventSourceURL, optOut, actionSource, userData, customData, appData
    case dataProcessingOptions, dataProcessingOptionsCountry, dataProcessingOptionsState, referrerURL
    case customerSegmentation, originalEventData, attributionData, messagingChannel, pixelID, testEventCode
    case advancedMeasurementTable

    var name: String {
        switch self {
        case .eventName: "event_name"
        case .eventTime: "event_time"
        case .eventID: "event_id"
        case .eventSourceURL: "event_source_url"
        case .optOut: "opt_out"
        case .actionSource: "action_source"
        case .userData: "user_data"
        case .customData: "custom_data"
        case .appData: "app_data"
        case .dataProcessingOptions: "data_processing_options"
        case .dataProcessingOptionsCountry: "data_processing_options_country"
        case .dataProcessingOptionsState: "data_processing_options_state"
        case .referrerURL: "referrer_url"
        case .customerSegmentation: "customer_segmentation"
        case .originalEventData: "original_event_data"
        case .attributionData: "attribution_data"
        case .messagingChannel: "messaging_channel"
        case .pixelID: "pixel_id"
        case .testEventCode: "test_event_code"
        case .advancedMeasurementTable: "advanced_measurement_table"
        }
    }

    /// Whether the field goes into the payload as given: `pixel_id` is sent in the request path,
    /// `test_event_code` beside `data` (a mirrored event names the code its request to Meta had),
    /// and `user_data` as ``PreparedUserData``'s text.
    var isSentAsGiven: Bool { self != .pixelID && self != .userData && self != .testEventCode }

    /// The fields sent as given whose content is the sender's to shape: each may hold personal
    /// data, which ``Checker/withoutPersonalData(_:path:keepingPositions:)`` drops.
    static let freeForm: [EventField] = [
        .customData, .appData, .originalEventData, .attributionData, .customerSegmentation, .messagingChannel, .advancedMeasurementTable,
    ]

    /// Names are lowercase ASCII and `_`, which no other spelling is canonically equivalent to: a
    /// byte comparison finds exactly what `String`'s `==` would.
    static let byName = FieldNameTable(allCases.map { ($0.name, $0) })
}

/// An event's members, each known field's position found in one pass over the names.
///
/// The checks read about fifteen fields, several of them twice; each read was a search of the
/// members by name. Now each name is looked up once, and a field is read from its slot.
struct EventFields {
    let object: JSONObject
    /// Each field's position in `object.members`, or -1.
    private let positions: InlineArray<20, Int>
    let hasUnknownFields: Bool

    /// The slot count of `positions`, checked against `EventField.allCases` by a test.
    static let slotCount = InlineArray<20, Int>.count

    /// Reads `object`'s names; answers the fields with the members sent as given.
    static func read(_ object: JSONObject) -> (fields: EventFields, payload: JSONObject) {
        var positions = InlineArray<20, Int>(repeating: -1)
        var hasUnknownFields = false
        var position = 0
        let payload = object.filter { member in
            defer { position += 1 }
            guard let field = EventField.byName.value(for: member.key) else {
                hasUnknownFields = true
                return false
            }
            positions[field.rawValue] = position
            return field.isSentAsGiven
        }
        return (EventFields(object: object, positions: positions, hasUnknownFields: hasUnknownFields), payload)
    }

    subscript(field: EventField) -> JSONValue? {
        let position = positions[field.rawValue]
        return position < 0 ? nil : object.members[position].value
    }
}
