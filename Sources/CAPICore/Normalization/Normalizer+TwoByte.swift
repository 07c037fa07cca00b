/// The byte-level path for names and cities written with one- and two-byte UTF-8.
///
/// "Zoë", "José", "São Paulo", "Łukasz", "Νίκος" or "Ольга" took the general rules, which build an
/// array of scalars and a `String` per step and ask Unicode's property tables for every scalar
/// (`perf`: 5.3% of `bench normalize`, whose sample events have such names). Here the value is
/// decoded once into scalars on the stack, trimmed, lowercased and filtered with
/// ``TwoByteScalars``, and written out as UTF-8 once. Text with a scalar of three or four bytes,
/// or one the table declines, goes to the general rules.
extension Normalizer {
    /// The general rules' answer for a name or city whose scalars are all below U+0800; `nil` for
    /// other keys and other text.
    func normalizeTwoByte(_ key: UserDataKey, _ value: String) -> Result<CanonicalValue, NormalizationIssue>? {
        let rule: TwoByteRule
        switch key {
        case .firstName, .lastName: rule = .name(scalarLimit: .max)
        case .firstNameFirst5, .lastNameFirst5: rule = .name(scalarLimit: 5)
        case .firstInitial: rule = .name(scalarLimit: 1)
        case .city: rule = .city
        default: return nil
        }
        var value = value
        return value.withUTF8 { input in
            withUnsafeTemporaryAllocation(of: UInt16.self, capacity: input.count) { scalars in
                guard let count = Self.decodeTwoByte(input, into: scalars) else { return nil }
                let table = TwoByteScalars.table
                var start = 0
                var end = count
                while start < end, table[Int(scalars[start])] & TwoByteScalars.space != 0 { start += 1 }
                while end > start, table[Int(scalars[end - 1])] & TwoByteScalars.space != 0 { end -= 1 }
                guard start < end else { return .failure(issue(key, "is empty")) }
                var allASCII = true
                for index in start..<end {
                    let entry = table[Int(scalars[index])]
                    if entry & TwoByteScalars.declines != 0 { return nil }
                    scalars[index] = entry & TwoByteScalars.lowercaseMask
                    allASCII = allASCII && scalars[index] < 0x80
                }
                // As the general rules: a value that is a digest already is taken as one.
                if allASCII, end - start == 64, let digest = Self.hexDigest(scalars[start..<end]) { return .success(.digest(digest)) }
                // Names lose punctuation, cities keep letters and marks, both judged after lowercasing.
                var kept = start
                for index in start..<end {
                    let flags = table[Int(scalars[index])]
                    let keeps =
                        switch rule {
                        case .name: flags & TwoByteScalars.punctuation == 0
                        case .city: flags & TwoByteScalars.letterOrMark != 0
                        }
                    if keeps {
                        scalars[kept] = scalars[index]
                        kept += 1
                    }
                }
                var first = start
                var last = kept
                // A name is trimmed again after its punctuation goes, then cut to its limit.
                if case .name(let scalarLimit) = rule {
                    while first < last, table[Int(scalars[first])] & TwoByteScalars.space != 0 { first += 1 }
                    while last > first, table[Int(scalars[last - 1])] & TwoByteScalars.space != 0 { last -= 1 }
                    if last - first > scalarLimit { last = first + scalarLimit }
                }
                guard first < last else { return .failure(issue(key, "has no letters")) }
                return .success(.canonical(Self.utf8Text(scalars[first..<last])))
            }
        }
    }

    /// The scalars of `input`, or `nil` when one takes three or four bytes. `input` is a `String`'s
    /// UTF-8, so every lead byte has its continuation; the bounds are checked all the same.
    private static func decodeTwoByte(_ input: UnsafeBufferPointer<UInt8>, into scalars: UnsafeMutableBufferPointer<UInt16>) -> Int? {
        var count = 0
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte < 0x80 {
                scalars[count] = UInt16(byte)
                index += 1
            } else if byte >= 0xC2, byte < 0xE0, index + 1 < input.count {
                scalars[count] = UInt16(byte & 0x1F) << 6 | UInt16(input[index + 1] & 0x3F)
                index += 2
            } else {
                return nil
            }
            count += 1
        }
        return count
    }

    private static func hexDigest(_ scalars: Slice<UnsafeMutableBufferPointer<UInt16>>) -> HexDigest? {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: scalars.count) { bytes in
            for (offset, scalar) in scalars.enumerated() { bytes[offset] = UInt8(truncatingIfNeeded: scalar) }
            return HexDigest(hex: UnsafeBufferPointer(bytes))
        }
    }

    /// The canonical text of `scalars` (each below U+0800).
    private static func utf8Text(_ scalars: Slice<UnsafeMutableBufferPointer<UInt16>>) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: scalars.count * 2) { bytes in
            var count = 0
            for scalar in scalars {
                if scalar < 0x80 {
                    bytes[count] = UInt8(truncatingIfNeeded: scalar)
                    count += 1
                } else {
                    bytes[count] = 0xC0 | UInt8(truncatingIfNeeded: scalar >> 6)
                    bytes[count + 1] = 0x80 | UInt8(truncatingIfNeeded: scalar & 0x3F)
                    count += 2
                }
            }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[..<count]), as: UTF8.self)
        }
    }
}

/// What a key's rule keeps of the lowercased text.
private enum TwoByteRule {
    /// `fn`, `ln` and their first five or first letter: punctuation removed, trimmed again, then at
    /// most `scalarLimit` scalars.
    case name(scalarLimit: Int)
    /// `ct`: letters and marks only.
    case city
}
