/// Trimming, lowercasing and character classes exactly as Meta's reference SDK (Python) sees them.
///
/// Digests only match when every byte matches, so "white space" is Python's `str.isspace` set and
/// lowercasing is Unicode's full mapping with the final-sigma rule, as Python's `str.lower` does.
/// ASCII input, by far the most common, takes a byte-level fast path.
public enum TextFolding {
    /// Python's `str.isspace`: Unicode White_Space plus the information separators U+001C–U+001F,
    /// without U+200B (zero-width space) or U+FEFF.
    @inlinable
    public static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    @inlinable
    static func isASCIISpace(_ byte: UInt8) -> Bool {
        (0x09...0x0D).contains(byte) || (0x1C...0x20).contains(byte)
    }

    /// Python's white space among ASCII bytes (tab, newlines, separators, space).
    @inlinable
    public static func isASCIISpaceByte(_ byte: UInt8) -> Bool { isASCIISpace(byte) }

    /// The value with surrounding white space removed.
    public static func trimmed(_ text: String) -> Substring {
        // Usually nothing to trim: an ASCII byte that is not white space at each end is a whole
        // scalar that stays, so the scalar walk below is not needed.
        if let first = text.utf8.first, let last = text.utf8.last, first < 0x80, last < 0x80, !isASCIISpace(first), !isASCIISpace(last) {
            return text[...]
        }
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isSpace($0) })!
        // Cut between scalars, as Python does: `text[first...last]` would end at a grapheme
        // cluster's end, and a prepended mark (U+0600) joins the space after it into its cluster.
        return Substring(scalars[first...last])
    }

    /// Trimmed and lowercased, as the SDK's `data.lower().strip()`.
    public static func trimmedLowercased(_ text: String) -> String {
        if let ascii = asciiTrimmedLowercased(text) { return ascii }
        return lowercased(trimmed(text))
    }

    /// ASCII fast path; `nil` when the text has any non-ASCII byte.
    @usableFromInline
    static func asciiTrimmedLowercased(_ text: String) -> String? {
        var text = text
        return text.withUTF8 { bytes -> String? in
            var start = 0
            var end = bytes.count
            for byte in bytes where byte >= 0x80 {
                _ = byte
                return nil
            }
            while start < end, isASCIISpace(bytes[start]) { start += 1 }
            while end > start, isASCIISpace(bytes[end - 1]) { end -= 1 }
            return String(unsafeUninitializedCapacity: end - start) { buffer in
                for index in start..<end {
                    let byte = bytes[index]
                    buffer[index - start] = (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
                }
                return end - start
            }
        }
    }

    /// Whether every byte is ASCII: the common case, which takes byte-level fast paths.
    @inlinable
    public static func isASCII(_ text: some StringProtocol) -> Bool {
        text.utf8.allSatisfy { $0 < 0x80 }
    }

    /// Unicode full lowercase mapping with Python's final-sigma rule. Linear in the input: output
    /// is written as UTF-8 into one growing buffer.
    public static func lowercased(_ text: Substring) -> String {
        if isASCII(text) {
            return String(unsafeUninitializedCapacity: text.utf8.count) { buffer in
                var index = 0
                for byte in text.utf8 {
                    buffer[index] = (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
                    index += 1
                }
                return index
            }
        }
        let scalars = Array(text.unicodeScalars)
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count + 8)
        for (index, scalar) in scalars.enumerated() {
            if scalar.value < 0x80 {
                output.append(UInt8(truncatingIfNeeded: (0x41...0x5A).contains(scalar.value) ? scalar.value | 0x20 : scalar.value))
            } else if scalar.value == 0x03A3 {
                appendUTF8(isFinalSigma(scalars, at: index) ? "\u{03C2}" : "\u{03C3}", to: &output)
            } else if !scalar.properties.changesWhenLowercased {
                appendUTF8(scalar, to: &output)
            } else {
                for lower in scalar.properties.lowercaseMapping.unicodeScalars { appendUTF8(lower, to: &output) }
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    @inlinable
    static func appendUTF8(_ scalar: Unicode.Scalar, to output: inout [UInt8]) {
        UTF8.encode(scalar) { output.append($0) }
    }

    /// Unicode's Final_Sigma condition: a cased letter before (skipping case-ignorables) and none after.
    static func isFinalSigma(_ scalars: [Unicode.Scalar], at index: Int) -> Bool {
        var before = index - 1
        while before >= 0, scalars[before].properties.isCaseIgnorable { before -= 1 }
        guard before >= 0, scalars[before].properties.isCased else { return false }
        var after = index + 1
        while after < scalars.count, scalars[after].properties.isCaseIgnorable { after += 1 }
        return !(after < scalars.count && scalars[after].properties.isCased)
    }

    /// The text with only the scalars `keep` accepts.
    @inlinable
    public static func filtered(_ text: String, keep: (Unicode.Scalar) -> Bool) -> String {
        if isASCII(text) {
            return String(unsafeUninitializedCapacity: text.utf8.count) { buffer in
                var count = 0
                for byte in text.utf8 where keep(Unicode.Scalar(byte)) {
                    buffer[count] = byte
                    count += 1
                }
                return count
            }
        }
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars where keep(scalar) { appendUTF8(scalar, to: &output) }
        return String(decoding: output, as: UTF8.self)
    }

    @inlinable
    public static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 {
            let value = scalar.value
            return (0x21...0x2F).contains(value) && value != 0x24 && value != 0x2B
                || (0x3A...0x40).contains(value) && value != 0x3C && value != 0x3D && value != 0x3E
                || (0x5B...0x60).contains(value) && value != 0x5E && value != 0x60
                || value == 0x7B || value == 0x7D
        }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// Letters and combining marks of any script: what survives in city and region names.
    @inlinable
    public static func isLetterOrMark(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 {
            return (0x61...0x7A).contains(scalar.value) || (0x41...0x5A).contains(scalar.value)
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark:
            return true
        default:
            return false
        }
    }

    @inlinable
    public static func isASCIIDigit(_ scalar: Unicode.Scalar) -> Bool { (0x30...0x39).contains(scalar.value) }

    /// Digits of any script as ASCII digits, and the full-width ASCII forms (U+FF01–U+FF5E) as the
    /// ASCII they stand for, so a phone number, postcode, birth date or state code typed through a
    /// Japanese or Chinese input method (`０９０－１２３４－５６７８`, `ＣＡ`) or in Arabic-Indic
    /// digits hashes as Meta's own copy of it does. Only decimal digits (`Nd`) count: `²` or `½` are no digit of a number.
    public static func asciiDigitsAndWidth(_ text: String) -> String {
        if isASCII(text) { return text }
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if (0xFF01...0xFF5E).contains(scalar.value) {
                output.append(UInt8(scalar.value - 0xFEE0))
            } else if scalar.value >= 0x80, scalar.properties.numericType == .decimal, let digit = scalar.properties.numericValue,
                (0...9).contains(digit)
            {
                output.append(0x30 + UInt8(digit))
            } else {
                appendUTF8(scalar, to: &output)
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
