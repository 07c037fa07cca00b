import Foundation

/// How libphonenumber takes the national prefix off a number where that is more than a leading 0 or
/// 1: carrier-selection codes (Brazil, Colombia, Korea), a trunk `8` that may be followed by `0`
/// (Belarus), Hungary's `06`, Argentina's `0 11 15 …` that E.164 writes `9 11 …`, and the
/// Caribbean's seven-digit local numbers that gain their area code.
///
/// The patterns are libphonenumber's own (ICU syntax, run by `NSRegularExpression`, which is
/// immutable and safe to share). A number is changed only when libphonenumber would change it: the
/// original does not look like one of the region's national numbers, or the result still does.
struct NationalPrefixRule: Sendable {
    private enum TransformPart: Sendable {
        case digits(String)
        case group(Int)
    }

    private let prefix: NSRegularExpression
    private let transform: [TransformPart]?
    private let nationalNumber: NSRegularExpression
    /// Bit `d` set: a prefix can start with the digit `d`. A number starting with another has no
    /// prefix to take off, and skips the patterns (most numbers written after a calling code).
    private let firstDigits: UInt16

    /// The regions with a pattern, read from the data without compiling one.
    static let regions: Set<String> = Set(NationalPrefixData.blob.split(separator: "\n").map { String($0.prefix { $0 != "\t" }) })

    /// Keyed by lowercase region; the regions absent here use their plain trunk prefix.
    static let byRegion: [String: NationalPrefixRule] = {
        var table: [String: NationalPrefixRule] = [:]
        for line in NationalPrefixData.blob.split(separator: "\n") {
            let parts = line.split(separator: "\t").map(String.init)
            table[parts[0]] = NationalPrefixRule(
                prefix: parts[1],
                transform: parts[2] == "-" ? nil : parts[2],
                nationalNumber: parts[3],
                firstDigits: parts[4]
            )
        }
        return table
    }()

    private init(prefix: String, transform: String?, nationalNumber: String, firstDigits: String) {
        // The generated data is checked by the tests; a pattern ICU refused would fail them all.
        self.prefix = try! NSRegularExpression(pattern: prefix)
        self.nationalNumber = try! NSRegularExpression(pattern: "^(?:\(nationalNumber))$")
        self.transform = transform.map(Self.parts)
        self.firstDigits = firstDigits.utf8.reduce(0) { $0 | 1 << UInt16($1 &- UInt8(ascii: "0")) }
    }

    /// `268\1` → the digits `268`, then what the first group matched.
    private static func parts(of rule: String) -> [TransformPart] {
        var parts: [TransformPart] = []
        var literal = ""
        var characters = rule[...]
        while let character = characters.popFirst() {
            if character == "\\", let group = characters.first?.wholeNumberValue {
                characters.removeFirst()
                if !literal.isEmpty { parts.append(.digits(literal)) }
                literal = ""
                parts.append(.group(group))
            } else {
                literal.append(character)
            }
        }
        if !literal.isEmpty { parts.append(.digits(literal)) }
        return parts
    }

    /// `digits` (ASCII digits, dialled inside the region) without the national prefix, as
    /// libphonenumber's `maybeStripNationalPrefixAndCarrierCode` reads them; `nil` when it would
    /// leave them as they are.
    func significantNumber(of digits: String) -> String? {
        guard let first = digits.utf8.first, first &- UInt8(ascii: "0") < 10, firstDigits & 1 << UInt16(first &- UInt8(ascii: "0")) != 0 else {
            return nil
        }
        let utf16 = Array(digits.utf16)
        guard let match = prefix.firstMatch(in: digits, options: .anchored, range: NSRange(location: 0, length: utf16.count)) else {
            return nil
        }
        func text(_ range: NSRange) -> String {
            range.location == NSNotFound ? "" : String(decoding: utf16[range.location..<range.location + range.length], as: UTF16.self)
        }
        let rest = text(NSRange(location: match.range.upperBound, length: utf16.count - match.range.upperBound))
        let lastGroup = match.numberOfRanges - 1
        let candidate: String
        if let transform, lastGroup > 0, match.range(at: lastGroup).location != NSNotFound {
            candidate =
                transform.map { part in
                    switch part {
                    case .digits(let digits): digits
                    case .group(let index): index <= lastGroup ? text(match.range(at: index)) : ""
                    }
                }
                .joined() + rest
        } else {
            candidate = rest
        }
        guard candidate != digits else { return nil }
        if isNationalNumber(digits), !isNationalNumber(candidate) { return nil }
        return candidate
    }

    private func isNationalNumber(_ digits: String) -> Bool {
        nationalNumber.firstMatch(in: digits, options: .anchored, range: NSRange(location: 0, length: digits.utf16.count)) != nil
    }
}
