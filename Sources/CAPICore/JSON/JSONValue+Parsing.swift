/// A direct UTF-8 JSON parser for ``JSONValue``.
///
/// `Codable` decoding of an untyped value has to try each type in turn and throws on every miss,
/// which dominated the batch endpoint; this reads each value once. Strict RFC 8259: no comments, no
/// trailing commas, no leading zeros, escapes validated, surrogate pairs joined. A duplicate key is
/// refused: parsers disagree on which copy wins, so a signed body must mean one thing only.
extension JSONValue {
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var offset: Int
        public var reason: String
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    /// Parses one JSON document (surrounding white space allowed).
    public init(parsing bytes: some Collection<UInt8>) throws(ParseError) {
        let buffer = Array(bytes)
        var parser = Parser(bytes: buffer)
        self = try parser.document()
    }

    public init(parsing text: String) throws(ParseError) {
        try self.init(parsing: text.utf8)
    }

    /// The encoding (`UTF-16LE`, `UTF-16BE`, `UTF-32LE`, `UTF-32BE`, as `iconv` names them) when
    /// text starting with `bytes` is JSON in it rather than UTF-8, else `nil`. A JSON text starts
    /// with an ASCII character, so its first four bytes show the width, with or without a byte
    /// order mark; UTF-8 JSON never has a NUL there.
    public static func wideEncoding(startingWith bytes: some Collection<UInt8>) -> String? {
        let head = Array(bytes.prefix(4)) + [UInt8](repeating: 0xAA, count: max(0, 4 - bytes.count))
        switch (head[0], head[1], head[2], head[3]) {
        case (0xFF, 0xFE, 0, 0),
            (_, 0, 0, 0) where head[0] != 0:
            return "UTF-32LE"
        case (0, 0, 0xFE, 0xFF),
            (0, 0, 0, _) where head[3] != 0:
            return "UTF-32BE"
        case (0xFF, 0xFE, _, _),
            (_, 0, _, _) where head[0] != 0:
            return "UTF-16LE"
        case (0xFE, 0xFF, _, _),
            (0, _, _, _) where head[1] != 0:
            return "UTF-16BE"
        default: return nil
        }
    }

    struct Parser {
        let bytes: [UInt8]
        var index = 0
        var depth = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        func fail(_ reason: String) -> ParseError { ParseError(offset: index, reason: reason) }

        mutating func document() throws(ParseError) -> JSONValue {
            let value: JSONValue
            do { value = try parseValue() } catch {
                // Looked at only after a failure: a body in UTF-16 or UTF-32 (Windows PowerShell
                // writes UTF-16 files by default) is named as such, at byte 0.
                if let encoding = JSONValue.wideEncoding(startingWith: bytes) {
                    throw ParseError(offset: 0, reason: "the document is \(encoding), and JSON sent between systems must be UTF-8 (RFC 8259)")
                }
                throw error
            }
            skipWhitespace()
            guard index == bytes.count else { throw fail("unexpected data after the document") }
            return value
        }

