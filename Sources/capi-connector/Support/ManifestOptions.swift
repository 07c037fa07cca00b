import ArgumentParser
import ConnectorRuntime
import Foundation

/// `--manifest`, shared by every command that reads the manifest.
struct ManifestOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Path to the connector manifest.", valueName: "path"))
    var manifest: String = ManifestLoader.defaultPath

    /// The loaded manifest, or the problems printed to standard error and exit code 2.
    func load() throws -> Manifest {
        do {
            return try ManifestLoader().load(path: manifest)
        } catch {
            for problem in error.problems {
                StandardStreams.printError(problem.description)
            }
            throw ExitCode(2)
        }
    }
}
