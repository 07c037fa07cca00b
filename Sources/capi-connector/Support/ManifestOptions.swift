import ArgumentParser
import ConnectorRuntime
import Foundation
import LambdaRunner

/// `--manifest`, shared by every command that reads the manifest.
struct ManifestOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Path to the connector manifest.", valueName: "path"))
    var manifest: String = ManifestLoader.defaultPath

    /// The loaded manifest, or the problems printed to standard error and exit code 2.
    func load(scope: ManifestLoader.Scope = .everything) async throws -> Manifest {
        do {
            return try await Self.load(path: manifest, scope: scope)
        } catch {
            // Typed: only a manifest's problems reach here.
            for problem in error.problems {
                StandardStreams.printError(problem.description)
            }
            throw ExitCode(2)
        }
    }

    /// What `validate` checks where `${aws-secret:…}` references cannot be read (outside Lambda, as
    /// in a CI step before a deploy): each reads as a stand-in, a well-formed webhook secret, and
    /// the values holding one are not checked further (``ManifestLoader/secretStandIn``); everything
    /// else is. Inside Lambda, or without references, this is ``load(path:scope:)``.
    ///
    /// - Returns: the manifest, or `nil` when only values holding a secret had problems.
    static func loadForValidation(path: String) async throws(ManifestError) -> Manifest? {
        let text = try ManifestLoader.text(path: path)
        let references = EnvironmentReferences.secretReferences(in: text)
        guard !references.isEmpty, !SecretsExtension().canRead else { return try await load(path: path) }
        StandardStreams.printError(
            "note: \(references.count) ${aws-secret:…} reference\(references.count == 1 ? " is" : "s are") not read here (secrets are read inside "
                + "Lambda, and AWS_SESSION_TOKEN is not set); the values holding them are not checked, the rest of the manifest is"
        )
        var loader = ManifestLoader()
        loader.secretStandIn = "whsec_" + String(repeating: "A", count: 43) + "="
        do {
            return try loader.load(yaml: text, path: path)
        } catch  where error.problems.isEmpty {
            return nil
        }
    }

    /// Reads the file, the values of its `${aws-secret:…}` references (through the Parameters and
    /// Secrets Extension, only when there are any), then loads it.
    static func load(path: String, scope: ManifestLoader.Scope = .everything) async throws(ManifestError) -> Manifest {
        let text = try ManifestLoader.text(path: path)
        let references = EnvironmentReferences.secretReferences(in: text)
        var secrets: [String: String] = [:]
        if !references.isEmpty {
            do { secrets = try await SecretsExtension().values(of: references) } catch {
                throw ManifestError(problems: [ManifestProblem(file: path, line: 1, column: 1, message: error.description)])
            }
        }
        return try ManifestLoader(secrets: secrets, scope: scope).load(yaml: text, path: path)
    }
}
