/// Resolves `${env:NAME}` and `${env:NAME:-default}` references inside manifest values.
///
/// Deployment values and secrets live in the environment, not in the manifest file, so one manifest
/// runs in every environment. References may appear anywhere in a scalar
/// (`postgres://app:${env:PGPASSWORD}@db/capi`); the default may be empty (`${env:X:-}`).
public struct EnvironmentReferences: Sendable {
    public enum Failure: Error, Equatable, Sendable {
        /// The variable is unset (or empty) and the reference has no default.
        case unset(variable: String)
        /// `${` opened a reference that is not of the form `${env:NAME}` / `${env:NAME:-default}`.
        case malformed(reason: String)
    }

    public let environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// The text with every reference replaced. Collects every failure rather than stopping.
    public func resolve(_ text: String) -> (value: String, failures: [Failure]) {
        guard text.contains("${") else { return (text, []) }
        var output = ""
        var failures: [Failure] = []
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            output += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                failures.append(.malformed(reason: "`${` without a closing `}`"))
                return (output, failures)
            }
            let body = rest[open.upperBound..<close]
            rest = rest[rest.index(after: close)...]
            guard body.hasPrefix("env:") else {
                failures.append(.malformed(reason: "only `${env:NAME}` references are supported"))
                continue
            }
            let spec = body.dropFirst(4)
            let name: Substring
            let fallback: Substring?
            if let dash = spec.range(of: ":-") {
                name = spec[..<dash.lowerBound]
                fallback = spec[dash.upperBound...]
            } else {
                name = spec
                fallback = nil
            }
            guard Self.isValidName(name) else {
                failures.append(.malformed(reason: "`\(name)` is not a valid environment variable name"))
                continue
            }
            if let value = environment[String(name)], !value.isEmpty {
                output += value
            } else if let fallback {
                output += fallback
            } else {
                failures.append(.unset(variable: String(name)))
            }
        }
        output += rest
        return (output, failures)
    }

    static func isValidName(_ name: Substring) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            return false
        }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
    }
}
