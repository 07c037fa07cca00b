/// `zp`: lowercase without spaces or dashes; a US ZIP keeps its first five digits (ZIP+4 is cut).
enum PostcodeRule {
    static func canonical(_ folded: String, country: String?) -> Result<String, RuleFailure> {
        let cleaned = TextFolding.filtered(folded) { !TextFolding.isSpace($0) && $0 != "-" }
        guard !cleaned.isEmpty else { return .failure(RuleFailure("is empty")) }
        let isUS = country == "us" || (country == nil && looksLikeZIPPlus4(folded))
        if isUS {
            let five = cleaned.utf8.prefix(5)
            guard five.count == 5, five.allSatisfy({ (0x30...0x39).contains($0) }) else {
                return .failure(RuleFailure("is not a US ZIP code (5 digits)"))
            }
            return .success(String(decoding: five, as: UTF8.self))
        }
        guard cleaned.unicodeScalars.allSatisfy({ TextFolding.isLetterOrMark($0) || $0.properties.numericType != nil }) else {
            return .failure(RuleFailure("may contain only letters and digits"))
        }
        return .success(cleaned)
    }

    /// `12345-6789`: a ZIP+4 even when the country is not given.
    static func looksLikeZIPPlus4(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[5] == UInt8(ascii: "-") else { return false }
        return bytes.enumerated().allSatisfy { index, byte in index == 5 || (0x30...0x39).contains(byte) }
    }
}
