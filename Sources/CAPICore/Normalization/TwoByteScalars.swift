/// What the general rules need to know about each scalar below U+0800, in one table.
///
/// Every scalar below U+0800 is one or two bytes of UTF-8, and so are the letters of Latin with
/// accents, Greek, Cyrillic, Armenian, Hebrew and Arabic: most names that are not ASCII. The
/// table is built from ``TextFolding``'s own functions, so a byte path that reads it answers as the
/// general rules by construction; `NormalizerTwoBytePathTests` checks every entry against them.
enum TwoByteScalars {
    /// One entry per scalar value below U+0800: the lowercase scalar in the low 11 bits, then the
    /// flags below.
    static let table: [UInt16] = (0..<UInt32(0x800)).map(entry)

    /// Set when the lowercase mapping depends on the neighbours (capital sigma) or is not one scalar
    /// below U+0800 (U+0130 becomes two scalars, U+023A a three-byte one): the general rules decide.
    static let declines: UInt16 = 1 << 15
    /// `TextFolding.isSpace` of the scalar itself.
    static let space: UInt16 = 1 << 14
    /// `TextFolding.isPunctuation` of the scalar itself.
    static let punctuation: UInt16 = 1 << 13
    /// `TextFolding.isLetterOrMark` of the scalar itself.
    static let letterOrMark: UInt16 = 1 << 12
    static let lowercaseMask: UInt16 = 0x7FF

    private static func entry(_ value: UInt32) -> UInt16 {
        let scalar = Unicode.Scalar(value)!
        var entry: UInt16 = 0
        if TextFolding.isSpace(scalar) { entry |= space }
        if TextFolding.isPunctuation(scalar) { entry |= punctuation }
        if TextFolding.isLetterOrMark(scalar) { entry |= letterOrMark }
        // Alone, capital sigma lowercases to σ; before a word's end it is ς.
        guard value != 0x03A3 else { return entry | declines }
        let lowered = TextFolding.lowercased(Substring(String(Character(scalar)))).unicodeScalars
        guard lowered.count == 1, let lower = lowered.first, lower.value < 0x800 else { return entry | declines }
        return entry | UInt16(lower.value)
    }
}
