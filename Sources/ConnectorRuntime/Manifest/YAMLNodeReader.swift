import CAPICore
import Foundation
import Yams

/// A located view of one YAML node with typed accessors that report problems instead of throwing.
///
/// Every accessor resolves `${env:...}` references first, then converts; a value that cannot be
/// read yields `nil` and one problem naming the field path. Only non-secret accessors (numbers,
/// booleans, choices, durations) quote a value in a message, and a value that came from the
/// environment is shown by its reference, never by its content.
struct YAMLNodeReader {
    let node: Node
    let path: String
    let collector: ProblemCollector
    let references: EnvironmentReferences

    var mark: Mark? { node.mark }

    func child(_ node: Node, path: String) -> YAMLNodeReader {
        YAMLNodeReader(node: node, path: path, collector: collector, references: references)
    }

    func report(_ message: String, at mark: Mark? = nil) {
        collector.report(message, at: mark ?? self.mark)
    }

    static func kindName(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar)
        where scalar.tag == Tag(.null) || (scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)):
            return "nothing (null)"
        case .scalar: return "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    var isScalarValue: Bool {
        if case .scalar = node { return !isNull }
        return false
    }

    var isNull: Bool {
        if case .scalar(let scalar) = node {
            return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
        }
        return false
    }

    // MARK: Structure

    /// This node as a mapping whose keys must come from `allowed` (any key when `nil`: a map the
    /// user names, such as event name → action type); unknown keys are reported with a "did you
    /// mean" suggestion when one allowed key is close.
    func mapping(allowed: [String]?) -> MappingReader? {
        guard case .mapping(let mapping) = node else {
            report("\(subject) must be a mapping (key: value lines), found \(Self.kindName(node))")
            return nil
        }
        var entries: [String: (key: Node, value: Node)] = [:]
        for (key, value) in mapping {
            guard let name = key.string else {
                report("\(subject) has a key that is not a string", at: key.mark)
                continue
            }
            if entries[name] != nil {
                report("\(joined(name)) is given twice", at: key.mark)
                continue
            }
            if let allowed, !allowed.contains(name) {
                var message = "unknown key `\(name)` in \(path.isEmpty ? "the manifest" : path)"
                if let suggestion = Spelling.closest(to: name, among: allowed) {
                    message += "; did you mean `\(suggestion)`?"
                }
                report(message, at: key.mark)
                continue
            }
            entries[name] = (key, value)
        }
        return MappingReader(reader: self, entries: entries)
    }

    /// This node as a list of readers, one per element.
    func sequence() -> [YAMLNodeReader]? {
        guard case .sequence(let sequence) = node else {
            report("\(subject) must be a list, found \(Self.kindName(node))")
            return nil
        }
        return sequence.enumerated().map { index, element in child(element, path: "\(path)[\(index)]") }
    }

    func joined(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The node as messages name it: its path, or the whole manifest at the root.
    var subject: String { path.isEmpty ? "the manifest" : path }

    // MARK: Scalars

    /// How a problem message shows a value: verbatim when the manifest spells it out, by reference
    /// when it came from the environment (which may hold a secret wired to the wrong field), and by
    /// its length alone when it may hold a secret: one written inline can land in the wrong field,
    /// or inside another field's value when a line break or a dash goes missing.
    func shown(_ value: String) -> String {
        if case .scalar(let scalar) = node, scalar.string.contains("${") {
            return "the value of `\(scalar.string)`"
        }
        if Self.mayHoldSecret(value) {
            return "a value of \(value.count) characters, not shown as it may hold a secret"
        }
        return "`\(value)`"
    }

    /// Whether a value is shaped like something secret, or holds such a thing: a long token of
    /// letters and digits (webhook secrets, access tokens, app secrets in hex), a URL with a
    /// password, or text longer or with more lines than any value of the manifest's own fields.
    /// The values those fields take (versions, names, ids, pixels, account ids, hosts, durations)
    /// are shown as written.
    static func mayHoldSecret(_ value: String) -> Bool {
        if value.utf8.count > 120 || value.contains(where: \.isNewline) { return true }
        if let scheme = value.range(of: "://"), value[scheme.upperBound...].prefix(while: { $0 != "/" }).contains("@") { return true }
        var run = (length: 0, letters: 0, digits: 0)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): run = (run.length + 1, run.letters, run.digits + 1)
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): run = (run.length + 1, run.letters + 1, run.digits)
            case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="): run.length += 1
            default: run = (0, 0, 0)
            }
            if run.length >= 24 && run.letters >= 4 && run.digits >= 2 { return true }
        }
        return false
    }

    /// Whether the value is written with a reference (`${env:…}`, `${aws-secret:…}`) rather than
    /// as literal text.
    var holdsReference: Bool {
        if case .scalar(let scalar) = node { return scalar.string.contains("${") }
        return false
    }

    /// The scalar's text with environment references resolved.
    func text() -> String? {
        guard case .scalar(let scalar) = node else {
            report("\(path) must be a single value, found \(Self.kindName(node))")
            return nil
        }
        let (value, failures) = references.resolve(scalar.string)
        for failure in failures {
            switch failure {
            case .unset(let variable):
                report(
                    "\(path): environment variable \(variable) is not set and the reference has no default (write ${env:\(variable):-default} to give one)"
                )
            case .malformed(let reason):
                report("\(path): malformed reference: \(reason)")
            case .secretNotRead(let reference):
                report("\(path): the secret ${aws-secret:\(reference)} was not read (it is read through the AWS Parameters and Secrets Extension)")
            }
        }
        if references.secretStandIn != nil, scalar.string.contains("${" + EnvironmentReferences.secretPrefix) {
            collector.leaveUnchecked(at: mark)
        }
        return failures.isEmpty ? value : nil
    }

    func string(nonEmpty: Bool = true) -> String? {
        guard let value = text() else { return nil }
        if nonEmpty && value.trimmingCharacters(in: .whitespaces).isEmpty {
            report("\(path) must not be empty")
            return nil
        }
        return value
    }

    func integer(in range: ClosedRange<Int>? = nil) -> Int? {
        guard let value = text() else { return nil }
        guard let number = Int(value.trimmingCharacters(in: .whitespaces)) else {
            report("\(path) must be a whole number, found \(shown(value))")
            return nil
        }
        if let range, !range.contains(number) {
            report("\(path) must be between \(range.lowerBound) and \(range.upperBound), found \(shown(String(number)))")
            return nil
        }
        return number
    }

    func number(in range: ClosedRange<Double>? = nil) -> Double? {
        guard let value = text() else { return nil }
        guard let number = Double(value.trimmingCharacters(in: .whitespaces)), number.isFinite else {
            report("\(path) must be a number, found \(shown(value))")
            return nil
        }
        if let range, !range.contains(number) {
            report("\(path) must be between \(range.lowerBound) and \(range.upperBound), found \(shown(value))")
            return nil
        }
        return number
    }

    func boolean() -> Bool? {
        guard let value = text() else { return nil }
        switch value.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report("\(path) must be true or false, found \(shown(value))")
            return nil
        }
    }

    func duration(minimum: Duration = .zero, maximum: Duration? = nil) -> Duration? {
        guard let value = text() else { return nil }
        guard let duration = ConfigDuration.parse(value) else {
            report("\(path) must be a duration from 0 to 10 years such as `1500ms`, `10m`, `PT10M` or `P1D`, found \(shown(value))")
            return nil
        }
        if duration < minimum {
            report("\(path) must be at least \(ConfigDuration.written(minimum)), found \(shown(value))")
            return nil
        }
        if let maximum, duration > maximum {
            report("\(path) must be at most \(ConfigDuration.written(maximum)), found \(shown(value))")
            return nil
        }
        return duration
    }

    func oneOf<Choice: RawRepresentable & CaseIterable>(_ type: Choice.Type) -> Choice? where Choice.RawValue == String {
        guard let value = text() else { return nil }
        if let choice = Choice(rawValue: value) { return choice }
        let names = Choice.allCases.map(\.rawValue)
        var message = "\(path) must be one of \(names.joined(separator: ", ")), found \(shown(value))"
        if let suggestion = Spelling.closest(to: value, among: names) {
            message += "; did you mean `\(suggestion)`?"
        }
        report(message)
        return nil
    }

    func stringList() -> [String]? { stringList { _, _ in true } }

    /// A list of strings (a single value is a list of one), each entry checked by `accept`, which
    /// reports on the entry it refuses. Every entry is checked, so `validate` names each bad one.
    func stringList(checkingEach accept: (_ entry: YAMLNodeReader, _ value: String) -> Bool) -> [String]? {
        let entries: [YAMLNodeReader]
        if isScalarValue {
            entries = [self]
        } else {
            guard let elements = sequence() else { return nil }
            entries = elements
        }
        var values: [String] = []
        var failed = false
        for entry in entries {
            if let value = entry.string(), accept(entry, value) { values.append(value) } else { failed = true }
        }
        return failed ? nil : values
    }
}
