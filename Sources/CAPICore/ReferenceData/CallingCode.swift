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
