/// `em`: trimmed and lowercased by the caller; must look like `local@domain.tld` with no white space.
///
/// The shape test is the reference SDK's (`.+@.+\..+`), so every address it accepts that has no
/// inner white space hashes identically.
enum EmailRule {
    /// Why a value is no email address. It describes the shape without an example address, so an
    /// answer or a log holding it never looks like one that leaked.
    static let invalid = "is not a valid email address (expected a local part, an @ and a domain with a dot, without white space)"

    static func canonical(_ folded: String) -> Result<String, RuleFailure> {
        if TextFolding.isASCII(folded) {
            let bytes = folded.utf8
            if bytes.contains(where: TextFolding.isASCIISpace) {
                return .failure(RuleFailure("is not a valid email address (it contains white space)"))
            }
            // The first '@' after position 0 leaves the longest domain: if any '@' works, it does.
            guard let at = bytes.dropFirst().firstIndex(of: UInt8(ascii: "@")),
                bytes[bytes.index(after: at)...].dropFirst().dropLast().contains(UInt8(ascii: "."))
            else {
                return .failure(RuleFailure(invalid))
            }
            return .success(folded)
        }
        let scalars = Array(folded.unicodeScalars)
        if scalars.contains(where: TextFolding.isSpace) {
            return .failure(RuleFailure("is not a valid email address (it contains white space)"))
        }
        for (index, scalar) in scalars.enumerated() where scalar == "@" && index >= 1 {
            let domain = scalars[(index + 1)...]
            // A dot with at least one character on each side, somewhere after this '@'.
            if domain.dropFirst().dropLast().contains(".") {
                return .success(folded)
            }
        }
        return .failure(RuleFailure(invalid))
    }
}
