import Foundation

/// The body of `POST /{version}/{pixel_id}/events` as Meta's SDKs send it: JSON, or a form whose
/// values are JSON-encoded (`data` an array of events, or an array of JSON-encoded event strings).
/// A form comes URL-encoded (the Python SDK) or as `multipart/form-data`, which the Java SDK sends
/// for every request and the PHP SDK's cURL adapter too; Graph takes all three.
public struct GraphEventsRequest: Sendable {
    public var fields: JSONObject

    /// Why a body is neither a JSON object nor a form; names a field only as
    /// ``PersonalData/shown(name:)`` shows it, never a value.
    public struct BodyProblem: Error, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// - Throws: ``BodyProblem`` when the body is neither a JSON object nor a form: a form that
    ///   repeats a name, text that is not UTF-8, a multipart body cut short.
    public init(body: Data, contentType: String?) throws(BodyProblem) {
        let contentType = contentType ?? ""
        if Self.isMultipart(contentType) {
            guard let boundary = Self.multipartBoundary(contentType) else {
                throw BodyProblem(reason: "multipart/form-data without a boundary of 1 to 70 printable ASCII characters")
            }
            fields = try Self.multipart(body, boundary: boundary)
        } else if Self.isURLEncoded(contentType) || (!contentType.contains("json") && body.first != UInt8(ascii: "{")) {
            guard let text = String(validating: body, as: UTF8.self) else { throw BodyProblem(reason: "the form is not UTF-8") }
            fields = try Self.form(text)
        } else {
            do {
                guard case .object(let object) = try JSONValue(parsing: body) else { throw BodyProblem(reason: "the JSON body is not an object") }
                fields = object
            } catch let error as JSONValue.ParseError {
                throw BodyProblem(reason: "the body is not valid JSON: \(error.reason) at byte \(error.offset)")
            } catch let problem as BodyProblem {
                throw problem
            } catch {
                throw BodyProblem(reason: "the body is not valid JSON")
            }
        }
    }

    /// Adds the parameters of the request's query string (as sent, percent-encoded), which
    /// count as the body's do: Graph reads both (Meta's curl examples put `access_token` in the
    /// URL, and `?test_event_code=` is a common way to send test events).
    ///
    /// - Throws: ``BodyProblem`` when the query string repeats a name, or gives one the body has
    ///   with another value (which of the two Graph would take is not documented).
    public mutating func addQueryParameters(_ query: String?) throws(BodyProblem) {
        guard let query, !query.isEmpty else { return }
        for (name, value) in try Self.form(query, origin: "the query string") {
            if let given = fields[name] {
                guard given == value else {
                    throw BodyProblem(
                        reason: "the field `\(PersonalData.shown(name: name))` is given in both the query string and the body, with different values"
                    )
                }
            } else {
                fields[name] = value
            }
        }
    }

    public var accessToken: String? { fields["access_token"]?.stringValue }

    /// The token of an `Authorization` header in the forms Graph takes, `Bearer <token>` and
    /// `OAuth <token>`, the scheme in any case (RFC 9110 §11.1) and any spaces after it; `nil` for
    /// another scheme or no token. `bearer x` used to be no token at all, and the request a 401.
    public static func accessToken(authorization: String) -> String? {
        guard let space = authorization.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
        let scheme = authorization[..<space].lowercased()
        guard scheme == "bearer" || scheme == "oauth" else { return nil }
        let token = authorization[space...].drop { $0 == " " || $0 == "\t" }
        guard !token.isEmpty, !token.contains(where: { $0 == " " || $0 == "\t" }) else { return nil }
        return String(token)
    }
    public var testEventCode: String? { fields["test_event_code"]?.stringValue }

    /// The elements of `data` (JSON-encoded ones decoded), each to be judged as an event; `nil`
    /// when `data` is missing or not an array.
    public var events: [JSONValue]? { Self.events(from: fields["data"]) }

    /// Why `data` holds no events to judge, or more than a request may carry; `nil` when
    /// `events` (this request's ``events``) are 1 to `limit`. Names the slip (missing, not JSON
    /// and where, not an array, empty, too many), never a value.
    public func dataProblem(events: [JSONValue]?, limit: Int) -> String? {
        if let events {
            if events.isEmpty { return "data is an empty array: send 1 to \(limit) events" }
            if events.count > limit { return "data has \(events.count) events, over the \(limit) one request may carry: split it" }
            return nil
        }
        switch fields["data"] {
        case nil, .null?: return "data is required: an array of 1 to \(limit) events"
        case .string(let text)?:
            // A form's `data` that did not parse was kept as text; one that did is not an array.
            do {
                return "data must be an array of events, found \(try JSONValue(parsing: text).typeName) in JSON text"
            } catch {
                return "data is not valid JSON: \(error.reason) at byte \(error.offset)"
            }
        case let data?: return "data must be an array of events, found \(data.typeName)"
        }
    }

    /// `application/x-www-form-urlencoded` fields, refused when a name repeats (which copy counts
    /// would depend on the parser). Pairs are read by ``URLEncodedForm/pairs(_:)``.
    static func form(_ text: String, origin: String = "the form") throws(BodyProblem) -> JSONObject {
        var result: JSONObject = [:]
        for (name, value) in URLEncodedForm.pairs(text) { try add(name, value, to: &result, origin: origin) }
        return result
    }

    /// Adds a form field, `data` parsed when it is JSON; refused when the name is already there.
    private static func add(_ name: String, _ value: String, to fields: inout JSONObject, origin: String = "the form") throws(BodyProblem) {
        let field: JSONValue = if name == "data", let parsed = try? JSONValue(parsing: value) { parsed } else { .string(value) }
        guard fields.updateValue(field, forKey: name) == nil else {
            throw BodyProblem(reason: "\(origin) gives the field `\(PersonalData.shown(name: name))` more than once")
        }
    }

    /// Whether `contentType` names a form, either kind: the shape this route reads and the
    /// mirror routes do not.
    public static func isForm(_ contentType: String) -> Bool { isMultipart(contentType) || isURLEncoded(contentType) }

    static func isMultipart(_ contentType: String) -> Bool { mediaType(contentType) == "multipart/form-data" }

    static func isURLEncoded(_ contentType: String) -> Bool { mediaType(contentType) == "application/x-www-form-urlencoded" }

    /// The type without its parameters, lowercased.
    private static func mediaType(_ contentType: String) -> String {
        contentType.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces).lowercased()
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

    /// `multipart/form-data` fields, each part's body its value (see ``MultipartFormFields/Part/text``);
    /// refused when the body is no complete multipart body (a cut one would lose its last part
    /// unseen), a value cannot be read, or a name repeats.
    static func multipart(_ body: Data, boundary: String) throws(BodyProblem) -> JSONObject {
        var result: JSONObject = [:]
        for part in try MultipartFormFields.parse([UInt8](body), boundary: boundary) {
            guard let text = part.text else {
                throw BodyProblem(
                    reason:
                        "the value of the part `\(PersonalData.shown(name: part.name))` is not in its charset, or in one this reads (UTF-8, ISO-8859-1)"
                )
            }
            try add(part.name, text, to: &result)
        }
        return result
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
