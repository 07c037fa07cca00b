extension Checker {
    /// `user_data` with every personal value normalized and hashed, aliases resolved, duplicates removed.
    mutating func userData(_ value: JSONValue, policy: EventPolicy) -> [String: JSONValue] {
        guard case .object(let given) = value else {
            problem("user_data", .invalidType, "must be an object, found \(value.typeName)")
            return [:]
        }
        // Gather values per canonical key (an alias and its canonical name may both be given).
        var valuesByKey: [UserDataKey: [String]] = [:]
        var order: [UserDataKey] = []
        for name in given.keys.sorted() {
            let field = "user_data.\(name)"
            guard let key = UserDataKey(name: name) else {
                problem(field, .unknownField, "is not a Meta customer-information parameter")
                continue
            }
            guard let texts = texts(given[name]!, field: field) else { continue }
            if valuesByKey[key] == nil { order.append(key) }
            valuesByKey[key, default: []].append(contentsOf: texts)
        }

        let country = personCountry(valuesByKey[.country], policy: policy)
        var prepared: [String: JSONValue] = [:]
        prepared.reserveCapacity(order.count)
        for key in order {
            let field = "user_data.\(key.rawValue)"
            let texts = valuesByKey[key]!
            if !key.isMultiValued && texts.count > 1 {
                problem(field, .invalidValue, "takes a single value")
                continue
            }
            var wire: [String] = []
            for text in texts {
                switch prepare(key, text, country: country, policy: policy) {
                case .success(let value): if !wire.contains(value) { wire.append(value) }
                case .failure(let issue): warnings.append("\(field): \(issue.reason); dropped")
                }
            }
            guard !wire.isEmpty else { continue }
            prepared[key.rawValue] = key.isMultiValued ? .array(wire.map(JSONValue.string)) : .string(wire[0])
        }
        if prepared.isEmpty && problems.allSatisfy({ !$0.field.hasPrefix("user_data") }) {
            problem("user_data", .noCustomerInformation, "has no usable customer information after normalization")
        }
        return prepared
    }

    /// A value's strings: a string, a number, or an array of them. `null` means absent.
    private mutating func texts(_ value: JSONValue, field: String) -> [String]? {
        switch value {
        case .null: return nil
        case .string(let text): return [text]
        case .integer(let number): return [String(number)]
        case .array(let elements):
            var texts: [String] = []
            for (index, element) in elements.enumerated() {
                switch element {
                case .string(let text): texts.append(text)
                case .integer(let number): texts.append(String(number))
                case .null: continue
                default:
                    problem("\(field)[\(index)]", .invalidType, "must be a string, found \(element.typeName)")
                    return nil
                }
            }
            return texts
        default:
            problem(field, .invalidType, "must be a string or an array of strings, found \(value.typeName)")
            return nil
        }
    }

    /// The person's country for phone and postcode rules: `user_data.country` when readable, else the pixel's default.
    private func personCountry(_ values: [String]?, policy: EventPolicy) -> String? {
        if let first = values?.first, !TextFolding.isSHA256Hex(String(TextFolding.trimmed(first))),
           let code = CountryCodes.alpha2(for: first) {
            return code
        }
        return policy.defaultCountry
    }

    /// One value as sent to Meta, or why it is dropped (no value in the reason).
    private func prepare(_ key: UserDataKey, _ text: String, country: String?, policy: EventPolicy) -> Result<String, NormalizationIssue> {
        guard !key.isHashed else {
            return policy.normalizer.normalize(key, text, country: country).map(\.wireValue)
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
            return .success(trimmed)
        }
    }
}

/// Shapes of Meta's browser identifiers, from the `_fbc` and `_fbp` cookies.
public enum ClickIdentifiers {
    /// `fb.<subdomain index>.<creation time ms>.<fbclid>`; the fbclid may itself contain dots.
    public static func isValidFBC(_ value: String) -> Bool {
        let parts = value.split(separator: ".", maxSplits: 3, omittingEmptySubsequences: false)
        return parts.count == 4 && hasPrefixParts(parts) && !parts[3].isEmpty
    }

    /// `fb.<subdomain index>.<creation time ms>.<random>` with an optional fifth segment.
    public static func isValidFBP(_ value: String) -> Bool {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        return (4...5).contains(parts.count) && hasPrefixParts(parts) && parts.dropFirst(3).allSatisfy { !$0.isEmpty }
    }

    private static func hasPrefixParts(_ parts: [Substring]) -> Bool {
        parts[0] == "fb" && isDigits(parts[1]) && isDigits(parts[2])
    }

    private static func isDigits(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { (0x30...0x39).contains($0) }
    }
}
