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
