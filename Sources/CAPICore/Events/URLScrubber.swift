import Foundation

/// Removes personal data that apps put in page URLs (`?email=…`), so it is never stored or sent.
///
/// A query parameter goes when its name is a personal field or its value looks like an email
/// address or a phone number; everything else (utm_*, fbclid, product ids) stays byte for byte.
public enum URLScrubber {
    static let personalNames: Set<String> = [
        "email", "e-mail", "mail", "em", "phone", "tel", "telephone", "mobile", "ph", "name", "first_name", "firstname",
        "fname", "fn", "last_name", "lastname", "lname", "ln", "address", "street", "zip", "zipcode", "postcode",
        "postal_code", "dob", "birthday", "birthdate", "date_of_birth",
    ]

    /// The URL without personal query parameters, and the names of those removed.
    public static func scrub(_ url: String) -> (url: String, removed: [String]) {
        guard let question = url.firstIndex(of: "?") else { return (url, []) }
        let fragmentStart = url[question...].firstIndex(of: "#") ?? url.endIndex
        let query = url[url.index(after: question)..<fragmentStart]
        var kept: [Substring] = []
        var removed: [String] = []
        for parameter in query.split(separator: "&", omittingEmptySubsequences: false) {
            let parts = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = (parts[0].removingPercentEncodingIfPossible).lowercased()
            let value = parts.count > 1 ? parts[1].removingPercentEncodingIfPossible : ""
            if personalNames.contains(name) || looksPersonal(value) {
                removed.append(name)
            } else {
                kept.append(parameter)
            }
        }
        guard !removed.isEmpty else { return (url, []) }
        let base = url[..<question]
        let rebuilt = kept.isEmpty ? String(base) : base + "?" + kept.joined(separator: "&")
        return (rebuilt + url[fragmentStart...], removed)
    }

    /// An email address, or a formatted phone number (7+ digits with `+` or phone punctuation).
    /// Bare digit runs are kept: they are far more often order or product ids.
    static func looksPersonal(_ value: String) -> Bool {
        if let at = value.firstIndex(of: "@"), value[value.index(after: at)...].contains(".") { return true }
        let digits = value.filter(\.isWholeNumber).count
        let formatted = value.contains { " +-()".contains($0) }
        return digits >= 7 && formatted && value.allSatisfy { $0.isWholeNumber || " +-().".contains($0) }
    }
}

extension Substring {
    fileprivate var removingPercentEncodingIfPossible: String {
        String(self).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(self)
    }
}
