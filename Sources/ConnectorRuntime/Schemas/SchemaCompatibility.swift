import CAPICore

/// The registry's compatibility rule: Confluent's FORWARD_TRANSITIVE applied to the fields that
/// matter for attribution. A new version may add fields, add constraints elsewhere, document more;
/// it may not drop, rename or loosen a field that any earlier version marks `required`, since
/// readers built on that version (reconciliation, analytics joins) rely on it.
public enum SchemaCompatibility {
    /// One line per reason `new` breaks `earlier` (empty: compatible).
    public static func problems(of new: SchemaDocument, against earlier: SchemaDocument, earlierVersion: Int) -> [String] {
        var problems: [String] = []
        let old = earlier.root
        for field in old.required {
            let was = "`\(field)` (required since version \(earlierVersion))"
            guard let after = new.root.properties[field] else {
                problems.append("\(was) is dropped or renamed")
                continue
            }
            if !new.root.required.contains(field) { problems.append("\(was) is no longer required") }
            guard let before = old.properties[field] else { continue }
            problems += loosenings(from: before, to: after).map { "\(was) \($0)" }
        }
        return problems
    }

    /// How `after` accepts values `before` refused.
    static func loosenings(from before: SchemaNode, to after: SchemaNode) -> [String] {
        var found: [String] = []
        if let types = before.types, after.types.map({ !$0.isSubset(of: types) }) ?? true {
            found.append("loosens its type from \(before.typeDescription) to \(after.typeDescription)")
        }
        if let values = before.enumValues {
            if let now = after.enumValues {
                let added = now.filter { !values.contains($0) }
                if !added.isEmpty { found.append("accepts new values \(added.map(\.serialized).joined(separator: ", "))") }
            } else if after.types.map({ $0 != ["null"] }) ?? true {
                found.append("no longer lists its allowed values")
            }
        }
        if let pattern = before.pattern, after.pattern != pattern { found.append("drops or changes its pattern `\(pattern)`") }
        if let format = before.format, after.format != format { found.append("drops or changes its format `\(format)`") }
        if let minimum = before.minimum, after.minimum.map({ $0 < minimum }) ?? true { found.append("lowers its minimum") }
        if let maximum = before.maximum, after.maximum.map({ $0 > maximum }) ?? true { found.append("raises its maximum") }
        if let length = before.minLength, after.minLength.map({ $0 < length }) ?? true { found.append("lowers its minimum length") }
        return found
    }

    /// What changed between two versions, one line each: `+` added, `-` removed, `~` changed.
    public static func diff(from old: SchemaDocument, to new: SchemaDocument) -> [String] {
        var lines: [String] = []
        for name in Set(old.root.properties.keys).union(new.root.properties.keys).sorted() {
            switch (old.root.properties[name], new.root.properties[name]) {
            case (nil, let added?): lines.append("+ \(name): \(added.typeDescription)")
            case (let removed?, nil): lines.append("- \(name): \(removed.typeDescription)")
            case (let before?, let after?) where before != after:
                let changes = loosenings(from: before, to: after) + tightenings(from: before, to: after)
                lines.append("~ \(name): " + (changes.isEmpty ? "constraints changed" : changes.joined(separator: "; ")))
            default: break
            }
        }
        for name in new.root.required where !old.root.required.contains(name) { lines.append("+ required: \(name)") }
        for name in old.root.required where !new.root.required.contains(name) { lines.append("- required: \(name)") }
        return lines
    }

    /// How `after` refuses values `before` accepted: allowed by the rule, and worth saying in a diff.
    static func tightenings(from before: SchemaNode, to after: SchemaNode) -> [String] {
        var found: [String] = []
        if let types = after.types, before.types.map({ types != $0 && types.isSubset(of: $0) }) ?? true {
            found.append("narrows its type from \(before.typeDescription) to \(after.typeDescription)")
        }
        if let now = after.enumValues {
            if let values = before.enumValues {
                let removed = values.filter { !now.contains($0) }
                if !removed.isEmpty { found.append("no longer accepts \(removed.map(\.serialized).joined(separator: ", "))") }
            } else {
                found.append("lists its allowed values")
            }
        }
        if let pattern = after.pattern, before.pattern == nil { found.append("adds the pattern `\(pattern)`") }
        if let format = after.format, before.format == nil { found.append("adds the format `\(format)`") }
        if let minimum = after.minimum, before.minimum.map({ $0 < minimum }) ?? true { found.append("raises its minimum") }
        if let maximum = after.maximum, before.maximum.map({ $0 > maximum }) ?? true { found.append("lowers its maximum") }
        if let length = after.minLength, before.minLength.map({ $0 < length }) ?? true { found.append("raises its minimum length") }
        return found
    }
}
