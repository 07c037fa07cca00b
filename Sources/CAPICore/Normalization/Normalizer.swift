/// Normalizes and hashes customer information exactly as Meta matches it (docs/normalization.md).
///
/// Pure and allocation-light: it runs on the ingest hot path for every personal key of every event.
/// `today` bounds birth dates; it is a value, not a clock, so results are reproducible.
public struct Normalizer: Sendable {
    public var today: CalendarDate
    public var externalIDPolicy: ExternalIDPolicy

    public init(today: CalendarDate, externalIDPolicy: ExternalIDPolicy = .hash) {
        self.today = today
        self.externalIDPolicy = externalIDPolicy
    }

    /// The value of `key` ready for Meta, or why it was dropped.
    ///
    /// - Parameter country: ISO alpha-2 (lowercase) of the event's person, for phone calling codes,
    ///   US postcode and state rules; `nil` when unknown.
    public func normalize(_ key: UserDataKey, _ value: String, country: String? = nil) -> Result<NormalizedValue, NormalizationIssue> {
        canonicalValue(key, value, country: country).map(\.hashed)
    }

    /// ``normalize(_:_:country:)`` without the hashing, for a caller that hashes several values
    /// at once.
    func canonicalValue(_ key: UserDataKey, _ value: String, country: String? = nil) -> Result<CanonicalValue, NormalizationIssue> {
        guard key.isHashed else {
            // Passed through as given, as the reference SDK does; the event builder trims and checks
            // the shape of these keys (IP syntax, fbc/fbp) where it knows the event's context.
            guard !TextFolding.trimmed(value).isEmpty else { return .failure(issue(key, "is empty")) }
            return .success(.passthrough(value))
        }
        if key == .externalID {
            let trimmed = String(TextFolding.trimmed(value))
            guard !trimmed.isEmpty else { return .failure(issue(key, "is empty")) }
            if let digest = HexDigest(hex: trimmed) { return .success(.digest(digest)) }
            if externalIDPolicy == .passthrough { return .success(.passthrough(trimmed)) }
            return .success(.canonical(trimmed))
        }
        return normalizeASCII(key, value, country: country) ?? normalizeTwoByte(key, value) ?? normalizeScalars(key, value, country: country)
    }

    /// The general path for a hashed key other than `external_id`: any Unicode text, each rule on
    /// `String`s. ``normalizeASCII(_:_:country:)`` and ``normalizeTwoByte(_:_:)`` must answer
    /// exactly as this does.
    func normalizeScalars(_ key: UserDataKey, _ value: String, country: String?) -> Result<CanonicalValue, NormalizationIssue> {
        var folded = TextFolding.trimmedLowercased(value)
        guard !folded.isEmpty else { return .failure(issue(key, "is empty")) }
        if key.foldsWidthAndDigits { folded = TextFolding.asciiDigitsAndWidth(folded) }
        if let digest = HexDigest(hex: folded) { return .success(.digest(digest)) }
        return canonical(key, folded, country: country).map { .canonical($0) }
    }

    /// The canonical text of a trimmed, lowercased value (before hashing).
    func canonical(_ key: UserDataKey, _ folded: String, country: String?) -> Result<String, NormalizationIssue> {
        switch key {
        case .email: return EmailRule.canonical(folded).mapError { issue(key, $0.reason) }
        case .phone: return PhoneRule.canonical(folded, country: country).mapError { issue(key, $0.reason) }
        case .firstName, .lastName: return nameCanonical(key, folded)
        case .firstNameFirst5, .lastNameFirst5:
            return nameCanonical(key, folded).map { String(String.UnicodeScalarView($0.unicodeScalars.prefix(5))) }
        case .firstInitial:
            return nameCanonical(key, folded).map { String(String.UnicodeScalarView($0.unicodeScalars.prefix(1))) }
        case .city: return lettersOnly(key, folded)
        case .state:
            if country == nil || country == "us", let code = USStates.code(folded: folded) { return .success(code) }
            return lettersOnly(key, folded)
        case .zip: return PostcodeRule.canonical(folded, country: country).mapError { issue(key, $0.reason) }
        case .country:
            guard let code = CountryCodes.alpha2(folded: folded) else {
                return .failure(issue(key, "is not an ISO 3166-1 country code or a known country name"))
            }
            return .success(code)
        case .dateOfBirth: return DateOfBirthRule.canonical(folded, today: today).mapError { issue(key, $0.reason) }
        case .gender:
            switch folded {
            case "m", "male", "man": return .success("m")
            case "f", "female", "woman": return .success("f")
            default: return .failure(issue(key, "must be m or f (male, man, female, woman)"))
            }
        case .birthDay:
            return DateOfBirthRule.part(folded, range: 1...31, width: 2).mapError { issue(key, "must be a day of the month (DD), \($0.reason)") }
        case .birthMonth: return DateOfBirthRule.part(folded, range: 1...12, width: 2).mapError { issue(key, "must be a month (MM), \($0.reason)") }
        case .birthYear:
            return DateOfBirthRule.part(folded, range: 1900...today.year, width: 4).mapError { issue(key, "must be a year (YYYY), \($0.reason)") }
        case .externalID, .clientIPAddress, .clientUserAgent, .fbc, .fbp, .subscriptionID, .fbLoginID, .leadID,
            .madid, .anonID, .ctwaClid, .pageID, .pageScopedUserID, .igAccountID, .igSID:
            return .success(folded)
        }
    }

    private func nameCanonical(_ key: UserDataKey, _ folded: String) -> Result<String, NormalizationIssue> {
        let cleaned = TextFolding.filtered(folded) { !TextFolding.isPunctuation($0) }
        let trimmed = String(TextFolding.trimmed(cleaned))
        return trimmed.isEmpty ? .failure(issue(key, "has no letters")) : .success(trimmed)
    }

    private func lettersOnly(_ key: UserDataKey, _ folded: String) -> Result<String, NormalizationIssue> {
        let letters = TextFolding.filtered(folded, keep: TextFolding.isLetterOrMark)
        return letters.isEmpty ? .failure(issue(key, "has no letters")) : .success(letters)
    }

    func issue(_ key: UserDataKey, _ reason: String) -> NormalizationIssue {
        NormalizationIssue(key: key.rawValue, reason: reason)
    }
}
