/// The `user_data` keys of a Meta server event, with how each is prepared for sending.
public enum UserDataKey: String, Sendable, CaseIterable, Codable {
    case email = "em"
    case phone = "ph"
    case firstName = "fn"
    case lastName = "ln"
    case city = "ct"
    case state = "st"
    case zip = "zp"
    case country
    case dateOfBirth = "db"
    case gender = "ge"
    case externalID = "external_id"
    case firstNameFirst5 = "f5first"
    case lastNameFirst5 = "f5last"
    case firstInitial = "fi"
    case birthDay = "dobd"
    case birthMonth = "dobm"
    case birthYear = "doby"
    case clientIPAddress = "client_ip_address"
    case clientUserAgent = "client_user_agent"
    case fbc
    case fbp
    case subscriptionID = "subscription_id"
    case fbLoginID = "fb_login_id"
    case leadID = "lead_id"
    case madid
    case anonID = "anon_id"
    case ctwaClid = "ctwa_clid"
    case pageID = "page_id"
    // Listed, not hashed, on Meta's customer-information page; not in the SDK 26.0.3.
    case pageScopedUserID = "page_scoped_user_id"
    case igAccountID = "ig_account_id"
    case igSID = "ig_sid"

    /// Position in `allCases`, for array-indexed lookups on the hot path.
    public var ordinal: Int { Self.all.firstIndex(of: self)! }

    /// `allCases`, built once (the synthesized property allocates on every call).
    public static let all: [UserDataKey] = allCases

    /// Personal keys are hashed (SHA-256) before they leave memory; the rest are passed through.
    public var isHashed: Bool {
        switch self {
        case .email, .phone, .firstName, .lastName, .city, .state, .zip, .country, .dateOfBirth, .gender,
            .externalID, .firstNameFirst5, .lastNameFirst5, .firstInitial, .birthDay, .birthMonth, .birthYear:
            return true
        default:
            return false
        }
    }

    /// Keys sent as arrays (several emails, phones, …); the rest are single strings. The shapes are
    /// those Meta's SDK 26.0.3 sends: its `UserData` holds one value of the name and birth-date
    /// parts (`f5first`, `f5last`, `fi`, `dobd`, `dobm`, `doby`) and writes each as a string, the
    /// one wire shape sure to be taken for them.
    public var isMultiValued: Bool {
        switch self {
        case .email, .phone, .firstName, .lastName, .city, .state, .zip, .country, .dateOfBirth, .gender, .externalID:
            return true
        default:
            return false
        }
    }

    /// Keys whose values are numbers or codes (phone, postcode, birth date and its parts, state,
    /// country): their digits are read in any script and their full-width letters as ASCII
    /// (``TextFolding/asciiDigitsAndWidth(_:)``).
    public var foldsWidthAndDigits: Bool {
        switch self {
        case .phone, .zip, .dateOfBirth, .birthDay, .birthMonth, .birthYear, .state, .country: return true
        default: return false
        }
    }

    /// Friendly names the push endpoint accepts as aliases (the push HTTP contract in README.md).
    public static let aliases: [String: UserDataKey] = [
        "email": .email, "phone": .phone, "first_name": .firstName, "last_name": .lastName, "city": .city,
        "state": .state, "zip": .zip, "date_of_birth": .dateOfBirth, "gender": .gender,
        "ip": .clientIPAddress, "user_agent": .clientUserAgent,
    ]

    /// How a refusal names a JSON number with a fraction or an exponent: its digits are not the
    /// value's (`16505551212.0`, `1.65e10`), and a phone number or postcode held as a float may
    /// have lost its own, so such a value is refused where whole numbers are taken.
    static let fractionalNumber = "a number with a fraction or an exponent (send the value as a string)"

    /// Every accepted name (canonical or alias) with its key's position, for one lookup per field.
    static let byName: FieldNameTable<(ordinal: Int, isAlias: Bool)> = {
        var entries = all.enumerated().map { (name: $0.element.rawValue, value: (ordinal: $0.offset, isAlias: false)) }
        for (alias, key) in aliases.sorted(by: { $0.key < $1.key }) where !entries.contains(where: { $0.name == alias }) {
            entries.append((alias, (key.ordinal, true)))
        }
        return FieldNameTable(entries)
    }()

    /// Every accepted name, canonical ones first, for "did you mean" on a name that is none.
    static let acceptedNames: [String] = all.map(\.rawValue) + aliases.keys.sorted().filter { UserDataKey(rawValue: $0) == nil }

    /// The key for a canonical name or a friendly alias.
    public init?(name: String) {
        guard let entry = Self.byName.value(for: name) else { return nil }
        self = Self.all[entry.ordinal]
    }
}
