/// One line of `capi-connector normalize`: `{"field", "value", "country"?}` in,
/// `{"field", "normalized", "hash"}` or `{"field", "error"}` out.
///
/// Lines are bytes: a line that is not UTF-8, not one JSON object, or that repeats a key gets an
/// error line of its own (never a crash, never a silent skip), and output order is input order.
///
/// Almost every line is the plain shape: string values without escapes. ``RequestScanner`` reads
/// those straight off the bytes; anything else (escapes, numbers, null, odd keys, broken JSON)
/// goes through the general JSON parser, so both paths give the same answer. Answers are written
/// as bytes in sorted-key order, the text ``JSONValue`` would serialize.
public enum NormalizationLine {
    /// The answer to one input line, as one line of JSON (no trailing newline).
    public static func respond(to line: some Collection<UInt8>, normalizer: Normalizer, defaultCountry: String? = nil) -> String {
        var output: [UInt8] = []
        let bytes = Array(line)
        bytes.withUnsafeBytes { respond(to: $0, normalizer: normalizer, defaultCountry: defaultCountry, into: &output) }
        return String(decoding: output, as: UTF8.self)
    }

    public static func respond(to line: String, normalizer: Normalizer, defaultCountry: String? = nil) -> String {
        respond(to: line.utf8, normalizer: normalizer, defaultCountry: defaultCountry)
    }

    /// Appends the answer to one line (no trailing newline) to `output`.
    public static func respond(to line: UnsafeRawBufferPointer, normalizer: Normalizer, defaultCountry: String?, into output: inout [UInt8]) {
        write(answer(to: line, normalizer: normalizer, defaultCountry: defaultCountry), into: &output)
    }

    static func answer(to line: UnsafeRawBufferPointer, normalizer: Normalizer, defaultCountry: String?) -> Answer {
        guard let request = RequestScanner.scan(line) else { return parseAndEvaluate(line, normalizer: normalizer, defaultCountry: defaultCountry) }
        return evaluate(
            field: request.field,
            value: request.value.map(JSONValue.string),
            country: request.country.map(JSONValue.string),
            normalizer: normalizer,
            defaultCountry: defaultCountry
        )
    }

    /// The longest line answered; a longer one gets ``overlongLine`` instead.
    public static let maximumLineBytes = 1 << 20
    public static let overlongLine = #"{"error":"the line is longer than 1048576 bytes"}"#

    /// Answers every line of `lines` (split on `\n`, a trailing `\r` dropped, blank lines skipped),
    /// each followed by a newline.
    ///
    /// A line whose value is to be hashed waits for the next such line, and the two are hashed in
    /// one call (``HexDigest/sha256(of:and:)``); each answer is still written in its line's place.
    public static func respond(toLines lines: UnsafeRawBufferPointer, normalizer: Normalizer, defaultCountry: String?, into output: inout [UInt8]) {
        var waiting: (field: String, normalized: String)?
        func writeWaiting() {
            guard let line = waiting else { return }
            write(.unhashed(field: line.field, normalized: line.normalized), into: &output)
            output.append(UInt8(ascii: "\n"))
            waiting = nil
        }
        var start = 0
        let count = lines.count
        while start < count {
            var end = start
            while end < count, lines[end] != UInt8(ascii: "\n") { end += 1 }
            if end - start > maximumLineBytes {
                writeWaiting()
                output.append(contentsOf: overlongLine.utf8)
                output.append(UInt8(ascii: "\n"))
                start = end + 1
                continue
            }
            var last = end
            if last > start, lines[last - 1] == UInt8(ascii: "\r") { last -= 1 }
            let line = UnsafeRawBufferPointer(rebasing: lines[start..<last])
            if line.contains(where: { !TextFolding.isASCIISpaceByte($0) }) {
                let answer = answer(to: line, normalizer: normalizer, defaultCountry: defaultCountry)
                if case .unhashed(let field, let normalized) = answer {
                    if let first = waiting {
                        let digests = SHA256Hex.hexDigests(first.normalized, normalized)
                        write(.hashed(field: first.field, normalized: first.normalized, digest: digests.0), into: &output)
                        output.append(UInt8(ascii: "\n"))
                        write(.hashed(field: field, normalized: normalized, digest: digests.1), into: &output)
                        output.append(UInt8(ascii: "\n"))
                        waiting = nil
                    } else {
                        waiting = (field, normalized)
                    }
                } else {
                    writeWaiting()
                    write(answer, into: &output)
                    output.append(UInt8(ascii: "\n"))
                }
            }
            start = end + 1
        }
        writeWaiting()
    }

