import Foundation

/// Lookups over the generated ISO and numbering-plan tables: codes parsed once on first use,
/// names searched where the binary holds them.
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

    /// The country of a name's lookup key, searched in `CountryData.names` where it lies: 34,315
    /// names as dictionaries took about 3–4 MB of a sidecar's memory and 3 ms (ASCII) and 12 ms
    /// (other letters) to build; a binary search over the sorted text takes neither. Keys there
    /// are in NFC, so a key written decomposed (`I\u{301}sland`) is composed first, as Swift's own
    /// string comparison would.
    static func name(forKey key: String) -> String? {
        let key = TextFolding.isASCII(key) ? key : key.precomposedStringWithCanonicalMapping
        var names = CountryData.names
        return names.withUTF8 { text in
            var sought = key
            return sought.withUTF8 { Self.search($0, in: text) }
        }
    }

    /// Binary search over `key<TAB>code` lines sorted by their bytes; each probe backs up to the
    /// start of the line it landed in. Every bound stays at a line's start or the text's end.
    private static func search(_ key: UnsafeBufferPointer<UInt8>, in text: UnsafeBufferPointer<UInt8>) -> String? {
        var low = 0
        var high = text.count
        while low < high {
            var start = (low + high) / 2
            while start > low, text[start - 1] != UInt8(ascii: "\n") { start -= 1 }
            var tab = start
            while tab < text.count, text[tab] != UInt8(ascii: "\t") { tab += 1 }
            var end = tab
            while end < text.count, text[end] != UInt8(ascii: "\n") { end += 1 }
            let line = UnsafeBufferPointer(rebasing: text[start..<tab])
            if key.elementsEqual(line) { return String(decoding: text[min(tab + 1, end)..<end], as: UTF8.self) }
            if key.lexicographicallyPrecedes(line) { high = start } else { low = end + 1 }
        }
        return nil
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
        return name(forKey: key)
    }
}
