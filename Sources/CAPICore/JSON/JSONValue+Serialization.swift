/// Compact JSON text for ``JSONValue``: keys sorted (so equal content is equal text and hashes the
/// same), `/` not escaped, non-ASCII written as UTF-8. Faster than `JSONEncoder` on the hot path.
extension JSONValue {
    public var serialized: String {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        write(into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    public func write(into output: inout [UInt8]) {
        switch self {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let value): output.append(contentsOf: (value ? "true" : "false").utf8)
        case .integer(let value): output.append(contentsOf: String(value).utf8)
        case .number(let value):
            if value.rounded() == value, abs(value) < 1e15 {
                output.append(contentsOf: String(Int64(value)).utf8)
            } else {
                output.append(contentsOf: "\(value)".utf8)
            }
        case .string(let value): Self.writeString(value, into: &output)
        case .array(let values):
            output.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                value.write(into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let fields): Self.writeObject(fields, into: &output)
        }
    }

    /// The text of `.object(fields)` with one more member, `key`, whose value is already JSON text
    /// in UTF-8 (written once, elsewhere), placed where sorting puts it: the same text as
    /// serializing the whole object, without building the member's tree. A `key` already in
    /// `fields` is replaced.
    public static func serializedObject(_ fields: JSONObject, adding key: String, text: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.count + 64 * fields.count)
        writeObject(fields, adding: (key, text), into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    private static func writeObject(_ fields: JSONObject, adding extra: (key: String, text: [UInt8])? = nil, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "{"))
        var pending = extra
        var needsComma = false
        func member(_ key: String, _ writeValue: (inout [UInt8]) -> Void) {
            if needsComma { output.append(UInt8(ascii: ",")) }
            needsComma = true
            writeString(key, into: &output)
            output.append(UInt8(ascii: ":"))
            writeValue(&output)
        }
        // Pairs sorted by key: no second lookup per key. The order is `String`'s `<`, which
        // stored content hashes depend on.
        for field in fields.sorted(by: { $0.key < $1.key }) {
            if let extra = pending, extra.key <= field.key {
                member(extra.key) { $0.append(contentsOf: extra.text) }
                pending = nil
                if extra.key == field.key { continue }
            }
            member(field.key) { field.value.write(into: &$0) }
        }
        if let extra = pending { member(extra.key) { $0.append(contentsOf: extra.text) } }
        output.append(UInt8(ascii: "}"))
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ value: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        // Most strings need no escaping: copy them whole.
        let copied: Bool? = value.utf8.withContiguousStorageIfAvailable { bytes in
            guard !bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            output.append(contentsOf: bytes)
            return true
        }
        if copied == true {
            output.append(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): output.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20:
                output.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
