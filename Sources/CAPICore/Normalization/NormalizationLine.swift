import Foundation

/// One line of `capi-connector normalize`: `{"field", "value", "country"?}` in,
/// `{"field", "normalized", "hash"}` or `{"field", "error"}` out (normalization.md).
public enum NormalizationLine {
    struct Request: Decodable {
        var field: String?
        var value: LooseString?
        var country: LooseString?
    }

    /// Numbers are accepted where strings are expected (`"zp": 94025`); the text is what hashes.
    struct LooseString: Decodable {
        var text: String?
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { text = nil }
            else if let string = try? container.decode(String.self) { text = string }
            else if let integer = try? container.decode(Int64.self) { text = String(integer) }
            else if let number = try? container.decode(Double.self) { text = String(number) }
            else { throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a string") }
        }
    }

    struct Response: Encodable {
        var field: String?
        var normalized: String?
        var hash: String?
        var error: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeIfPresent(field, forKey: .field)
            if let error {
                try container.encode(error, forKey: .error)
            } else {
                try container.encode(normalized, forKey: .normalized)
                try container.encode(hash, forKey: .hash)
            }
        }

        enum CodingKeys: String, CodingKey { case field, normalized, hash, error }
    }

    /// The answer to one input line, as one line of JSON (no trailing newline).
    public static func respond(to line: some StringProtocol, normalizer: Normalizer, defaultCountry: String? = nil) -> String {
        let response: Response
        if let request = try? JSONDecoder().decode(Request.self, from: Data(line.utf8)) {
            response = answer(request, normalizer: normalizer, defaultCountry: defaultCountry)
        } else {
            response = Response(error: "not a JSON object with string fields `field`, `value` and optional `country`")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(response)) ?? Data(#"{"error":"internal encoding failure"}"#.utf8), as: UTF8.self)
    }

    static func answer(_ request: Request, normalizer: Normalizer, defaultCountry: String?) -> Response {
        guard let field = request.field else { return Response(error: "missing `field`") }
        guard let key = UserDataKey(name: field) else {
            return Response(field: field, error: "unknown field; expected one of \(UserDataKey.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let value = request.value?.text else { return Response(field: field, error: "\(key.rawValue): is empty") }
        var country = defaultCountry
        if let given = request.country?.text, !TextFolding.trimmed(given).isEmpty {
            guard let code = CountryCodes.alpha2(for: given) else {
                return Response(field: field, error: "country: is not an ISO 3166-1 country code or a known country name")
            }
            country = code
        }
        switch normalizer.normalize(key, value, country: country) {
        case .success(.hashed(let normalized, let digest)): return Response(field: field, normalized: normalized, hash: digest)
        case .success(.digest(let digest)): return Response(field: field, normalized: digest, hash: digest)
        case .success(.passthrough(let value)): return Response(field: field, normalized: value, hash: nil)
        case .failure(let issue): return Response(field: field, error: issue.description)
        }
    }
}
