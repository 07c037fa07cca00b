/// One line of `capi-connector normalize`: `{"field", "value", "country"?}` in,
/// `{"field", "normalized", "hash"}` or `{"field", "error"}` out.
///
/// Lines are bytes: a line that is not UTF-8, not one JSON object, or that repeats a key gets an
/// error line of its own (never a crash, never a silent skip), and output order is input order.
public enum NormalizationLine {
    /// The answer to one input line, as one line of JSON (no trailing newline).
    public static func respond(to line: some Collection<UInt8>, normalizer: Normalizer, defaultCountry: String? = nil) -> String {
        answer(to: line, normalizer: normalizer, defaultCountry: defaultCountry).serialized
    }

    public static func respond(to line: String, normalizer: Normalizer, defaultCountry: String? = nil) -> String {
        respond(to: line.utf8, normalizer: normalizer, defaultCountry: defaultCountry)
    }

    static let shapeMessage = "not a JSON object with string fields `field`, `value` and optional `country`"

    static func answer(to line: some Collection<UInt8>, normalizer: Normalizer, defaultCountry: String?) -> JSONValue {
        let request: [String: JSONValue]
        do {
            guard case .object(let object) = try JSONValue(parsing: line) else { return failure(nil, shapeMessage) }
            request = object
        } catch {
            if String(validating: line, as: UTF8.self) == nil { return failure(nil, "the line is not valid UTF-8") }
            return failure(nil, "\(shapeMessage) (\(error))")
        }
        guard case .string(let field)? = request["field"] else {
            return failure(nil, request["field"] == nil ? "missing `field`" : shapeMessage)
        }
        // An unknown field name is echoed back only when it cannot be a personal value itself.
        let echoed =
            PersonalData.looksPersonal(field)
            ? "<redacted>" : field.utf8.count <= 64 ? field : String(field.unicodeScalars.prefix(32).map(Character.init)) + "…"
        guard let key = UserDataKey(name: field) else {
            return failure(echoed, "unknown field; expected one of \(UserDataKey.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let value: String
        switch request["value"] {
        case .string(let text)?: value = text
        case .integer(let number)?: value = String(number)
        case .number(let number)?: value = "\(number)"
        case nil, .null?: return failure(field, "\(key.rawValue): is empty")
        default: return failure(field, shapeMessage)
        }
        let limit = key == .clientUserAgent ? 4096 : 1024
        guard value.utf8.count <= limit else { return failure(field, "\(key.rawValue): is longer than \(limit) bytes") }
        var country = defaultCountry
        switch request["country"] {
        case nil, .null?: break
        case .string(let given)? where TextFolding.trimmed(given).isEmpty: break
        case .string(let given)?:
            guard given.utf8.count <= 64, let code = CountryCodes.alpha2(for: given) else {
                return failure(field, "country: is not an ISO 3166-1 country code or a known country name")
            }
            country = code
        default:
            return failure(field, shapeMessage)
        }
        switch normalizer.normalize(key, value, country: country) {
        case .success(.hashed(let normalized, let digest)): return success(field, normalized, digest)
        case .success(.digest(let digest)): return success(field, digest, digest)
        case .success(.passthrough(let value)): return success(field, value, nil)
        case .failure(let issue): return failure(field, issue.description)
        }
    }

    static func success(_ field: String, _ normalized: String, _ hash: String?) -> JSONValue {
        .object(["field": .string(field), "normalized": .string(normalized), "hash": hash.map(JSONValue.string) ?? .null])
    }

    static func failure(_ field: String?, _ message: String) -> JSONValue {
        var object: [String: JSONValue] = ["error": .string(message)]
        if let field { object["field"] = .string(field) }
        return .object(object)
    }
}
