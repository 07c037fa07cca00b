/// `ph`: E.164 digits without `+`.
///
/// Formatting (`+ - . ( ) /`, spaces, a `tel:` scheme) is dropped. `+`, `00` or both (`+00`) mean
/// the calling code is present, and so does the international prefix of `country` (`011` in the
/// United States, `0011` in Australia, `810` in Russia); a `(0)` after it, or the national prefix
/// of the code's country, is dropped. A national number gets the calling code of `country` with
/// that country's national prefix removed as libphonenumber removes it (UK, Japan and Germany drop
/// the leading 0, Italy keeps it, Argentina's `011 15` becomes `9 11`). Without a country, digits
/// are taken as already international, as the reference SDK does. The result must be 7–15 digits.
enum PhoneRule {
    static func canonical(_ folded: String, country: String?) -> Result<String, RuleFailure> {
        var text = Substring(folded)
        // A URI scheme such as `tel:` or `callto:`.
        if let colon = text.firstIndex(of: ":"), text[..<colon].allSatisfy({ $0.isASCII && $0.isLetter }) {
            text = text[text.index(after: colon)...]
        }
        var digitBytes: [UInt8] = []
        digitBytes.reserveCapacity(20)
        var international = false
        var sawDigit = false
        var scalars = text.unicodeScalars[...]
        while let scalar = scalars.first {
            scalars = scalars.dropFirst()
            switch scalar {
            case "0"..."9":
                digitBytes.append(UInt8(scalar.value))
                sawDigit = true
            case "+":
                guard !sawDigit, !international else { return .failure(RuleFailure("has a `+` that is not at the start")) }
                international = true
            case "(":
                // `(0)` right after an international calling code is a trunk 0 written for national callers.
                if international || digitBytes.starts(with: [0x30, 0x30]), scalars.starts(with: ["0", ")"]) {
                    scalars = scalars.dropFirst(2)
                }
            case "-", ".", ")", "/":
                break
            default:
                if TextFolding.isSpace(scalar) { break }
                if scalar.properties.isAlphabetic {
                    return .failure(RuleFailure("contains letters; only digits and formatting are allowed"))
                }
                return .failure(RuleFailure("contains a character that is not part of a phone number"))
            }
        }
        guard !digitBytes.isEmpty else { return .failure(RuleFailure("has no digits")) }
        return e164(digits: String(decoding: digitBytes, as: UTF8.self), international: international, country: country)
    }

    /// ``canonical(_:country:)`` for folded ASCII, scanned on bytes; the digits go to the same
    /// ``e164(digits:international:country:)``.
    static func canonical(ascii folded: UnsafeBufferPointer<UInt8>, country: String?) -> Result<String, RuleFailure> {
        var index = 0
        // A URI scheme such as `tel:` or `callto:` (folded: its letters are lowercase).
        if let colon = folded.firstIndex(of: UInt8(ascii: ":")), folded[..<colon].allSatisfy(ASCIIBytes.isLowercaseLetter) {
            index = colon + 1
        }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: folded.count) { digitBytes in
            var digitCount = 0
            var international = false
            while index < folded.count {
                let byte = folded[index]
                index += 1
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    digitBytes[digitCount] = byte
                    digitCount += 1
                case UInt8(ascii: "+"):
                    guard digitCount == 0, !international else { return .failure(RuleFailure("has a `+` that is not at the start")) }
                    international = true
                case UInt8(ascii: "("):
                    let afterDoubleZero = digitCount >= 2 && digitBytes[0] == 0x30 && digitBytes[1] == 0x30
                    if international || afterDoubleZero, index + 1 < folded.count, folded[index] == UInt8(ascii: "0"),
                        folded[index + 1] == UInt8(ascii: ")")
                    {
                        index += 2
                    }
                case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ")"), UInt8(ascii: "/"):
                    break
                default:
                    if TextFolding.isASCIISpace(byte) { break }
                    if ASCIIBytes.isLowercaseLetter(byte) || (0x41...0x5A).contains(byte) {
                        return .failure(RuleFailure("contains letters; only digits and formatting are allowed"))
                    }
                    return .failure(RuleFailure("contains a character that is not part of a phone number"))
                }
            }
            guard digitCount > 0 else { return .failure(RuleFailure("has no digits")) }
            let digits = String(decoding: UnsafeBufferPointer(rebasing: digitBytes[..<digitCount]), as: UTF8.self)
            return e164(digits: digits, international: international, country: country)
        }
    }

    /// E.164 digits from the digits a scan kept and whether it saw an international prefix (`+`).
    private static func e164(digits: String, international: Bool, country: String?) -> Result<String, RuleFailure> {
        var digits = digits
        var international = international
        if international {
            // `+00 44 …` and `+0 44 …`: a `+` written before the dialling prefix. No calling code
            // starts with 0, and Meta's rule is to remove leading zeros; the SDK removes up to two.
            digits.removeFirst(digits.prefix(2).prefix { $0 == "0" }.count)
        } else if let country, let rest = InternationalPrefixRule.byRegion[country]?.digitsAfterPrefix(of: digits).map(String.init),
            CallingCode.leadingCode(of: rest) != nil
        {
            // Dialled from the country with its own international prefix (`011` from the United
            // States). A prefix that leads to no calling code is not one (`0082 …` from Korea, where
            // `008` is a carrier's prefix): `00` is then read as everywhere.
            international = true
            digits = rest
        } else if digits.hasPrefix("00") {
            international = true
            digits.removeFirst(2)
        }
        let e164: String
        if international {
            guard let code = CallingCode.leadingCode(of: digits) else {
                return .failure(RuleFailure("does not start with a known country calling code"))
            }
            var national = String(digits.dropFirst(code.count))
            // A national prefix written after the calling code (`+7 8 912 …`, `+36 06 20 …`,
            // `+54 011 15 …`) is taken off as it would be in the country; a trunk 0 always is.
            if let plan = CallingCode.byCode[code] {
                if let significant = plan.significantNumber(of: national) {
                    national = significant
                } else if national.first == "0", plan.trunkPrefix == "0" {
                    national.removeFirst()
                }
            }
            e164 = code + national
        } else if let country {
            guard let plan = CallingCode.forRegion(country) else {
                return .failure(RuleFailure("is a national number and the country has no known calling code"))
            }
            e164 = nationalToE164(digits, plan: plan)
        } else {
            guard digits.first != "0" else {
                return .failure(RuleFailure("is a national number (leading 0) and no country is known; add the country code or user_data.country"))
            }
            e164 = digits
        }
        guard (7...15).contains(e164.utf8.count) else {
            return .failure(RuleFailure("must have 7 to 15 digits including the country code"))
        }
        guard e164.first != "0" else { return .failure(RuleFailure("does not start with a country calling code")) }
        return .success(e164)
    }

    static func nationalToE164(_ digits: String, plan: CallingCode) -> String {
        if let significant = plan.significantNumber(of: digits) {
            return plan.code + significant
        }
        if plan.trunkPrefix != nil {
            // Without its trunk prefix but with the calling code: already international, `+` omitted.
            if digits.hasPrefix(plan.code), digits.utf8.count - plan.code.utf8.count >= plan.shortestNational {
                return digits
            }
            return plan.code + digits
        }
        // No trunk prefix (Italy keeps its 0): only a number too long to be national carries its code.
        if digits.hasPrefix(plan.code), digits.utf8.count > plan.longestNational {
            return digits
        }
        return plan.code + digits
    }
}
