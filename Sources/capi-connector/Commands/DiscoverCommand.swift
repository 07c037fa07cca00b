import ArgumentParser
import ConnectorRuntime
import Foundation

struct DiscoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discover",
        abstract: "Print the stream catalog as JSON.",
        discussion: """
            For every configured pixel: each stream with its name, primary key, cursor field and schema id. \
            `delivered_events` is written by push mode, `delivery_statuses` by pull mode.

            The catalog holds no secret, so a Lambda manifest is read outside Lambda too: its \
            ${aws-secret:…} references are not read, and a note on standard error says how many. Only when \
            a value the catalog prints (a pixel or ad account id) is itself such a reference does discover stop, naming it.
            """
    )

    @OptionGroup var options: ManifestOptions

    func run() async throws {
        let loaded: (manifest: Manifest?, standIns: Int)
        do {
            loaded = try await ManifestOptions.loadStandingIn(path: options.manifest, scope: .withoutIntake)
        } catch {
            for problem in error.problems { StandardStreams.printError(problem.description) }
            throw ExitCode(2)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let manifest = loaded.manifest,
            case let text = String(decoding: try encoder.encode(StreamCatalog(manifest: manifest)), as: UTF8.self),
            !text.contains(ManifestOptions.secretStandIn)
        else {
            // A catalog with a stand-in where a pixel id goes would name a pixel that does not exist.
            StandardStreams.printError(
                "\(options.manifest): \(ManifestOptions.unreadSecrets(loaded.standIns)), and the catalog needs the value of one (a pixel or ad account id); run discover where they are read"
            )
            throw ExitCode(2)
        }
        if loaded.standIns > 0 {
            StandardStreams.printError("note: \(ManifestOptions.unreadSecrets(loaded.standIns)); the catalog uses none of them")
        }
        StandardStreams.printOutput(text)
    }
}
