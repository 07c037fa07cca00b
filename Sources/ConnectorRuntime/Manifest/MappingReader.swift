import Foundation
import Yams

/// The entries of one YAML mapping, read by key.
struct MappingReader {
    let reader: YAMLNodeReader
    let entries: [String: (key: Node, value: Node)]

    var mark: Mark? { reader.mark }
    var path: String { reader.path }

    func has(_ key: String) -> Bool { entries[key] != nil }

    var keys: [String] { entries.keys.sorted() }

    /// The value under `key`, or `nil`; a required key that is absent is reported at the mapping.
    func value(_ key: String, required: Bool = false) -> YAMLNodeReader? {
        guard let entry = entries[key] else {
            if required {
                reader.report("missing required field `\(reader.joined(key))`")
            }
            return nil
        }
        let child = reader.child(entry.value, path: reader.joined(key))
        if child.isNull {
            if required {
                reader.report("\(reader.joined(key)) must have a value", at: entry.key.mark)
            }
            return nil
        }
        return child
    }

    func report(_ message: String) { reader.report(message) }
}
