import Yams

/// Resolves `${env:NAME}`, `${env:NAME:-default}` and `${aws-secret:ID}` references inside
/// manifest values.
///
/// Deployment values and secrets live outside the manifest file, so one manifest runs in every
/// environment. References may appear anywhere in a scalar
/// (`postgres://app:${env:PGPASSWORD}@db/capi`); the default may be empty (`${env:X:-}`).
/// `${aws-secret:ID}` (or `${aws-secret:ID#key}` for one key of a JSON secret) names a secret in
/// AWS Secrets Manager; the caller reads those before loading (inside Lambda, through the
/// Parameters and Secrets Extension) and passes their values in, so loading stays pure.
public struct EnvironmentReferences: Sendable {
    public enum Failure: Error, Equatable, Sendable {
        /// The variable is unset (or empty) and the reference has no default.
        case unset(variable: String)
        /// `${` opened a reference that is not one of the supported forms.
        case malformed(reason: String)
        /// An `${aws-secret:…}` reference whose value was not read before loading.
        case secretNotRead(reference: String)
    }

    public let environment: [String: String]
    /// Values of `${aws-secret:…}` references, keyed by what follows `aws-secret:`.
    public let secrets: [String: String]
    /// The value of every `${aws-secret:…}` reference not in `secrets`, when one is set.
    public let secretStandIn: String?

    public init(environment: [String: String], secrets: [String: String] = [:], secretStandIn: String? = nil) {
        self.environment = environment
        self.secrets = secrets
        self.secretStandIn = secretStandIn
    }

    static let secretPrefix = "aws-secret:"

    /// The `${aws-secret:…}` references in a manifest's values (what follows `aws-secret:`), in
    /// order and without repeats: each is a secret to read before loading.
    ///
    /// Read from the YAML's values, where the loader resolves them, so a reference in a comment is
    /// not fetched, also after a value (`token: ${aws-secret:new} # was ${aws-secret:old}`, kept
    /// during a rotation, would fail the start once `old` was deleted). Text that is not valid
    /// YAML is read line by line, skipping whole-line comments: the loader then reports why.
    public static func secretReferences(in text: String) -> [String] {
        let scalars: [Substring]
        if let root = try? Yams.compose(yaml: text) {
            scalars = scalarTexts(of: root)
        } else {
            scalars = text.split(separator: "\n").filter { !$0.drop(while: { $0 == " " }).hasPrefix("#") }
        }
        var found: [String] = []
        for scalar in scalars {
            var rest = scalar
            while let open = rest.range(of: "${" + secretPrefix) {
                rest = rest[open.upperBound...]
                guard let close = rest.firstIndex(of: "}") else { break }
                let reference = String(rest[..<close])
                if !reference.isEmpty, !found.contains(reference) { found.append(reference) }
                rest = rest[close...]
            }
        }
        return found
    }

    /// Every value scalar of `node`, in document order; keys are names, never resolved.
    private static func scalarTexts(of node: Node) -> [Substring] {
        switch node {
        case .scalar(let scalar): [Substring(scalar.string)]
        case .mapping(let mapping): mapping.values.flatMap(scalarTexts(of:))
        case .sequence(let sequence): sequence.flatMap(scalarTexts(of:))
        case .alias: []
        }
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
            // `${env:A:-${env:B}}` would end at the first `}` and take `${env:B` as A's default.
            guard !body.contains("${") else {
                failures.append(
                    .malformed(reason: "a reference inside another (`${env:A:-${env:B}}`) is not supported; give a default as plain text")
                )
                return (output, failures)
            }
            if body.hasPrefix(Self.secretPrefix) {
                let reference = String(body.dropFirst(Self.secretPrefix.count))
                if let value = secrets[reference] ?? secretStandIn { output += value } else { failures.append(.secretNotRead(reference: reference)) }
                continue
            }
            guard body.hasPrefix("env:") else {
                failures.append(.malformed(reason: "only `${env:NAME}` and `${aws-secret:ID}` references are supported"))
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