    static let shapeMessage = "not a JSON object with string fields `field`, `value` and optional `country`"

    enum Answer {
        case success(field: String, normalized: String, hash: String?)
        /// Normalized, its digest not yet taken; written, it is ``hashed(field:normalized:digest:)``.
        case unhashed(field: String, normalized: String)
        case hashed(field: String, normalized: String, digest: HexDigest)
        case failure(field: String?, message: String)
    }

    /// The general path: any JSON, with the parser's own error for what is not.
    static func parseAndEvaluate(_ line: UnsafeRawBufferPointer, normalizer: Normalizer, defaultCountry: String?) -> Answer {
        let request: JSONObject
        do {
            let document = try JSONValue(parsing: line)
            guard case .object(let object) = document else { return .failure(field: nil, message: "\(shapeMessage), found \(document.typeName)") }
            request = object
        } catch {
            if String(validating: line, as: UTF8.self) == nil { return .failure(field: nil, message: "the line is not valid UTF-8") }
            return .failure(field: nil, message: "\(shapeMessage) (\(error))")
        }
        guard case .string(let field)? = request["field"] else {
            return .failure(field: nil, message: request["field"].map { "`field` must be a string, found \($0.typeName)" } ?? "missing `field`")
        }
        return evaluate(field: field, value: request["value"], country: request["country"], normalizer: normalizer, defaultCountry: defaultCountry)
    }