        mutating func skipWhitespace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                index += 1
            }
        }

        mutating func parseValue() throws(ParseError) -> JSONValue {
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of input") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try parseObject()
            case UInt8(ascii: "["): return try parseArray()
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            case 0xEF where index == 0 && bytes.starts(with: [0xEF, 0xBB, 0xBF]):
                // Windows tools add one to UTF-8 text; RFC 8259 says JSON sent must not start with one.
                throw fail("a byte order mark (U+FEFF) before the document; send the JSON without one")
            default: return try parseNumber()
            }
        }

        mutating func literal(_ word: StaticString) throws(ParseError) {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw fail("unexpected end of input") }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
                throw fail("invalid literal")
            }
            index += count
        }

        mutating func enter() throws(ParseError) {
            depth += 1
            guard depth <= 512 else { throw fail("nesting deeper than 512") }
        }

        mutating func parseObject() throws(ParseError) -> JSONValue {
            try enter()
            defer { depth -= 1 }
            index += 1
            var object = JSONObject()
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(object)
            }
            // Room for twelve members up front: a typical `user_data` without growing on the way.
            object.reserveCapacity(12)
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let keyOffset = index
                let key = try parseString()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                index += 1
                if object.updateValue(try parseValue(), forKey: key) != nil {
                    throw ParseError(offset: keyOffset, reason: "duplicate key in an object")
                }
                skipWhitespace()
                guard index < bytes.count else { throw fail("unexpected end of input") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(object)
                }
                throw fail("expected ',' or '}'")
            }
        }

        mutating func parseArray() throws(ParseError) -> JSONValue {
            try enter()
            defer { depth -= 1 }
            index += 1
            var array: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(array)
            }
            while true {
                array.append(try parseValue())
                skipWhitespace()
                guard index < bytes.count else { throw fail("unexpected end of input") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(array)
                }
                throw fail("expected ',' or ']'")
            }
        }

        mutating func parseString() throws(ParseError) -> String {
            index += 1
            let start = index
            // Fast path: no escapes. ASCII text is valid UTF-8 as it stands; anything else is checked
            // by String(validating:), a generic call that looks up type metadata every time.
            var union: UInt8 = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let slice = bytes[start..<index]
                    index += 1
                    if union < 0x80 { return String(decoding: slice, as: UTF8.self) }
                    guard let text = String(validating: slice, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
                    return text
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw fail("control character in a string") }
                union |= byte
                index += 1
            }
            var scratch = Array(bytes[start..<index])
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    guard let text = String(validating: scratch, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
                    return text
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < bytes.count else { throw fail("unexpected end of input") }
                    // A bad escape is reported where it starts, not where the parser noticed.
                    let escapeStart = index - 1
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""): scratch.append(0x22)
                    case UInt8(ascii: "\\"): scratch.append(0x5C)
                    case UInt8(ascii: "/"): scratch.append(0x2F)
                    case UInt8(ascii: "b"): scratch.append(0x08)
                    case UInt8(ascii: "f"): scratch.append(0x0C)
                    case UInt8(ascii: "n"): scratch.append(0x0A)
                    case UInt8(ascii: "r"): scratch.append(0x0D)
                    case UInt8(ascii: "t"): scratch.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                                throw ParseError(offset: escapeStart, reason: "unpaired surrogate")
                            }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw ParseError(offset: escapeStart, reason: "unpaired surrogate") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(scalar) {
                            throw ParseError(offset: escapeStart, reason: "unpaired surrogate")
                        }
                        scratch.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
                    default:
                        throw ParseError(offset: escapeStart, reason: "invalid escape")
                    }
                default:
                    if byte < 0x20 { throw fail("control character in a string") }
                    scratch.append(byte)
                    index += 1
                }
            }
            throw fail("unterminated string")
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw fail("unexpected end of input") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case 0x30...0x39: digit = UInt32(byte - 0x30)
                case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
                default: throw fail("invalid \\u escape")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        mutating func parseNumber() throws(ParseError) -> JSONValue {
            let start = index
            if bytes[index] == UInt8(ascii: "-") {
                index += 1
                guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { throw fail("a digit expected after '-'") }
            }
            // Named by what was expected, never by what was found: the body may hold personal data.
            guard (0x30...0x39).contains(bytes[index]) else { throw fail("expected a value (a string, number, object, array, true, false or null)") }
            if bytes[index] == 0x30 {
                index += 1
                if index < bytes.count, (0x30...0x39).contains(bytes[index]) { throw fail("leading zero in a number") }
            } else {
                while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
            }
            var isInteger = true
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                isInteger = false
                index += 1
                guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { throw fail("digit expected after '.'") }
                while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                isInteger = false
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { throw fail("digit expected in exponent") }
                while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if isInteger, let integer = Int64(text) { return .integer(integer) }
            guard let number = Double(text), number.isFinite else { throw fail("number out of range") }
            return .number(number)
        }
    }
}
