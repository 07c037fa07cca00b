import CAPICore

/// The subset of JSON Schema (2020-12) the shipped schemas use, compiled once: `type`, `enum`,
/// `required`, `properties`, `additionalProperties`, `items`, `pattern`, `format`, `minimum`,
/// `maximum`, `minLength`, and the annotations `$schema`, `$id`, `title`, `description`. Any other
/// keyword is refused when the schema is read, so a schema never means more than is checked.
public struct SchemaNode: Sendable, Equatable {
    /// `nil`: any type.
    public var types: Set<String>?
    public var enumValues: [JSONValue]?
    public var required: [String]
    public var properties: [String: SchemaNode]
    /// `nil` when absent (anything allowed); `.some(nil)` for `false`; a node for a schema.
    public var additionalProperties: AdditionalProperties
    public var items: Box?
    public var pattern: String?
    public var format: String?
    public var minimum: Double?
    public var maximum: Double?
    public var minLength: Int?

    public enum AdditionalProperties: Sendable, Equatable {
        case allowed
        case forbidden
        case schema(Box)
    }

    /// Indirection for nested nodes.
    public final class Box: Sendable, Equatable {
        public let node: SchemaNode
        init(_ node: SchemaNode) { self.node = node }
        public static func == (lhs: Box, rhs: Box) -> Bool { lhs.node == rhs.node }
    }

    static let annotations: Set<String> = ["$schema", "$id", "title", "description", "default", "examples"]
    static let keywords: Set<String> = [
        "type", "enum", "required", "properties", "additionalProperties", "items", "pattern", "format", "minimum", "maximum", "minLength",
    ]
    static let typeNames: Set<String> = ["string", "integer", "number", "boolean", "object", "array", "null"]

    /// Compiles `json`; `path` names where a problem is (`properties.event_time.type`).
    public init(compiling json: JSONValue, path: String = "") throws(SchemaError) {
        guard case .object(let fields) = json else { throw SchemaError(path.isEmpty ? "the schema" : path, "must be an object") }
        func at(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        for key in fields.keys where !Self.annotations.contains(key) && !Self.keywords.contains(key) {
            throw SchemaError(at(key), "is a keyword this registry does not check (supported: \(Self.keywords.sorted().joined(separator: ", ")))")
        }
        switch fields["type"] {
        case nil: types = nil
        case .string(let name)?:
            guard Self.typeNames.contains(name) else { throw SchemaError(at("type"), "names an unknown type") }
            types = [name]
        case .array(let names)?:
            var set = Set<String>()
            for name in names {
                guard let name = name.stringValue, Self.typeNames.contains(name) else { throw SchemaError(at("type"), "names an unknown type") }
                set.insert(name)
            }
            types = set
        default: throw SchemaError(at("type"), "must be a type name or a list of them")
        }
        switch fields["enum"] {
        case nil: enumValues = nil
        case .array(let values)?: enumValues = values
        default: throw SchemaError(at("enum"), "must be a list")
        }
        switch fields["required"] {
        case nil: required = []
        case .array(let names)?:
            required = try names.map { name throws(SchemaError) in
                guard let name = name.stringValue else { throw SchemaError(at("required"), "must list property names") }
                return name
            }
        default: throw SchemaError(at("required"), "must be a list")
        }
        var properties: [String: SchemaNode] = [:]
        if let declared = fields["properties"] {
            guard case .object(let entries) = declared else { throw SchemaError(at("properties"), "must be an object") }
            for (name, schema) in entries { properties[name] = try SchemaNode(compiling: schema, path: at("properties.\(name)")) }
        }
        self.properties = properties
        switch fields["additionalProperties"] {
        case nil, .bool(true)?: additionalProperties = .allowed
        case .bool(false)?: additionalProperties = .forbidden
        case let schema?: additionalProperties = .schema(Box(try SchemaNode(compiling: schema, path: at("additionalProperties"))))
        }
        items = try fields["items"].map { schema throws(SchemaError) in Box(try SchemaNode(compiling: schema, path: at("items"))) }
        pattern = try Self.string(fields["pattern"], at("pattern"))
        format = try Self.string(fields["format"], at("format"))
        minimum = try Self.number(fields["minimum"], at("minimum"))
        maximum = try Self.number(fields["maximum"], at("maximum"))
        minLength = try Self.number(fields["minLength"], at("minLength")).map { Int($0) }
    }

    static func string(_ value: JSONValue?, _ path: String) throws(SchemaError) -> String? {
        switch value {
        case nil: nil
        case .string(let text)?: text
        default: throw SchemaError(path, "must be a string")
        }
    }

    static func number(_ value: JSONValue?, _ path: String) throws(SchemaError) -> Double? {
        switch value {
        case nil: nil
        case .integer(let number)?: Double(number)
        case .number(let number)?: number
        default: throw SchemaError(path, "must be a number")
        }
    }

    /// `integer|null`, `any`: for messages.
    var typeDescription: String { types.map { $0.sorted().joined(separator: "|") } ?? "any" }
}

/// A schema that cannot be read, or a record that does not match one: where, and why.
public struct SchemaError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(_ path: String, _ reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path) \(reason)" }
}
