/// The byte-level path for ASCII values, which nearly all values are.
///
/// A profile of `bench normalize` put 40% of an event's time in normalization, most of it in
/// building a `String` for each step (folded, filtered, trimmed) and walking them through
/// `String`'s generic views. Here a value is folded once into one scratch buffer, the rule edits
/// that buffer in place, and the canonical text is made from there. Phone numbers and birth dates
/// are scanned on the same bytes; birth-date parts and dates written with month names get the
/// folded text and the general rule. The answers are the general path's exactly;
/// `NormalizerASCIIPathTests` compares the two over every rule.
extension Normalizer {
    /// `nil` when `value` has a byte outside ASCII: the general rules decide those.
    func normalizeASCII(_ key: UserDataKey, _ value: String, country: String?) -> Result<CanonicalValue, NormalizationIssue>? {
        var value = value
        return value.withUTF8 { input in
            guard ASCIIBytes.isASCII(input) else { return nil }
            var start = 0
            var end = input.count
            while start < end, TextFolding.isASCIISpace(input[start]) { start += 1 }
            while end > start, TextFolding.isASCIISpace(input[end - 1]) { end -= 1 }
            guard start < end else { return .failure(issue(key, "is empty")) }
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: end - start) { scratch in
                for index in start..<end { scratch[index - start] = ASCIIBytes.lowercased(input[index]) }
                let folded = UnsafeBufferPointer(rebasing: scratch[..<(end - start)])
                if let digest = HexDigest(hex: folded) { return .success(.digest(digest)) }
                switch canonicalASCII(key, scratch, count: folded.count, country: country) {
                case .bytes(let range):
                    return .success(.canonical(String(decoding: UnsafeBufferPointer(rebasing: scratch[range]), as: UTF8.self)))
                case .text(let canonical):
                    return .success(.canonical(canonical))
                case .failure(let reason):
                    return .failure(issue(key, reason))
                }
            }
        }
    }

    /// A rule's answer on the scratch buffer.
    private enum ASCIICanonical {
        /// The canonical text is these bytes of the buffer.
        case bytes(Range<Int>)
        /// The canonical text came from a table or a general rule.
        case text(String)
        case failure(String)
    }

    /// `canonical(_:_:country:)` for folded ASCII in `buffer[0..<count]`, editing it in place.
    private func canonicalASCII(_ key: UserDataKey, _ buffer: UnsafeMutableBufferPointer<UInt8>, count: Int, country: String?) -> ASCIICanonical {
        switch key {
        case .email:
            let folded = UnsafeBufferPointer(rebasing: buffer[..<count])
            if folded.contains(where: TextFolding.isASCIISpace) { return .failure("is not a valid email address (it contains white space)") }
            // As the general rule: a '@' after the first byte, then a dot with a byte on each side.
            guard let at = folded[1...].firstIndex(of: UInt8(ascii: "@")), at + 2 < count - 1,
                folded[(at + 2)..<(count - 1)].contains(UInt8(ascii: "."))
            else {
                return .failure(EmailRule.invalid)
            }
            return .bytes(0..<count)
        case .firstName, .lastName, .firstNameFirst5, .lastNameFirst5, .firstInitial:
            let kept = ASCIIBytes.compact(buffer, count) { !TextFolding.isPunctuation(Unicode.Scalar($0)) }
            var start = 0
            var end = kept
            while start < end, TextFolding.isASCIISpace(buffer[start]) { start += 1 }
            while end > start, TextFolding.isASCIISpace(buffer[end - 1]) { end -= 1 }
            guard start < end else { return .failure("has no letters") }
            switch key {
            case .firstNameFirst5, .lastNameFirst5: return .bytes(start..<min(end, start + 5))
            case .firstInitial: return .bytes(start..<(start + 1))
            default: return .bytes(start..<end)
            }
        case .city:
            let letters = ASCIIBytes.compact(buffer, count, keep: ASCIIBytes.isLowercaseLetter)
            return letters == 0 ? .failure("has no letters") : .bytes(0..<letters)
        case .state:
            let letters = ASCIIBytes.compact(buffer, count, keep: ASCIIBytes.isLowercaseLetter)
            if country == nil || country == "us",
                let code = USStates.codes[String(decoding: UnsafeBufferPointer(rebasing: buffer[..<letters]), as: UTF8.self)]
            {
                return .text(code)
            }
            return letters == 0 ? .failure("has no letters") : .bytes(0..<letters)
        case .zip:
            // The ZIP+4 shape is judged on the folded text, before spaces and dashes go.
            let isUS = country == "us" || (country == nil && ASCIIBytes.isZIPPlus4(UnsafeBufferPointer(rebasing: buffer[..<count])))
            let kept = ASCIIBytes.compact(buffer, count) { !TextFolding.isASCIISpace($0) && $0 != UInt8(ascii: "-") }
            guard kept > 0 else { return .failure("is empty") }
            let cleaned = UnsafeBufferPointer(rebasing: buffer[..<kept])
            if isUS {
                guard kept >= 5, cleaned[..<5].allSatisfy(ASCIIBytes.isDigit) else { return .failure("is not a US ZIP code (5 digits)") }
                return .bytes(0..<5)
            }
            guard cleaned.allSatisfy({ ASCIIBytes.isLowercaseLetter($0) || ASCIIBytes.isDigit($0) }) else {
                return .failure("may contain only letters and digits")
            }
            return .bytes(0..<kept)
        case .country:
            let letters = ASCIIBytes.compact(buffer, count, keep: ASCIIBytes.isLowercaseLetter)
            let lookupKey = String(decoding: UnsafeBufferPointer(rebasing: buffer[..<letters]), as: UTF8.self)
            guard let code = CountryCodes.alpha2(forKey: lookupKey) else {
                return .failure("is not an ISO 3166-1 country code or a known country name")
            }
            return .text(code)
        case .gender:
            switch String(decoding: UnsafeBufferPointer(rebasing: buffer[..<count]), as: UTF8.self) {
            case "m", "male", "man": return .text("m")
            case "f", "female", "woman": return .text("f")
            default: return .failure("must be m or f (male, man, female, woman)")
            }
        case .phone:
            switch PhoneRule.canonical(ascii: UnsafeBufferPointer(rebasing: buffer[..<count]), country: country) {
            case .success(let digits): return .text(digits)
            case .failure(let failure): return .failure(failure.reason)
            }
        case .dateOfBirth:
            switch DateOfBirthRule.canonical(ascii: UnsafeBufferPointer(rebasing: buffer[..<count]), today: today) {
            case .success(let date)?: return .text(date)
            case .failure(let failure)?: return .failure(failure.reason)
            case nil: return general(key, buffer, count: count, country: country)
            }
        default:
            return general(key, buffer, count: count, country: country)
        }
    }

    /// The general rule on the folded text: birth-date parts, the rest, and month names.
    private func general(_ key: UserDataKey, _ buffer: UnsafeMutableBufferPointer<UInt8>, count: Int, country: String?) -> ASCIICanonical {
        switch canonical(key, String(decoding: UnsafeBufferPointer(rebasing: buffer[..<count]), as: UTF8.self), country: country) {
        case .success(let text): return .text(text)
        case .failure(let issue): return .failure(issue.reason)
        }
    }
}
