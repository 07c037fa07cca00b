extension Checker {
    /// `user_data` with every personal value normalized and hashed, aliases resolved, duplicates
    /// removed, written as text; its match keys in Meta's key order.
    mutating func userData(_ value: JSONValue, policy: EventPolicy) -> PreparedUserData {
        guard case .object(let given) = value else {
            problem("user_data", .invalidType, "must be an object, found \(value.typeName)")
            return PreparedUserData(textBytes: Array("{}".utf8), firstValues: [], present: 0)
        }
        // Values per key in slots indexed by the key's position; a canonical name's values come
        // before its alias's, so the payload and its content hash never depend on dictionary order.
        var valuesByKey = KeySlots<GivenTexts>(repeating: .absent)
        // Aliases are rare: a list, allocated only when one is used. Each alias names its own key.
        var aliasValues: [(ordinal: Int, texts: GivenTexts)] = []
        var unknown: [String] = []
        for (name, value) in given {
            guard let entry = UserDataKey.byName.value(for: name) else {
                unknown.append(name)
                continue
            }
            let limit = entry.ordinal == Self.userAgentOrdinal ? Self.maxUserAgentBytes : Self.maxUserDataBytes
            let texts = texts(value, key: name, limit: limit)
            if case .absent = texts { continue }
            if entry.isAlias {
                aliasValues.append((entry.ordinal, texts))
            } else {
                valuesByKey[entry.ordinal] = texts
            }
        }
        for name in unknown.sorted() {
            let meant = Spelling.closest(to: name, among: UserDataKey.acceptedNames).map { "; did you mean `\($0)`?" } ?? ""
            problem("user_data.\(PersonalData.shown(name: name))", .unknownField, "is not a Meta customer-information parameter" + meant)
        }
        for (ordinal, texts) in aliasValues {
            if case .absent = valuesByKey[ordinal] {
                valuesByKey[ordinal] = texts
            } else {
                valuesByKey[ordinal] = .several(valuesByKey[ordinal].all + texts.all)
            }
        }

        // The person's country decides the phone and postcode rules, so `country` is normalized
        // before the others. Its canonical text is the alpha-2 code, and the result is used again
        // when the key's own turn comes: one normalization, not a second lookup by name.
        let firstCountry = valuesByKey[Self.countryOrdinal].first.map { policy.normalizer.canonicalValue(.country, $0) }
        let country: String? =
            if case .success(.canonical(let code))? = firstCountry { code } else { policy.defaultCountry }
        var present: UInt32 = 0
        // The values as sent, in Meta's key order, each key's together; a slot per key says where.
        var sentValues: [SentValue] = []
        sentValues.reserveCapacity(given.count)
        var sentSpans = KeySlots<Range<Int>>(repeating: 0..<0)
        for (ordinal, key) in UserDataKey.all.enumerated() {
            let given = valuesByKey[ordinal]
            if case .absent = given { continue }
            let start = sentValues.count
            // The country's first value was normalized above.
            let knownFirst = ordinal == Self.countryOrdinal ? firstCountry : nil
            if case .several(let texts) = given, texts.count != 1 {
                if !key.isMultiValued && texts.count > 1 {
                    problem("user_data.\(key.rawValue)", .invalidValue, "takes a single value")
                    continue
                }
                // Several values (only multi-valued keys get here): kept once each, in the order given.
                // Hashed at once, so duplicates are found by their digests.
                for (index, text) in texts.enumerated() {
                    let known = index == 0 ? knownFirst : nil
                    if let value = sentValue(key, text, country: country, policy: policy, known: known)?.hashedAlone,
                        !sentValues[start...].contains(value)
                    {
                        sentValues.append(value)
                    }
                }
            } else if let text = given.first, let value = sentValue(key, text, country: country, policy: policy, known: knownFirst) {
                // The usual case, one value (alone or as a one-element array).
                sentValues.append(value)
            }
            guard sentValues.count > start else { continue }
            sentSpans[ordinal] = start..<sentValues.count
            present |= 1 << ordinal
        }
        SentValue.hashInPairs(&sentValues)
        let keyCount = present.nonzeroBitCount
        // One value per key, the usual case: the values are the first values, shared, not copied.
        var firstValues = sentValues
        if sentValues.count != keyCount {
            firstValues = []
            firstValues.reserveCapacity(keyCount)
            for ordinal in UserDataKey.all.indices where !sentSpans[ordinal].isEmpty { firstValues.append(sentValues[sentSpans[ordinal].lowerBound]) }
        }
        if keyCount == 0 && problems.allSatisfy({ !$0.field.hasPrefix("user_data") }) {
            // The values dropped are why there is nothing left: the sender learns which and why
            // here, where a client reading only the problem (Meta's error shape) sees it too.
            let because = droppedUserData.isEmpty ? "" : "; dropped " + droppedUserData.joined(separator: "; ")
            problem("user_data", .noCustomerInformation, "has no usable customer information after normalization" + because)
        }
        // Written in the sorted key order a JSON object is serialized in.
        var text = JSONObjectText(capacity: 96 * keyCount)
        for ordinal in Self.ordinalsByName {
            let span = sentSpans[ordinal]
            guard !span.isEmpty else { continue }
            let key = UserDataKey.all[ordinal]
            text.addWritten(key.rawValue) { output in
                // Only multi-valued keys are lists, even of one value.
                if !key.isMultiValued {
                    sentValues[span.lowerBound].write(into: &output)
                    return
                }
                output.append(UInt8(ascii: "["))
                for index in span {
                    if index > span.lowerBound { output.append(UInt8(ascii: ",")) }
                    sentValues[index].write(into: &output)
                }
                output.append(UInt8(ascii: "]"))
            }
        }
        return PreparedUserData(textBytes: text.finishedBytes(), firstValues: firstValues, present: present)
    }

    /// Key positions in the order of their names (`String`'s `<`, as objects are serialized).
    private static let ordinalsByName = UserDataKey.all.indices.sorted { UserDataKey.all[$0].rawValue < UserDataKey.all[$1].rawValue }
    private static let countryOrdinal = UserDataKey.country.ordinal

    /// A refused value's type; a number that is not whole is told apart, since whole numbers are taken.
    private static func described(_ value: JSONValue) -> String {
        if case .number = value { return UserDataKey.fractionalNumber }
        return value.typeName
    }

    /// A value's strings: a string, a whole number, or an array of them. `null` means absent.
    /// Strings over `limit` bytes are refused before any normalization work is spent on them.
    /// The field's path is built only for a problem.
    private mutating func texts(_ value: JSONValue, key: String, limit: Int) -> GivenTexts {
        var field: String { "user_data.\(key)" }
        switch value {
        case .null: return .absent
        case .string(let text):
            guard text.utf8.count <= limit else {
                problem(field, .tooLong, "is longer than \(limit) bytes")
                return .absent
            }
            return .one(text)
        case .integer(let number): return .one(String(number))
        case .array(let elements):
            var texts: [String] = []
            for (index, element) in elements.enumerated() {
                switch element {
                case .string(let text) where text.utf8.count > limit:
                    problem("\(field)[\(index)]", .tooLong, "is longer than \(limit) bytes")
                    return .absent
                case .string(let text): texts.append(text)
                case .integer(let number): texts.append(String(number))
                case .null: continue
                default:
                    problem("\(field)[\(index)]", .invalidType, "must be a string or a whole number, found \(Self.described(element))")
                    return .absent
                }
            }
            return .several(texts)
        default:
            problem(field, .invalidType, "must be a string, a whole number or an array of them, found \(Self.described(value))")
            return .absent
        }
    }

    /// One value as sent to Meta, or `nil` with a warning naming the key (never the value).
    /// - Parameter known: the normalizer's answer for `text`, when it was already asked.
    private mutating func sentValue(
        _ key: UserDataKey,
        _ text: String,
        country: String?,
        policy: EventPolicy,
        known: Result<CanonicalValue, NormalizationIssue>?
    ) -> SentValue? {
        switch prepare(key, text, country: country, policy: policy, known: known) {
        case .success(let value): return value
        case .failure(let issue):
            let dropped = "user_data.\(key.rawValue): \(issue.reason)"
            warnings.append(dropped + "; dropped")
            droppedUserData.append(dropped)
            return nil
        }
    }

    /// One value as sent to Meta, or why it is dropped (no value in the reason).
    private func prepare(
        _ key: UserDataKey,
        _ text: String,
        country: String?,
        policy: EventPolicy,
        known: Result<CanonicalValue, NormalizationIssue>?
    ) -> Result<SentValue, NormalizationIssue> {
        guard !key.isHashed else {
            return (known ?? policy.normalizer.canonicalValue(key, text, country: country)).map { value in
                switch value {
                case .canonical(let text): .unhashed(text)
                case .digest(let digest): .digest(digest)
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
        case let key where key != .clientUserAgent && PersonalData.containsEmail(trimmed):
            // Identifiers Meta takes unhashed, so an address in one would reach it, and the
            // store, as written. (A crawler's user agent may carry its operator's address.)
            return .failure(NormalizationIssue(key: key.rawValue, reason: "holds an email address, which would be sent unhashed; put it in em"))
        default:
            return .success(.text(trimmed))
        }
    }
}

/// One slot per `user_data` key, on the stack: two arrays of slots per event were allocated and
/// then destroyed element by element through the runtime's generic enum witnesses (`perf`: 4% of
/// `bench normalize` under `Checker.userData`). The values sent live in one list, so their slots
/// hold only where each key's values are and need no destroying at all.
private typealias KeySlots<Slot> = InlineArray<31, Slot>

extension Checker {
    /// The slot count of ``KeySlots``, checked against `UserDataKey.all` by a test.
    static let keySlotCount = KeySlots<GivenTexts>.count
}

/// One key's values as given. Nearly always a single one, which then needs no array of its own:
/// an array per key was a quarter of the allocations of every event (`perf` on `malloc`). The
/// empty case is part of the enum rather than an `Optional` around it, whose destruction goes
/// through the runtime.
private enum GivenTexts {
    case absent
    case one(String)
    /// An array's elements, `null` left out: zero, one or more.
    case several([String])

    var all: [String] {
        switch self {
        case .absent: []
        case .one(let text): [text]
        case .several(let texts): texts
        }
    }

    var first: String? {
        switch self {
        case .absent: nil
        case .one(let text): text
        case .several(let texts): texts.first
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
