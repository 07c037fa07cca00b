/// A region's telephone numbering facts, from libphonenumber's metadata.
public struct CallingCode: Sendable, Equatable {
    public var region: String
    public var code: String
    /// The national (trunk) prefix dialled before national numbers, dropped in E.164; `nil` where the
    /// leading 0 is part of the number (Italy).
    public var trunkPrefix: String?
    public var shortestNational: Int
    public var longestNational: Int
    /// Whether an international number with this calling code is read by this region's plan
    /// (the United States for +1, Russia for +7, the United Kingdom for +44).
    var readsItsCode: Bool
    /// Bit `n` set: libphonenumber calls an `n`-digit national number possible here.
    var possibleLengths: UInt32
    /// Whether ``NationalPrefixRule`` has a pattern for the region: known without a lookup, since
    /// most numbers are of regions that have none (the United States among them).
    var hasPrefixRule: Bool

    static let byRegion: [String: CallingCode] = {
        var table: [String: CallingCode] = [:]
        for line in CallingCodeData.blob.split(separator: "\n") {
            let parts = line.split(separator: "\t").map(String.init)
            table[parts[0]] = CallingCode(
                region: parts[0],
                code: parts[1],
                trunkPrefix: parts[2] == "-" ? nil : parts[2],
                shortestNational: Int(parts[3])!,
                longestNational: Int(parts[4])!,
                readsItsCode: parts[5] == "*",
                possibleLengths: parts[6].split(separator: ",").reduce(0) { $0 | 1 << UInt32($1)! },
                hasPrefixRule: NationalPrefixRule.regions.contains(parts[0])
            )
        }
        return table
    }()

    /// The plan an international number is read by, per calling code.
    static let byCode: [String: CallingCode] = Dictionary(
        byRegion.values.filter(\.readsItsCode).map { ($0.code, $0) },
        uniquingKeysWith: { first, _ in first }
    )
    static let allCodes: Set<String> = Set(byRegion.values.map(\.code))

    public static func forRegion(_ region: String) -> CallingCode? { byRegion[region] }

    /// `national` without the national (trunk) prefix, or `nil` where there is none to take off.
    /// Where the region has a libphonenumber pattern, as libphonenumber's `parse` takes it off: the
    /// rest must have a possible length (or be too long for any); else the plain trunk prefix, when
    /// the rest's length is within the region's range.
    func significantNumber(of national: String) -> String? {
        if hasPrefixRule, let rule = NationalPrefixRule.byRegion[region] {
            guard let significant = rule.significantNumber(of: national) else { return nil }
            let length = significant.utf8.count
            let possible = length < 32 && possibleLengths & 1 << UInt32(length) != 0
            return possible || length > longestNational ? significant : nil
        }
        guard let trunkPrefix, national.hasPrefix(trunkPrefix),
            (shortestNational...longestNational).contains(national.utf8.count - trunkPrefix.utf8.count)
        else { return nil }
        return String(national.dropFirst(trunkPrefix.count))
    }

    /// The calling code an international number starts with (codes are prefix-free).
    static func leadingCode(of digits: String) -> String? {
        for length in 1...3 where digits.utf8.count > length {
            let prefix = String(digits.prefix(length))
            if allCodes.contains(prefix) { return prefix }
        }
        return nil
    }
}
