extension Checker {
    /// `user_data` with every personal value normalized and hashed, aliases resolved, duplicates
    /// removed, written as text; its match keys in Meta's key order.
    mutating func userData(_ value: JSONValue, policy: EventPolicy) -> PreparedUserData {
        guard case .object(let given) = value else {
            problem("user_data", .invalidType, "must be an object, found \(value.typeName)")
            return PreparedUserData(text: "{}", keys: [], firstValues: [])
        }
        // Values per key in slots indexed by the key's position; a canonical name's values come
        // before its alias's, so the payload and its content hash never depend on dictionary order.
        var valuesByKey = [OneOrMore<String>?](repeating: nil, count: UserDataKey.all.count)
        // Allocated only when an alias is used.
        var aliasValues: [OneOrMore<String>?] = []
        var unknown: [String] = []
        for (name, value) in given {
            guard let entry = UserDataKey.byName[name] else {
                unknown.append(name)
                continue
            }
            let limit = entry.ordinal == Self.userAgentOrdinal ? Self.maxUserAgentBytes : Self.maxUserDataBytes
            guard let texts = texts(value, key: name, limit: limit) else { continue }
            if entry.isAlias {
                if aliasValues.isEmpty { aliasValues = [OneOrMore<String>?](repeating: nil, count: UserDataKey.all.count) }
                aliasValues[entry.ordinal] = texts
            } else {
                valuesByKey[entry.ordinal] = texts
            }
        }
        for name in unknown.sorted() {
            problem("user_data.\(Self.safeName(name))", .unknownField, "is not a Meta customer-information parameter")
        }
        for (ordinal, texts) in aliasValues.enumerated() {
            guard let texts else { continue }
            valuesByKey[ordinal] = valuesByKey[ordinal].map { .several($0.all + texts.all) } ?? texts
        }

        let country = personCountry(valuesByKey[Self.countryOrdinal]?.first, policy: policy)
        var keys: [String] = []
        keys.reserveCapacity(given.count)
        var firstValues: [SentValue] = []
        firstValues.reserveCapacity(given.count)
        // The values as sent, in the same slots.
        var sent = [OneOrMore<SentValue>?](repeating: nil, count: UserDataKey.all.count)
        for (ordinal, key) in UserDataKey.all.enumerated() {
            guard let given = valuesByKey[ordinal] else { continue }
            if case .several(let texts) = given, texts.count != 1 {
                if !key.isMultiValued && texts.count > 1 {
                    problem("user_data.\(key.rawValue)", .invalidValue, "takes a single value")
                    continue
                }
                // Several values (only multi-valued keys get here): kept once each, in the order given.
                var wire: [SentValue] = []
                wire.reserveCapacity(texts.count)
                for text in texts {
                    if let value = sentValue(key, text, country: country, policy: policy), !wire.contains(value) { wire.append(value) }
                }
                guard let first = wire.first else { continue }
                sent[ordinal] = wire.count == 1 ? .one(first) : .several(wire)
                firstValues.append(first)
            } else {
                // The usual case, one value (alone or as a one-element array): no list to collect it in.
                guard let text = given.first, let value = sentValue(key, text, country: country, policy: policy) else { continue }
                sent[ordinal] = .one(value)
                firstValues.append(value)
            }
            keys.append(key.rawValue)
        }
        if keys.isEmpty && problems.allSatisfy({ !$0.field.hasPrefix("user_data") }) {
            problem("user_data", .noCustomerInformation, "has no usable customer information after normalization")
        }
        // Written in the sorted key order a JSON object is serialized in.
        var text = JSONObjectText(capacity: 96 * keys.count)
        for ordinal in Self.ordinalsByName {
            guard let values = sent[ordinal] else { continue }
            let key = UserDataKey.all[ordinal]
            text.addWritten(key.rawValue) { output in
                switch values {
                case .one(let value) where !key.isMultiValued: value.write(into: &output)
                case .one(let value):
                    output.append(UInt8(ascii: "["))
                    value.write(into: &output)
                    output.append(UInt8(ascii: "]"))
                case .several(let values):
                    output.append(UInt8(ascii: "["))
                    for (index, value) in values.enumerated() {
                        if index > 0 { output.append(UInt8(ascii: ",")) }
                        value.write(into: &output)
                    }
                    output.append(UInt8(ascii: "]"))
                }
            }
        }
        return PreparedUserData(text: text.finish(), keys: keys, firstValues: firstValues)
    }

    /// Key positions in the order of their names (`String`'s `<`, as objects are serialized).
    private static let ordinalsByName = UserDataKey.all.indices.sorted { UserDataKey.all[$0].rawValue < UserDataKey.all[$1].rawValue }
    private static let countryOrdinal = UserDataKey.country.ordinal

