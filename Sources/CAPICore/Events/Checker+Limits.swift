extension Checker {
    /// Longest value accepted for a customer-information key (bytes); the user agent may be longer.
    static let maxUserDataBytes = 1024
    static let maxUserAgentBytes = 4096
    static let userAgentOrdinal = UserDataKey.clientUserAgent.ordinal
    /// Longest string accepted anywhere else in an event (URLs, names, custom properties).
    static let maxStringBytes = 8192

    /// Refuses over-long strings outside `user_data` (which ``userData(_:policy:)`` checks per key)
    /// before any work is done on them: no outside value is folded, hashed or stored at any length.
    /// Paths are only built for the problems found.
    mutating func lengths(_ fields: JSONObject) {
        for (name, value) in fields where name != "user_data" && Self.holdsOverlongString(value) {
            lengths(value, path: PersonalData.shown(name: name))
        }
    }

    private static func holdsOverlongString(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text): text.utf8.count > maxStringBytes
        case .array(let elements): elements.contains(where: holdsOverlongString)
        case .object(let object): object.contains { holdsOverlongString($0.value) }
        default: false
        }
    }

    private mutating func lengths(_ value: JSONValue, path: String) {
        switch value {
        case .string(let text) where text.utf8.count > Self.maxStringBytes:
            problem(path, .tooLong, "is longer than \(Self.maxStringBytes) bytes")
        case .array(let elements):
            for (index, element) in elements.enumerated() where Self.holdsOverlongString(element) { lengths(element, path: "\(path)[\(index)]") }
        case .object(let object):
            for (name, element) in object where Self.holdsOverlongString(element) {
                lengths(element, path: "\(path).\(PersonalData.shown(name: name))")
            }
        default:
            break
        }
    }

    /// A key that is dropped with its value, whatever the value.
    private static func isPersonalKey(_ name: String) -> Bool {
        PersonalData.isPersonalName(name) || PersonalData.looksPersonal(name)
    }

    /// Whether ``withoutPersonalData(_:path:keepingPositions:)`` would drop anything from `value`.
    private static func holdsPersonalData(_ value: JSONValue) -> Bool {
        switch value {
        case .object(let object):
            object.contains { name, element in isPersonalKey(name) || holdsPersonalData(element) }
        case .array(let elements): elements.contains(where: holdsPersonalData)
        case .string(let text): PersonalData.looksPersonal(text)
        default: false
        }
    }

    /// A field sent as given (`custom_data`, `app_data`, `original_event_data`, …) without personal
    /// data: keys named like personal fields and texts shaped like an email or phone number are
    /// dropped with a warning naming the path (never the value). Meta hashes nothing outside
    /// `user_data`, so whatever is left reaches it, and this connector's store, raw. `nil` when the
    /// value itself is such a text.
    ///
    /// - Parameter keepingPositions: arrays whose slots mean something by position (`extinfo`'s
    ///   16) keep the slot, emptied, instead of losing it.
    mutating func withoutPersonalData(_ value: JSONValue, path: String, keepingPositions: Bool = false) -> JSONValue? {
        // Nearly always nothing is dropped: then the value is kept as it is, not rebuilt.
        guard Self.holdsPersonalData(value) else { return value }
        return scrubbed(value, path: path, keepingPositions: keepingPositions, isSlot: false)
    }

    private mutating func scrubbed(_ value: JSONValue, path: String, keepingPositions: Bool, isSlot: Bool) -> JSONValue? {
        switch value {
        case .object(let object):
            var kept: JSONObject = [:]
            kept.reserveCapacity(object.count)
            for (name, element) in object {
                let elementPath = "\(path).\(PersonalData.shown(name: name))"
                if Self.isPersonalKey(name) {
                    warnings.append("\(elementPath): personal data is not sent outside user_data (put it in user_data, where it is hashed); dropped")
                } else if !Self.holdsPersonalData(element) {
                    kept[name] = element
                } else if let element = scrubbed(element, path: elementPath, keepingPositions: keepingPositions, isSlot: false) {
                    kept[name] = element
                }
            }
            return .object(kept)
        case .array(let elements):
            var kept: [JSONValue] = []
            kept.reserveCapacity(elements.count)
            for (index, element) in elements.enumerated() {
                if !Self.holdsPersonalData(element) {
                    kept.append(element)
                } else if let element = scrubbed(element, path: "\(path)[\(index)]", keepingPositions: keepingPositions, isSlot: keepingPositions) {
                    kept.append(element)
                } else if keepingPositions {
                    kept.append(.string(""))
                }
            }
            return .array(kept)
        case .string:
            warnings.append("\(path): looks like an email address or phone number; \(isSlot ? "sent as \"\"" : "dropped")")
            return nil
        default:
            return value
        }
    }
}
