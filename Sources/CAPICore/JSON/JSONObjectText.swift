/// Writes one JSON object straight to UTF-8 text, for records whose shape is fixed.
///
/// Building a ``JSONValue`` dictionary only to serialize it hashes every key into the dictionary
/// and sorts the keys again on the way out, for every event. A writer whose caller names the keys
/// in ascending order produces the same canonical text as ``JSONValue/serialized`` (same escaping,
/// same number format, keys in `String`'s `<` order) without either step. Debug builds check the
/// order.
public struct JSONObjectText {
    private var bytes: [UInt8]
    private var needsComma = false
    #if DEBUG
    private var lastKey: String?
    #endif

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    /// The finished object's text: the bytes closed in place, then copied once into the `String`.
    public consuming func finish() -> String {
        String(decoding: finishedBytes(), as: UTF8.self)
    }

    /// The finished object's UTF-8 bytes, for a caller that writes them on: no `String` made.
    public consuming func finishedBytes() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private mutating func key(_ name: String) {
        #if DEBUG
        if let lastKey { assert(lastKey < name, "JSONObjectText keys must come in ascending order: \(lastKey) before \(name)") }
        lastKey = name
        #endif
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        JSONValue.writeString(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func add(_ name: String, string: String) {
        key(name)
        JSONValue.writeString(string, into: &bytes)
    }

    /// `null` when `string` is `nil`.
    public mutating func add(_ name: String, stringOrNull string: String?) {
        key(name)
        if let string { JSONValue.writeString(string, into: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
    }

    public mutating func add(_ name: String, integer: Int64) {
        key(name)
        JSONValue.integer(integer).write(into: &bytes)
    }

    public mutating func add(_ name: String, strings: some Sequence<String>) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, string) in strings.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONValue.writeString(string, into: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A value `body` writes as JSON text itself (it must be one valid, canonical JSON value).
    public mutating func addWritten(_ name: String, _ body: (inout [UInt8]) -> Void) {
        key(name)
        body(&bytes)
    }

    public mutating func add(_ name: String, value: JSONValue) {
        key(name)
        value.write(into: &bytes)
    }

    /// A nested object, written by `body` with its own keys in ascending order.
    public mutating func add(_ name: String, object body: (inout JSONObjectText) -> Void) {
        key(name)
        var nested = JSONObjectText(capacity: 128)
        body(&nested)
        bytes.append(contentsOf: nested.bytes)
        bytes.append(UInt8(ascii: "}"))
    }
}