    /// A value's strings: a string, a number, or an array of them. `null` means absent.
    /// Strings over `limit` bytes are refused before any normalization work is spent on them.
    /// The field's path is built only for a problem.
    private mutating func texts(_ value: JSONValue, key: String, limit: Int) -> OneOrMore<String>? {
        var field: String { "user_data.\(key)" }
        switch value {
        case .null: return nil
        case .string(let text):
            guard text.utf8.count <= limit else {
                problem(field, .tooLong, "is longer than \(limit) bytes")
                return nil
            }
            return .one(text)
        case .integer(let number): return .one(String(number))
        case .array(let elements):
            var texts: [String] = []
            for (index, element) in elements.enumerated() {
                switch element {
                case .string(let text) where text.utf8.count > limit:
                    problem("\(field)[\(index)]", .tooLong, "is longer than \(limit) bytes")
                    return nil
                case .string(let text): texts.append(text)
                case .integer(let number): texts.append(String(number))
                case .null: continue
                default:
                    problem("\(field)[\(index)]", .invalidType, "must be a string, found \(element.typeName)")
                    return nil
                }
            }
            return .several(texts)
        default:
            problem(field, .invalidType, "must be a string or an array of strings, found \(value.typeName)")
            return nil
        }
    }

    /// The person's country for phone and postcode rules: `user_data.country` when readable, else the pixel's default.
    private func personCountry(_ first: String?, policy: EventPolicy) -> String? {
        if let first, HexDigest(hex: TextFolding.trimmed(first).utf8) == nil,
            let code = CountryCodes.alpha2(for: first)
        {
            return code
        }
        return policy.defaultCountry
    }

    /// One value as sent to Meta, or `nil` with a warning naming the key (never the value).
    private mutating func sentValue(_ key: UserDataKey, _ text: String, country: String?, policy: EventPolicy) -> SentValue? {
        switch prepare(key, text, country: country, policy: policy) {
        case .success(let value): return value
        case .failure(let issue):
            warnings.append("user_data.\(key.rawValue): \(issue.reason); dropped")
            return nil
        }
    }

    /// One value as sent to Meta, or why it is dropped (no value in the reason).
    private func prepare(_ key: UserDataKey, _ text: String, country: String?, policy: EventPolicy) -> Result<SentValue, NormalizationIssue> {
        guard !key.isHashed else {
            return policy.normalizer.normalize(key, text, country: country).map { normalized in
                switch normalized {
                case .hashed(_, let digest), .digest(let digest): .digest(digest)
                case .passthrough(let text): .text(text)
                }
            }
        }
        let trimmed = String(TextFolding.trimmed(text))
        guard !trimmed.isEmpty else { return .failure(NormalizationIssue(key: key.rawValue, reason: "is empty")) }
        switch key {
        case .clientIPAddress where !NetworkAddress.isValid(trimmed):
            return .failure(NormalizationIssue(key: key.rawValue, reason: "is not an IPv4 or IPv6 address"))
        case .fbc where !ClickIdentifiers.isValidFBC(trimmed):
            return .failure(NormalizationIssue(key: key.rawValue, reason: "is not fb.<subdomain>.<creation ms>.<fbclid>"))
        case .fbp where !ClickIdentifiers.isValidFBP(trimmed):
            return .failure(NormalizationIssue(key: key.rawValue, reason: "is not fb.<subdomain>.<creation ms>.<random>"))
        default:
            return .success(.text(trimmed))
        }
    }
}

/// One key's values. Nearly always a single one, which then needs no array of its own: an array
/// per key was a quarter of the allocations of every event (`perf` on `malloc`).
private enum OneOrMore<Element> {
    case one(Element)
    /// An array's elements, `null` left out: zero, one or more.
    case several([Element])

    var all: [Element] {
        switch self {
        case .one(let element): [element]
        case .several(let elements): elements
        }
    }

    var first: Element? {
        switch self {
        case .one(let element): element
        case .several(let elements): elements.first
        }
    }
}

/// Shapes of Meta's browser identifiers, from the `_fbc` and `_fbp` cookies.
public enum ClickIdentifiers {
    /// `fb.<subdomain index>.<creation time ms>.<fbclid>`; the fbclid may itself contain dots.
    public static func isValidFBC(_ value: String) -> Bool {
        withRest(of: value) { !$0.isEmpty } ?? false
    }

    /// `fb.<subdomain index>.<creation time ms>.<random>` with an optional fifth segment.
    public static func isValidFBP(_ value: String) -> Bool {
        withRest(of: value) { rest in
            guard let first = rest.first, let last = rest.last else { return false }
            let dots = rest.reduce(0) { $0 + ($1 == UInt8(ascii: ".") ? 1 : 0) }
            return dots <= 1 && first != UInt8(ascii: ".") && last != UInt8(ascii: ".")
        } ?? false
    }

    /// `body` applied to the bytes after `fb.<digits>.<digits>.`; `nil` when the prefix does not
    /// match. Read in place: every browser event carries one of these.
    private static func withRest(of value: String, _ body: (Slice<UnsafeBufferPointer<UInt8>>) -> Bool) -> Bool? {
        var value = value
        return value.withUTF8 { bytes in
            guard bytes.count >= 3, bytes[0] == UInt8(ascii: "f"), bytes[1] == UInt8(ascii: "b"), bytes[2] == UInt8(ascii: ".") else {
                return nil
            }
            var index = 3
            for _ in 0..<2 {
                let start = index
                while index < bytes.count, ASCIIBytes.isDigit(bytes[index]) { index += 1 }
                guard index > start, index < bytes.count, bytes[index] == UInt8(ascii: ".") else { return nil }
                index += 1
            }
            return body(bytes[index...])
        }
    }
}
