import Foundation

/// The prefix a region dials before a calling code, where it is more than `00`: `011` across the
/// North American plan, `0011` in Australia, `010` in Japan, `810` in Russia, `00` and a carrier code
/// in Brazil, Colombia and Korea. People write a foreign number as they dial it, so
/// `011 44 20 7946 0958` from the United States is the UK number `442079460958`, not a national one.
///
/// The patterns are libphonenumber's own (ICU syntax, run by `NSRegularExpression`, which is
/// immutable and safe to share), and they are read as its `parse` reads them: matched at the start,
/// and not when a 0 follows, since no calling code starts with 0.
struct InternationalPrefixRule: Sendable {
    private let prefix: NSRegularExpression
    /// Bit `d` set: a prefix can start with the digit `d`. Most national numbers start with another
    /// and skip the pattern (every United States number but those written `0…` or `1…`).
    private let firstDigits: UInt16

    /// Keyed by lowercase region; a region absent here dials `00`, which is read everywhere.
    static let byRegion: [String: InternationalPrefixRule] = {
        var table: [String: InternationalPrefixRule] = [:]
        for line in InternationalPrefixData.blob.split(separator: "\n") {
            let parts = line.split(separator: "\t").map(String.init)
            // The generated data is checked by the tests; a pattern ICU refused would fail them all.
            table[parts[0]] = InternationalPrefixRule(
                prefix: try! NSRegularExpression(pattern: "^(?:\(parts[1]))"),
                firstDigits: parts[2].utf8.reduce(0) { $0 | 1 << UInt16($1 &- UInt8(ascii: "0")) }
            )
        }
        return table
    }()

    /// The digits after the region's international prefix, or `nil` when `digits` (ASCII digits)
    /// do not start with one.
    func digitsAfterPrefix(of digits: String) -> Substring? {
        guard let first = digits.utf8.first, first &- UInt8(ascii: "0") < 10, firstDigits & 1 << UInt16(first &- UInt8(ascii: "0")) != 0,
            let match = prefix.firstMatch(in: digits, options: .anchored, range: NSRange(location: 0, length: digits.utf16.count))
        else { return nil }
        // Digits are one UTF-16 unit each, so the match's length counts characters.
        let rest = digits.dropFirst(match.range.length)
        guard let next = rest.first, next != "0" else { return nil }
        return rest
    }
}
