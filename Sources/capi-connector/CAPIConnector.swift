import ArgumentParser
import ConnectorRuntime
import Foundation

@main
struct CAPIConnector: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capi-connector",
        abstract: "A connector runtime for Meta's Conversions API: a signed webhook-mirror sidecar (push) and a delivery-status poll job (pull).",
        discussion: """
            Every command reads the manifest (default manifests/meta_conversions_api.yaml); \
            secrets and deployment values come from the environment via ${env:NAME}.

            Start here:
              capi-connector validate              check the manifest
              capi-connector serve --sandbox       push sidecar, Graph stand-in
              capi-connector poll --once           pull delivery status once
              capi-connector reconcile --since 2026-11-16 --until 2026-11-23
              capi-connector help <subcommand>     what each command does
            """,
        version: BuildInfo.version,
        subcommands: [
            ServeCommand.self,
            PollCommand.self,
            FlushCommand.self,
            LambdaCommand.self,
            HealthCommand.self,
            ReconcileCommand.self,
            ValidateCommand.self,
            DiscoverCommand.self,
            ReadCommand.self,
            StateCommand.self,
            DLQCommand.self,
            SchemaCommand.self,
            NormalizeCommand.self,
            SandboxCommand.self,
            BenchCommand.self,
        ]
    )

    /// `help` with a topic that is no command is an error (exit 64), not the overview with exit 0:
    /// a script asking for `help sever` should learn that it misspelled the command.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        // Lambda's provided.al2023 runtime starts the zip's `bootstrap` with no arguments.
        if arguments.isEmpty, LambdaCommand.isLambdaBootstrap {
            await main(["lambda"])
            return
        }
        if arguments.first == "help", let unknown = unknownHelpTopic(Array(arguments.dropFirst())) {
            let known = configuration.subcommands.map { $0._commandName }.joined(separator: ", ")
            StandardStreams.printError("Error: `\(unknown)` is not a capi-connector command; commands: \(known)")
            Self.exit(withError: ExitCode(64))
        }
        await main(nil)
    }

    /// The first word of a `help` topic that names no (sub)command, or `nil` when the path is known.
    static func unknownHelpTopic(_ topic: [String]) -> String? {
        var commands: [any ParsableCommand.Type] = configuration.subcommands
        for word in topic where !word.hasPrefix("-") {
            guard let match = commands.first(where: { $0._commandName == word }) else { return word }
            commands = match.configuration.subcommands
        }
        return nil
    }
}
