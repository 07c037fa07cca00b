/// Lookups over the generated ISO and numbering-plan tables, parsed once on first use.
public enum CountryCodes {
    /// Folding used for every name lookup: lowercase, letters and marks only (`U.S.A.` → `usa`).
    public static func lookupKey(_ text: some StringProtocol) -> String {
        TextFolding.filtered(TextFolding.lowercased(Substring(text)), keep: TextFolding.isLetterOrMark)
    }

    /// `lookupKey` for text the normalizer already trimmed and lowercased.
    static func lookupKey(folded text: String) -> String {
        TextFolding.isASCII(text) ? TextFolding.filtered(text, keep: TextFolding.isLetterOrMark) : lookupKey(text)
    }

    static let tables: (codes: Set<String>, names: [String: String]) = {
        var lines = CountryData.blob.split(separator: "\n")
        let codes = Set(lines.removeFirst().split(separator: " ").map(String.init))
        var names: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: "\t")
            names[String(parts[0])] = String(parts[1])
        }
        return (codes, names)
    }()

    public static func isAlpha2(_ code: String) -> Bool { tables.codes.contains(code) }

    /// ISO 3166-1 alpha-2 (lowercase) for a code, alpha-3 code or country name in a common language.
    public static func alpha2(for text: String) -> String? {
        alpha2(forKey: lookupKey(text))
    }

    static func alpha2(folded text: String) -> String? {
        alpha2(forKey: lookupKey(folded: text))
    }

    static func alpha2(forKey key: String) -> String? {
        if key.utf8.count == 2 {  // two ASCII letters: an alpha-2 code, never a name
            if tables.codes.contains(key) { return key }
            return key == "uk" ? "gb" : nil
        }
        return tables.names[key]
    }
}

/// ISO 4217 currency codes.
public enum CurrencyCodes {
    static let codes: Set<String> = Set(CurrencyData.blob.split(separator: " ").map(String.init))

    /// `value` is an upper-case three-letter code in ISO 4217.
    public static func isValid(_ code: String) -> Bool { codes.contains(code) }
}

/// US states, DC and territories to their two-letter USPS codes.
public enum USStates {
    static let codes: [String: String] = {
        var table: [String: String] = [:]
        for line in USStateData.blob.split(separator: "\n") {
            let parts = line.split(separator: "\t")
            table[String(parts[0])] = String(parts[1])
        }
        return table
    }()

    public static func code(for text: String) -> String? { codes[CountryCodes.lookupKey(text)] }

    static func code(folded text: String) -> String? { codes[CountryCodes.lookupKey(folded: text)] }
}

/// A region's telephone numbering facts, from libphonenumber's metadata.
public struct CallingCode: Sendable, Equatable {
    public var region: String
    public var code: String
    /// The national (trunk) prefix dialled before national numbers, dropped in E.164; `nil` where the
    /// leading 0 is part of the number (Italy).
    public var trunkPrefix: String?
    public var shortestNational: Int
    public var longestNational: Int

    static let byRegion: [String: CallingCode] = {
        var table: [String: CallingCode] = [:]
        for line in CallingCodeData.blob.split(separator: "\n") {
            let parts = line.split(separator: "\t").map(String.init)
            table[parts[0]] = CallingCode(
                region: parts[0],
                code: parts[1],
                trunkPrefix: parts[2] == "-" ? nil : parts[2],
                shortestNational: Int(parts[3])!,
                longestNational: Int(parts[4])!
            )
        }
        return table
    }()

    /// Country calling codes that use a trunk 0 (so `+44 (0)20…` or `+44 020…` drops the 0).
    static let trunkZeroCodes: Set<String> = Set(byRegion.values.filter { $0.trunkPrefix == "0" }.map(\.code))
    static let noTrunkCodes: Set<String> = Set(byRegion.values.filter { $0.trunkPrefix == nil }.map(\.code))
    static let allCodes: Set<String> = Set(byRegion.values.map(\.code))

    public static func forRegion(_ region: String) -> CallingCode? { byRegion[region] }

    /// The calling code an international number starts with (codes are prefix-free).
    static func leadingCode(of digits: String) -> String? {
        for length in 1...3 where digits.utf8.count > length {
            let prefix = String(digits.prefix(length))
            if allCodes.contains(prefix) { return prefix }
        }
        return nil
    }
}
