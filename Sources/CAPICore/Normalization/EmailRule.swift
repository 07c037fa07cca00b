/// `em`: trimmed and lowercased by the caller; must look like `local@domain.tld` with no white space.
///
/// The shape test is the reference SDK's (`.+@.+\..+`), so every address it accepts that has no
/// inner white space hashes identically.
enum EmailRule {
    static func canonical(_ folded: String) -> Result<String, RuleFailure> {
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
        return .failure(RuleFailure("is not a valid email address (expected local@domain.tld)"))
    }
}
