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
        do { json = try JSONValue(parsing: text) } catch { throw SchemaError("the schema", "is not valid JSON") }
        guard case .string(let declared)? = json["$id"], !declared.isEmpty else { throw SchemaError("$id", "is missing") }
        id = Self.baseID(declared)
        canonical = json.serialized
        hash = SHA256Hex.digest(canonical)
        root = try SchemaNode(compiling: json)
    }

    /// `delivered_event.v1` → `delivered_event`: versions are the registry's, not the file's.
    static func baseID(_ declared: String) -> String {
        guard let dot = declared.lastIndex(of: "."), declared[declared.index(after: dot)...].first == "v",
            declared[declared.index(dot, offsetBy: 2)...].allSatisfy(\.isNumber), declared.index(dot, offsetBy: 2) < declared.endIndex
        else { return declared }
        return String(declared[..<dot])
    }
}
