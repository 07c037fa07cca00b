import ArgumentParser
import ConnectorRuntime

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the manifest and report every problem.",
        discussion: """
            Exit 0 when the manifest is valid. Otherwise exit 2 and print one line per problem on standard
            output, as FILE:LINE:COL: message, so editors and CI annotate the right place. Environment
            references are resolved against the current environment: an unset variable without a default
            is a problem. Secret values are never printed.
            """
    )

    @OptionGroup var options: ManifestOptions

    func run() throws {
        do {
            let manifest = try ManifestLoader().load(path: options.manifest)
            StandardStreams.printError("\(options.manifest): valid (\(manifest.pixels.count) pixel\(manifest.pixels.count == 1 ? "" : "s"))")
        } catch {
            for problem in error.problems {
                StandardStreams.printOutput(problem.description)
            }
            StandardStreams.printError("\(error.problems.count) problem\(error.problems.count == 1 ? "" : "s") in \(options.manifest)")
            throw ExitCode(2)
        }
    }
}
