/// A `test_event_code` as Events Manager gives them (`TEST` and digits). Meta's events sent with one
/// appear under Test Events instead of counting as live conversions.
public enum TestEventCode {
    /// Letters, digits, `_` and `-`, 1 to 64 of them: anything else would ride along in every
    /// request of the batch its event is sent in.
    public static func isValid(_ code: String) -> Bool {
        !code.isEmpty && code.utf8.count <= 64
            && code.utf8.allSatisfy { byte in
                ASCIIBytes.isDigit(byte) || ASCIIBytes.isLowercaseLetter(byte | 0x20) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }

    /// What a refusal says, naming no value.
    public static let expected = "must be the code Events Manager shows under Test Events (letters, digits, _ or -, at most 64), such as TEST12345"
}
