import Foundation

/// The body of `POST /{version}/{pixel_id}/events` as Meta's SDKs send it: JSON, or a form whose
/// values are JSON-encoded (`data` an array of events, or an array of JSON-encoded event strings).
public struct GraphEventsRequest: Sendable {
    public var fields: JSONObject

    /// `nil` when the body is neither a JSON object nor a form (a form with a repeated name, or
    /// text that is not UTF-8, counts as neither).
    public init?(body: Data, contentType: String?) {
        let contentType = contentType ?? ""
        if contentType.contains("application/x-www-form-urlencoded") || (!contentType.contains("json") && body.first != UInt8(ascii: "{")) {
            guard let text = String(validating: body, as: UTF8.self), let fields = Self.form(text) else { return nil }
            self.fields = fields
        } else if let object = (try? JSONValue(parsing: body))?.objectValue {
            fields = object
        } else {
            return nil
        }
    }

    public var accessToken: String? { fields["access_token"]?.stringValue }
    public var testEventCode: String? { fields["test_event_code"]?.stringValue }

    /// The elements of `data` (JSON-encoded ones decoded), each to be judged as an event; `nil`
    /// when `data` is missing or not an array.
    public var events: [JSONValue]? { Self.events(from: fields["data"]) }

    /// `application/x-www-form-urlencoded` fields; `nil` when a name repeats (which copy counts
    /// would depend on the parser). Empty pairs (`&&`, a bare `=`) are skipped.
    static func form(_ text: String) -> JSONObject? {
        var result: JSONObject = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0])
            guard !name.isEmpty else { continue }
            let value = parts.count > 1 ? decode(parts[1]) : ""
            let field: JSONValue = if name == "data", let parsed = try? JSONValue(parsing: value) { parsed } else { .string(value) }
            guard result.updateValue(field, forKey: name) == nil else { return nil }
        }
        return result
    }

    static func decode(_ text: Substring) -> String {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
    }

    static func events(from data: JSONValue?) -> [JSONValue]? {
        switch data {
        case .array(let elements)?:
            // Each element as given, a JSON-encoded one decoded: one that is no event is judged
            // with the others and named by its index (`data[1]`), not refused as a whole `data`.
            return elements.map { element in
                if case .string(let text) = element, let event = try? JSONValue(parsing: text) { return event }
                return element
            }
        case .string(let text)?:
            return (try? JSONValue(parsing: text)).flatMap { events(from: $0) }
        default:
            return nil
        }
    }
}
