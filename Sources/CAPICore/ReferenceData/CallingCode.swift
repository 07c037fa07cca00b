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
                readsItsCode: parts[5] == "*"
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

    /// `national` without the national (trunk) prefix, or `nil` where there is none to take off: the
    /// region's libphonenumber pattern where it has one, else its plain trunk prefix. Either way the
    /// rest must have a length the region's numbers have.
    func significantNumber(of national: String) -> String? {
        let candidate: String
        if let rule = NationalPrefixRule.byRegion[region] {
            guard let significant = rule.significantNumber(of: national) else { return nil }
            candidate = significant
        } else {
            guard let trunkPrefix, national.hasPrefix(trunkPrefix) else { return nil }
            candidate = String(national.dropFirst(trunkPrefix.count))
        }
        return (shortestNational...longestNational).contains(candidate.utf8.count) ? candidate : nil
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
