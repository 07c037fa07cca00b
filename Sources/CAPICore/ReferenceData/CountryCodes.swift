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
