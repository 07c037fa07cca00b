import CAPICore

/// How an unknown field is named in counters, alarms and logs: its container, a short safe prefix
/// and a digest, never the raw name. A sender's mistake can put a personal value where a key
/// belongs (`{"user_data": {"jane@example.com": …}}`), and a name that is not a known parameter
/// cannot be told apart from one.
///
/// `user_data.emai…#3b5d5c37`: at most four leading characters from `[a-z0-9_]` (none when the
/// name looks like an email address or a phone number), then the first
/// eight hex digits of the name's SHA-256, so an operator can confirm a guess with
/// `printf %s NAME | sha256sum`.
public enum UnknownFieldLabel {
    public static let prefixLength = 4

    public static func label(container: String, name: String) -> String {
        var prefix = ""
        for byte in name.utf8.prefix(PersonalData.isShowable(name: name) ? prefixLength : 0) {
            guard (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F else { break }
            prefix.unicodeScalars.append(Unicode.Scalar(byte))
        }
        let digest = SHA256Hex.digest(name).prefix(8)
        return "\(container).\(prefix)…#\(digest)"
    }
}
