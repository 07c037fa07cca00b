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

    static let codes: Set<String> = Set(CountryData.codes.split(separator: " ").map(String.init))

    /// Names in ASCII: most names arrive this way, and the table builds in a few milliseconds.
    static let asciiNames: [String: String] = names(in: CountryData.asciiNames)

    /// Names in other letters; Swift hashes such strings by their canonical form, which makes this
    /// table slower to build, so only a name written that way builds it.
    static let otherNames: [String: String] = names(in: CountryData.otherNames)

    /// `key<TAB>code` lines, split on bytes.
    private static func names(in blob: String) -> [String: String] {
        var names: [String: String] = [:]
        var blob = blob
        blob.withUTF8 { bytes in
            var lineStart = 0
            var tab = 0
            for index in bytes.indices {
                switch bytes[index] {
                case UInt8(ascii: "\t"): tab = index
                case UInt8(ascii: "\n"):
                    if tab > lineStart {
                        let key = String(decoding: bytes[lineStart..<tab], as: UTF8.self)
                        names[key] = String(decoding: bytes[(tab + 1)..<index], as: UTF8.self)
                    }
                    lineStart = index + 1
                default: continue
                }
            }
            if tab > lineStart {
                names[String(decoding: bytes[lineStart..<tab], as: UTF8.self)] = String(decoding: bytes[(tab + 1)...], as: UTF8.self)
            }
        }
        return names
    }

    public static func isAlpha2(_ code: String) -> Bool { codes.contains(code) }

    /// ISO 3166-1 alpha-2 (lowercase) for a code, alpha-3 code or country name in a common language.
    public static func alpha2(for text: String) -> String? {
        alpha2(forKey: lookupKey(text))
    }

    static func alpha2(folded text: String) -> String? {
        alpha2(forKey: lookupKey(folded: text))
    }

    static func alpha2(forKey key: String) -> String? {
        if key.utf8.count == 2 {  // two ASCII letters: an alpha-2 code, never a name
            if codes.contains(key) { return key }
            return key == "uk" ? "gb" : nil
        }
        return TextFolding.isASCII(key) ? asciiNames[key] : otherNames[key]
    }
}
