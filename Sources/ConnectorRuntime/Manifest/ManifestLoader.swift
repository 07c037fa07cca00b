import Foundation
import Yams

/// Reads a manifest file into a ``Manifest``, reporting every problem with its line and column.
///
/// Loading is pure apart from reading the file: the environment is passed in, so tests can pin it
/// and the loader never reads process state behind the caller's back.
public struct ManifestLoader: Sendable {
    /// The shipped manifest, relative to the working directory.
    public static let defaultPath = "manifests/meta_conversions_api.yaml"

    /// What a command uses of the manifest. A value no part of the command reads need not be set:
    /// a scheduled poll job should not have to be given the webhook's signing secrets.
    public enum Scope: Sendable, Equatable {
        /// Every value is read and checked (`serve`, `lambda`, `validate`).
        case everything
        /// For commands that never receive a request (`poll`, `flush`, `discover`): the webhook
        /// sources' secrets, the ingest token and the mirror salt are not read, so their
        /// `${env:…}` references need not resolve. Everything else is read and checked as usual.
        case withoutIntake
    }

    public var environment: [String: String]
    /// Values of the manifest's `${aws-secret:…}` references, read by the caller beforehand.
    public var secrets: [String: String]
    public var scope: Scope
    /// For checking a manifest where its secrets cannot be read (`validate` outside Lambda): every
    /// `${aws-secret:…}` reference without a value in `secrets` reads as this, and a value holding
    /// one is not checked further (its problems would be the stand-in's). When only such values
    /// had problems, loading throws a ``ManifestError`` without problems: nothing that could be
    /// checked is wrong, and there is no manifest to run.
    public var secretStandIn: String?

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        secrets: [String: String] = [:],
        scope: Scope = .everything
    ) {
        self.environment = environment
        self.secrets = secrets
        self.scope = scope
    }

    public func load(path: String) throws(ManifestError) -> Manifest {
        try load(yaml: Self.text(path: path), path: path)
    }

    /// The manifest file's text, for callers that look at it before loading (secret references).
    public static func text(path: String) throws(ManifestError) -> String {
        do {
            return try TextFile.read(path: path)
        } catch {
            throw ManifestError(problems: [
                ManifestProblem(file: path, line: error.line, column: error.column, message: "cannot read the manifest: \(error.reason)")
            ])
        }
    }

    public func load(yaml: String, path: String) throws(ManifestError) -> Manifest {
        let collector = ProblemCollector(file: path)
        var text = yaml
        // A key given twice is reported where it is repeated, and the rest of the manifest is still
        // checked: the repeat is renamed to a placeholder and the text composed again.
        var repeats: [ManifestProblem] = []
        var placeholders: [String] = []
        var lastRepeat: (names: [String], line: Int, column: Int)?
        let root: Node
        while true {
            do {
                guard let composed = try Yams.compose(yaml: text) else {
                    throw ManifestError(problems: [ManifestProblem(file: path, line: 1, column: 1, message: "the manifest is empty")])
                }
                root = composed
                break
            } catch let error as ManifestError {
                throw error
            } catch {
                // The same repeat twice means the renaming missed it: report it as Yams does.
                guard case .duplicatedKeysInMapping(let names, let context) = error as? YamlError, repeats.count < 100,
                    lastRepeat.map({ $0 != (names, context.mark.line, context.mark.column) }) ?? true,
                    let renamed = DuplicateKeys.renamingRepeats(of: names, in: text, firstKeyAt: context.mark, placeholderStart: placeholders.count)
                else {
                    throw ManifestError(problems: repeats + [Self.problem(fromYAMLError: error, file: path)])
                }
                lastRepeat = (names, context.mark.line, context.mark.column)
                text = renamed.text
                placeholders += renamed.repeats.map(\.placeholder)
                repeats += renamed.repeats.map {
                    ManifestProblem(
                        file: path,
                        line: $0.line,
                        column: $0.column,
                        message: "duplicate key `\($0.name.prefix(64))` in one mapping (first at line \($0.firstLine)); remove one"
                    )
                }
            }
        }
        let reader = YAMLNodeReader(
            node: root,
            path: "",
            collector: collector,
            references: EnvironmentReferences(environment: environment, secrets: secrets, secretStandIn: secretStandIn)
        )
        let manifest = ManifestBuilder(sourcePath: path, scope: scope).build(reader)
        // What was said of a placeholder is said of a key already reported as repeated.
        let found = collector.problems.filter { problem in !placeholders.contains { problem.message.contains($0) } }
        let problems = (repeats + found).sorted { ($0.line, $0.column) < ($1.line, $1.column) }
        guard problems.isEmpty, let manifest else {
            if problems.isEmpty, !collector.uncheckedLocations.isEmpty {
                throw ManifestError(problems: [], uncheckedLocations: collector.uncheckedLocations)
            }
            throw ManifestError(
                problems: problems.isEmpty ? [ManifestProblem(file: path, line: 1, column: 1, message: "the manifest is incomplete")] : problems
            )
        }
        return manifest
    }

    /// libyaml's problem, with where the construct it was reading began when that is elsewhere
    /// (an unclosed quote is found lines later), and a tab named as one: YAML indents with spaces.
    /// libyaml's texts name constructs, never the document's values.
    static func yamlProblem(_ problem: String, at mark: Mark, context: YamlError.Context?, in yaml: String) -> String {
        var text = problem
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        // libyaml counts columns in characters.
        if mark.line >= 1, mark.line <= lines.count, mark.column >= 1,
            lines[mark.line - 1].unicodeScalars.dropFirst(mark.column - 1).first == "\t"
        {
            text += ": a tab character, and YAML indents with spaces only"
        }
        if let context, context.mark.line != mark.line {
            text += " (\(context.text), which starts at line \(context.mark.line), column \(context.mark.column))"
        }
        return text
    }

    static func problem(fromYAMLError error: any Error, file: String) -> ManifestProblem {
        switch error as? YamlError {
        case .scanner(let context, let problem, let mark, let yaml), .parser(let context, let problem, let mark, let yaml),
            .composer(let context, let problem, let mark, let yaml):
            return ManifestProblem(
                file: file,
                line: mark.line,
                column: mark.column,
                message: "invalid YAML: \(yamlProblem(problem, at: mark, context: context, in: yaml))"
            )
        case .reader(let problem, _, _, _):
            return ManifestProblem(file: file, line: 1, column: 1, message: "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Only the key names and where: the error's own text quotes the surrounding YAML, secrets included.
            let names = duplicates.sorted().map { "`\($0.prefix(64))`" }.joined(separator: ", ")
            return ManifestProblem(file: file, line: context.mark.line, column: context.mark.column, message: "duplicate key \(names) in one mapping")
        default:
            // Yams' descriptions quote the document; say what failed, never what it contained.
            return ManifestProblem(file: file, line: 1, column: 1, message: "invalid YAML (\(String(describing: type(of: error))))")
        }
    }
}
