import ArgumentParser
import ConnectorRuntime
import LambdaRunner

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the manifest and report every problem.",
        discussion: """
            Exit 0 when the manifest is valid. Otherwise exit 2 and print one line per problem on standard \
            output, as FILE:LINE:COL: message, so editors and CI annotate the right place. Environment \
            references are resolved against the current environment: an unset variable without a default \
            is a problem. Secret values are never printed.

            ${aws-secret:…} references are read inside Lambda, through the Parameters and Secrets \
            Extension. Elsewhere (a CI step before a deploy) each is given a stand-in and the rest of the \
            manifest is checked; a note on standard error says how many were not read.
            """
    )

    @OptionGroup var options: ManifestOptions

    func run() async throws {
        do {
            let loaded = try await ManifestOptions.loadStandingIn(path: options.manifest) { standIns in
                StandardStreams.printError(
                    "note: \(ManifestOptions.unreadSecrets(standIns)); the values holding them are not checked, the rest of the manifest is"
                )
            }
            guard let manifest = loaded.manifest else {
                StandardStreams.printError("\(options.manifest): valid, apart from the secrets it reads in Lambda")
                return
            }
            StandardStreams.printError("\(options.manifest): valid (\(manifest.pixels.count) pixel\(manifest.pixels.count == 1 ? "" : "s"))")
            if let push = manifest.push, manifest.runtime.supportedRunners.contains("lambda"), push.bodyLimitBytes > LambdaLimits.maximumBodyBytes {
                StandardStreams.printError(
                    "note: under `lambda` request bodies are capped at \(LambdaLimits.maximumBodyBytes) bytes (a synchronous invocation carries 6 MB, and API Gateway may base64-encode the body); push.body_limit_bytes \(push.bodyLimitBytes) applies to `serve`"
                )
            }
            let schemas = manifest.schemaRegistry
            if schemas.resolvedFolder() == nil {
                StandardStreams.printError(
                    "note: schema_registry.path `\(schemas.path)` is not a folder here (looked in \(schemas.candidateFolders.joined(separator: ", "))); serve, poll and lambda started here would register no schema, and drift alarms would have none to check"
                )
            }
        } catch {
            for problem in error.problems {
                StandardStreams.printOutput(problem.description)
            }
            StandardStreams.printError("\(error.problems.count) problem\(error.problems.count == 1 ? "" : "s") in \(options.manifest)")
            throw ExitCode(2)
        }
    }
}