    static func evaluate(field: String?, value: JSONValue?, country: JSONValue?, normalizer: Normalizer, defaultCountry: String?) -> Answer {
        guard let field else { return .failure(field: nil, message: "missing `field`") }
        // An unknown field name is echoed back only when it cannot be a personal value itself.
        let echoed = PersonalData.shown(name: field)
        guard let key = UserDataKey(name: field) else {
            return .failure(field: echoed, message: "unknown field; expected one of \(UserDataKey.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let text: String
        switch value {
        case .string(let given)?: text = given
        case .integer(let number)?: text = String(number)
        case .number?:
            // Its digits are not the number's: `16505551212.0` would hash as `165055512120`.
            return .failure(field: field, message: "`value` must be a string (or a whole number), found \(UserDataKey.fractionalNumber)")
        case nil, .null?: return .failure(field: field, message: "\(key.rawValue): is empty")
        case let other?: return .failure(field: field, message: "`value` must be a string (or a whole number), found \(other.typeName)")
        }
        let limit = key == .clientUserAgent ? 4096 : 1024
        guard text.utf8.count <= limit else { return .failure(field: field, message: "\(key.rawValue): is longer than \(limit) bytes") }
        var code = defaultCountry
        switch country {
        case nil, .null?: break
        case .string(let given)? where TextFolding.trimmed(given).isEmpty: break
        case .string(let given)?:
            guard given.utf8.count <= 64, let known = CountryCodes.alpha2(for: given) else {
                return .failure(field: field, message: "country: is not an ISO 3166-1 country code or a known country name")
            }
            code = known
        case let other?:
            return .failure(field: field, message: "`country` must be a string, found \(other.typeName)")
        }
        switch normalizer.canonicalValue(key, text, country: code) {
        case .success(.canonical(let normalized)): return .unhashed(field: field, normalized: normalized)
        case .success(.digest(let digest)):
            let hex = digest.hex
            return .success(field: field, normalized: hex, hash: hex)
        case .success(.passthrough(let passed)): return .success(field: field, normalized: passed, hash: nil)
        case .failure(let issue): return .failure(field: field, message: issue.description)
        }
    }

    /// `{"field":…,"hash":…,"normalized":…}`, the hash written by `hash`.
    private static func writeSuccess(field: String, normalized: String, into output: inout [UInt8], hash: (inout [UInt8]) -> Void) {
        output.append(contentsOf: #"{"field":"#.utf8)
        JSONValue.writeString(field, into: &output)
        output.append(contentsOf: #","hash":"#.utf8)
        hash(&output)
        output.append(contentsOf: #","normalized":"#.utf8)
        JSONValue.writeString(normalized, into: &output)
        output.append(UInt8(ascii: "}"))
    }

    /// Sorted keys, as ``JSONValue/serialized`` writes them.
    static func write(_ answer: Answer, into output: inout [UInt8]) {
        switch answer {
        case .success(let field, let normalized, let hash):
            writeSuccess(field: field, normalized: normalized, into: &output) { output in
                if let hash { JSONValue.writeString(hash, into: &output) } else { output.append(contentsOf: "null".utf8) }
            }
        case .unhashed(let field, let normalized):
            write(.hashed(field: field, normalized: normalized, digest: SHA256Hex.hexDigest(normalized)), into: &output)
        case .hashed(let field, let normalized, let digest):
            writeSuccess(field: field, normalized: normalized, into: &output) { digest.writeQuoted(into: &$0) }
        case .failure(let field, let message):
            output.append(contentsOf: #"{"error":"#.utf8)
            JSONValue.writeString(message, into: &output)
            if let field {
                output.append(contentsOf: #","field":"#.utf8)
                JSONValue.writeString(field, into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }
}

/// Reads the plain request shape straight off the bytes: one object whose members are among
/// `field`, `value` and `country`, each once, each a string without escapes or control bytes, in
/// valid UTF-8. Anything else answers `nil` and the caller takes the general parser.
enum RequestScanner {
    struct Request {
        var field: String?
        var value: String?
        var country: String?
    }

    static func scan(_ bytes: UnsafeRawBufferPointer) -> Request? {
        var index = 0
        let count = bytes.count
        func skipSpace() {
            while index < count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }
        /// A string's content range, after its opening quote; `nil` at an escape or control byte.
        func string() -> Range<Int>? {
            guard index < count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            index += 1
            let start = index
            while index < count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return start..<(index - 1)
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
                index += 1
            }
            return nil
        }
        skipSpace()
        guard index < count, bytes[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        var request = Request()
        var seen: (field: Bool, value: Bool, country: Bool) = (false, false, false)
        while true {
            skipSpace()
            guard let key = string() else { return nil }
            skipSpace()
            guard index < count, bytes[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            skipSpace()
            guard let content = string(), let text = text(UnsafeRawBufferPointer(rebasing: bytes[content])) else { return nil }
            switch key.count {
            case 5 where equals(bytes, key, "field"):
                if seen.field { return nil }
                seen.field = true
                request.field = text
            case 5 where equals(bytes, key, "value"):
                if seen.value { return nil }
                seen.value = true
                request.value = text
            case 7 where equals(bytes, key, "country"):
                if seen.country { return nil }
                seen.country = true
                request.country = text
            default: return nil
            }
            skipSpace()
            guard index < count else { return nil }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { return nil }
            index += 1
            break
        }
        skipSpace()
        return index == count && seen.field ? request : nil
    }

    /// The bytes as a String, or `nil` when they are not UTF-8; ASCII (most values) skips the
    /// general validator.
    static func text(_ bytes: UnsafeRawBufferPointer) -> String? {
        let typed = bytes.assumingMemoryBound(to: UInt8.self)
        if !typed.contains(where: { $0 >= 0x80 }) { return String(decoding: typed, as: UTF8.self) }
        return String(validating: typed, as: UTF8.self)
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ name: StaticString) -> Bool {
        guard range.count == name.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        for offset in 0..<range.count where bytes[range.lowerBound + offset] != expected[offset] { return false }
        return true
    }
}
