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
            lengths(value, path: Self.safeName(name))
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
            for (name, element) in object where Self.holdsOverlongString(element) { lengths(element, path: "\(path).\(Self.safeName(name))") }
        default:
            break
        }
    }

    /// A `custom_data` key that is dropped with its value, whatever the value.
    private static func isPersonalKey(_ name: String) -> Bool {
        PersonalData.isPersonalName(name) || PersonalData.looksPersonal(name)
    }

    /// Whether ``withoutPersonalData(_:path:)`` would drop anything from `value`.
    private static func holdsPersonalData(_ value: JSONValue) -> Bool {
        switch value {
        case .object(let object):
            object.contains { name, element in isPersonalKey(name) || holdsPersonalData(element) }
        case .array(let elements): elements.contains(where: holdsPersonalData)
        case .string(let text): PersonalData.looksPersonal(text)
        default: false
        }
    }

    /// `custom_data` without personal data: keys named like personal fields and values shaped like
    /// an email or phone number are dropped with a warning naming the key (never the value). Meta
    /// hashes nothing in `custom_data`, so whatever is left there reaches it raw.
    mutating func withoutPersonalData(_ value: JSONValue, path: String) -> JSONValue {
        // Nearly always nothing is dropped: then the value is kept as it is, not rebuilt.
        guard Self.holdsPersonalData(value) else { return value }
        switch value {
        case .object(let object):
            var kept: JSONObject = [:]
            kept.reserveCapacity(object.count)
            for (name, element) in object {
                if Self.isPersonalKey(name) {
                    warnings.append(
                        "\(path).\(Self.safeName(name)): personal data is not sent in custom_data (put it in user_data, where it is hashed); dropped"
                    )
                    continue
                }
                switch element {
                case .string(let text) where PersonalData.looksPersonal(text):
                    warnings.append("\(path).\(Self.safeName(name)): looks like an email address or phone number; dropped")
                case .object, .array:
                    kept[name] = withoutPersonalData(element, path: "\(path).\(Self.safeName(name))")
                default:
                    kept[name] = element
                }
            }
            return .object(kept)
        case .array(let elements):
            var kept: [JSONValue] = []
            kept.reserveCapacity(elements.count)
            for (index, element) in elements.enumerated() {
                switch element {
                case .string(let text) where PersonalData.looksPersonal(text):
                    warnings.append("\(path)[\(index)]: looks like an email address or phone number; dropped")
                case .object, .array:
                    kept.append(withoutPersonalData(element, path: "\(path)[\(index)]"))
                default:
                    kept.append(element)
                }
            }
            return .array(kept)
        default:
            return value
        }
    }

    /// A field name fit for answers and logs: names shaped like personal data are masked and long
    /// names shortened, since a sender controls them.
    static func safeName(_ name: String) -> String {
        if PersonalData.looksPersonal(name) { return "<redacted>" }
        guard name.utf8.count > 64 else { return name }
        return String(name.unicodeScalars.prefix(32).map(Character.init)) + "…"
    }
}
