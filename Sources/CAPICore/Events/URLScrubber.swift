import Foundation

/// Masks personal data that apps put in page URLs (`?email=…`, `/u/jane@example.com`,
/// `#phone=+1…`), so it is never stored or sent.
///
/// A query or fragment parameter is masked when its name is a personal field or its value looks
/// like an email address or a phone number; a path or fragment segment when it holds either shape;
/// credentials before the host are removed. Masked values become ``placeholder``; everything else
/// (utm_*, fbclid, product ids) stays byte for byte.
public enum URLScrubber {
    /// What a masked value reads as.
    public static let placeholder = "redacted"

    /// The URL with personal values masked, and the names of what was masked (parameter names,
    /// `path`, `fragment`, `userinfo`), never the values.
    public static func scrub(_ url: String) -> (url: String, removed: [String]) {
        guard mayHoldPersonalData(url) else { return (url, []) }
        var removed: [String] = []
        var rest = Substring(url)
        var output = ""
        output.reserveCapacity(url.utf8.count)
        // scheme://authority; text before `://` that is no scheme is read as path, where it is checked.
        if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://"), isScheme(rest[..<colon]) {
            let authorityStart = rest.index(colon, offsetBy: 3)
            output += rest[..<authorityStart]
            rest = rest[authorityStart...]
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
            var authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@") {
                authority = authority[authority.index(after: at)...]
                removed.append("userinfo")
            }
            output += authority
            rest = rest[authorityEnd...]
        }
        let fragmentStart = rest.firstIndex(of: "#") ?? rest.endIndex
        let queryStart = rest[..<fragmentStart].firstIndex(of: "?") ?? fragmentStart
        let path = rest[..<queryStart]
        output += maskSegments(path, separator: "/", label: "path", removed: &removed)
        if queryStart < fragmentStart {
            output += "?"
            output += maskParameters(rest[rest.index(after: queryStart)..<fragmentStart], removed: &removed)
        }
        if fragmentStart < rest.endIndex {
            output += "#"
            let fragment = rest[rest.index(after: fragmentStart)...]
            output +=
                fragment.contains("=")
                ? maskParameters(fragment, removed: &removed, label: "fragment")
                : maskSegments(fragment, separator: "/", label: "fragment", removed: &removed)
        }
        guard !removed.isEmpty else { return (url, []) }
        var seen = Set<String>()
        return (output, removed.filter { seen.insert($0).inserted })
    }

    private static func maskSegments(_ text: Substring, separator: Character, label: String, removed: inout [String]) -> String {
        guard !text.isEmpty else { return "" }
        var masked = false
        let segments = text.split(separator: separator, omittingEmptySubsequences: false).map { segment -> Substring in
            guard looksPersonal(segment) else { return segment }
            masked = true
            return Substring(placeholder)
        }
        guard masked else { return String(text) }
        removed.append(label)
        return segments.joined(separator: String(separator))
    }

    private static func maskParameters(_ text: Substring, removed: inout [String], label: String? = nil) -> String {
        var masked = false
        let parameters = text.split(separator: "&", omittingEmptySubsequences: false).map { parameter -> String in
            let parts = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decoded(parts[0])
            let value = parts.count > 1 ? parts[1] : ""
            if PersonalData.isPersonalName(name) && !value.isEmpty || looksPersonal(value) || looksPersonal(parts[0]) {
                masked = true
                // The name is reported (it lands in the event's warnings and stored answer), so a
                // name that is itself an email or phone number, or a piece of one, is reported as
                // `redacted`.
                let nameIsPersonal = !PersonalData.isShowable(name: name)
                removed.append(label ?? (nameIsPersonal ? placeholder : String(name.prefix(64)).lowercased()))
                return nameIsPersonal ? placeholder : String(parts[0]) + "=" + placeholder
            }
            return String(parameter)
        }
        return masked ? parameters.joined(separator: "&") : String(text)
    }

    /// RFC 3986's `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`. What the scrubber keeps as a scheme
    /// is not checked for personal data, so `jane@example.com://` must not pass for one.
    private static func isScheme(_ text: Substring) -> Bool {
        func isLetter(_ byte: UInt8) -> Bool { (0x61...0x7A).contains(byte | 0x20) }
        guard let first = text.utf8.first, isLetter(first) else { return false }
        return text.utf8.allSatisfy {
            isLetter($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
        }
    }

    /// One pass over the bytes: without `@`, `%`, `=` or seven digits nothing can be masked, and
    /// the URL (most page URLs) is returned as it is.
    static func mayHoldPersonalData(_ url: String) -> Bool {
        var digits = 0
        for byte in url.utf8 {
            switch byte {
            case UInt8(ascii: "@"), UInt8(ascii: "%"), UInt8(ascii: "="): return true
            case 0x30...0x39:
                digits += 1
                if digits >= 7 { return true }
            default: continue
            }
        }
        return false
    }

    /// Whether a piece of a URL holds an email address or a phone number, decoded or as written:
    /// `s@%20.` decodes to no address, but a scan of what is stored reads it as one.
    private static func looksPersonal(_ text: Substring) -> Bool {
        let plain = decoded(text)
        return PersonalData.looksPersonal(plain) || (plain != text && PersonalData.looksPersonal(text))
    }

    private static func decoded(_ text: Substring) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return String(text) }
        return String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
    }
}
