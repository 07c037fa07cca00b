import Foundation

/// The body of `POST /{version}/{pixel_id}/events` as Meta's SDKs send it: JSON, or a form whose
/// values are JSON-encoded (`data` an array of events, or an array of JSON-encoded event strings).
/// A form comes URL-encoded (the Python SDK) or as `multipart/form-data`, which the Java SDK sends
/// for every request and the PHP SDK's cURL adapter too; Graph takes all three.
public struct GraphEventsRequest: Sendable {
    public var fields: JSONObject

    /// `nil` when the body is neither a JSON object nor a form (a form with a repeated name, or
    /// text that is not UTF-8, counts as neither).
    public init?(body: Data, contentType: String?) {
        let contentType = contentType ?? ""
        if Self.isMultipart(contentType) {
            guard let boundary = Self.multipartBoundary(contentType), let fields = Self.multipart(body, boundary: boundary) else { return nil }
            self.fields = fields
        } else if contentType.contains("application/x-www-form-urlencoded") || (!contentType.contains("json") && body.first != UInt8(ascii: "{")) {
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
            guard add(name, parts.count > 1 ? decode(parts[1]) : "", to: &result) else { return nil }
        }
        return result
    }

    /// Adds a form field, `data` parsed when it is JSON; `false` when the name is already there.
    private static func add(_ name: String, _ value: String, to fields: inout JSONObject) -> Bool {
        let field: JSONValue = if name == "data", let parsed = try? JSONValue(parsing: value) { parsed } else { .string(value) }
        return fields.updateValue(field, forKey: name) == nil
    }

    static func isMultipart(_ contentType: String) -> Bool {
        contentType.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces).lowercased() == "multipart/form-data"
    }

    /// The `boundary` parameter of a `multipart/form-data` content type (quoted or not), or `nil`
    /// for any other type or a boundary that is empty, over RFC 2046's 70 characters, or not
    /// printable ASCII (RFC 2046 allows fewer characters still, but the Java SDK's is 64 `~`).
    static func multipartBoundary(_ contentType: String) -> String? {
        guard isMultipart(contentType), let boundary = MultipartFormFields.parameter("boundary", in: Substring(contentType)),
            (1...70).contains(boundary.utf8.count), boundary.utf8.allSatisfy({ (0x20...0x7E).contains($0) })
        else { return nil }
        return boundary
    }

    /// `multipart/form-data` fields, each part's body its value; `nil` when the body is no
    /// complete multipart body (a cut one would lose its last part unseen), a value is not UTF-8,
    /// or a name repeats.
    static func multipart(_ body: Data, boundary: String) -> JSONObject? {
        guard let parts = MultipartFormFields.parse([UInt8](body), boundary: boundary) else { return nil }
        var result: JSONObject = [:]
        for part in parts {
            guard let text = String(validating: part.value, as: UTF8.self), add(part.name, text, to: &result) else { return nil }
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
