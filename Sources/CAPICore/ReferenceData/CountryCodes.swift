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
            return sought.withUTF8 { Self.search($0, in: text, lineStarts: Self.lineStarts) }
        }
    }

    /// Where each line of `CountryData.names` starts (137 KB, found on first use in well under a
    /// millisecond): each probe of the search compares at its line's start. Backing each probe up
    /// to its line's start byte by byte, and scanning on to the line's end, was 4.5% of
    /// `bench normalize`, where half the events name their country.
    private static let lineStarts: [UInt32] = {
        var names = CountryData.names
        return names.withUTF8 { text in
            var starts: [UInt32] = [0]
            starts.reserveCapacity(36_000)
            for index in text.indices where text[index] == UInt8(ascii: "\n") && index + 1 < text.count {
                starts.append(UInt32(index + 1))
            }
            return starts
        }
    }()

    /// Binary search over `key<TAB>code` lines sorted by their bytes, each line found by its start.
    private static func search(_ key: UnsafeBufferPointer<UInt8>, in text: UnsafeBufferPointer<UInt8>, lineStarts: [UInt32]) -> String? {
        let tab = UInt8(ascii: "\t")
        var low = 0
        var high = lineStarts.count
        while low < high {
            let middle = (low + high) / 2
            let start = Int(lineStarts[middle])
            // The key against the line's name, which ends at its tab: negative when the key sorts
            // first (a key that is a prefix of the name included), positive when it sorts after.
            var offset = 0
            var order = 0
            while true {
                let byte = start + offset < text.count ? text[start + offset] : tab
                if offset == key.count {
                    order = byte == tab ? 0 : -1
                    break
                }
                if byte == tab || key[offset] > byte {
                    order = 1
                    break
                }
                if key[offset] < byte {
                    order = -1
                    break
                }
                offset += 1
            }
            if order == 0 {
                let codeStart = min(start + offset + 1, text.count)
                var end = codeStart
                while end < text.count, text[end] != UInt8(ascii: "\n") { end += 1 }
                return String(decoding: text[codeStart..<end], as: UTF8.self)
            }
            if order < 0 { high = middle } else { low = middle + 1 }
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
