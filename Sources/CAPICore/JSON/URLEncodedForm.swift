import Foundation

/// `application/x-www-form-urlencoded` text read as browsers and Graph read it, shared by the
/// Graph-compatible route and the stand-in so both see the same fields.
public enum URLEncodedForm {
    /// The name and value of each pair, in order. A pair without `=` has an empty value, and an
    /// empty value is kept (`name=` is a field that is there and empty, not one left out); empty
    /// pairs (`&&`) and pairs with an empty name are skipped. A value that is not valid
    /// percent-encoding is kept as written.
    public static func pairs(_ text: some StringProtocol) -> [(name: String, value: String)] {
        text.split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0])
            guard !name.isEmpty else { return nil }
            return (name, parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// `name=value&…`, as a query string or a form body, encoded so that a form reader (Graph's,
    /// ``pairs(_:)``) reads back exactly these pairs. `URLComponents` alone leaves a `+` as it is,
    /// which a form reader takes for a space: a secret or a cursor with one would arrive changed.
    public static func encoded(_ pairs: [(name: String, value: String)]) -> String {
        var components = URLComponents()
        components.queryItems = pairs.map { URLQueryItem(name: $0.name, value: $0.value) }
        return (components.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
    }

    /// `+` as a space, then percent-decoding.
    static func decode(_ text: some StringProtocol) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? String(text)
    }
}
