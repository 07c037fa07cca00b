import CAPICore

/// One version of a stream's schema: its id (`$id` without the `.vN` suffix), its canonical JSON
/// (sorted keys, no whitespace) and the SHA-256 of that text, which is what makes it a version.
public struct SchemaDocument: Sendable, Equatable {
    public let id: String
    public let canonical: String
    public let hash: String
    public let root: SchemaNode

    public init(parsing text: String) throws(SchemaError) {
        let json: JSONValue
        do { json = try JSONValue(parsing: text) } catch {
            let (line, column) = Self.lineAndColumn(ofByte: error.offset, in: text)
            throw SchemaError("the schema", "is not valid JSON at line \(line), column \(column): \(error.reason)")
        }
        guard case .object = json else { throw SchemaError("the schema", "must be a JSON object (a JSON Schema), found \(json.typeName)") }
        guard case .string(let declared)? = json["$id"], !declared.isEmpty else { throw SchemaError("$id", "is missing") }
        id = Self.baseID(declared)
        canonical = json.serialized
        hash = SHA256Hex.digest(canonical)
        root = try SchemaNode(compiling: json)
    }

    /// Where the parser stopped, as an editor counts: lines from 1, characters (scalars) from 1.
    static func lineAndColumn(ofByte offset: Int, in text: String) -> (line: Int, column: Int) {
        let before = text.utf8.prefix(offset)
        let line = before.count { $0 == UInt8(ascii: "\n") } + 1
        let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { before.index(after: $0) } ?? before.startIndex
        let column = String(decoding: before[lineStart...], as: UTF8.self).unicodeScalars.count + 1
        return (line, column)
    }

    /// `delivered_event.v1` → `delivered_event`: versions are the registry's, not the file's.
    static func baseID(_ declared: String) -> String {
        guard let dot = declared.lastIndex(of: "."), declared[declared.index(after: dot)...].first == "v",
            declared[declared.index(dot, offsetBy: 2)...].allSatisfy(\.isNumber), declared.index(dot, offsetBy: 2) < declared.endIndex
        else { return declared }
        return String(declared[..<dot])
    }
}
