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
            a value the catalog needs (a pixel or ad account id) is itself such a reference does discover stop, saying where.
            """
    )

    @OptionGroup var options: ManifestOptions

    func run() async throws {
        let loaded: StandingInLoad
        do {
            loaded = try await ManifestOptions.loadStandingIn(path: options.manifest, scope: .withoutIntake)
        } catch {
            for problem in error.problems { StandardStreams.printError(problem.description) }
            throw ExitCode(2)
        }
        guard let manifest = loaded.manifest else {
            StandardStreams.printError(
                "\(options.manifest): \(ManifestOptions.unreadSecrets(loaded.standIns)), and the value at \(loaded.unloaded.joined(separator: ", ")) does not load without its secret; run discover where they are read"
            )
            throw ExitCode(2)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(StreamCatalog(manifest: manifest)), as: UTF8.self)
        // The values the catalog shows (pixel and ad account ids) do not load from a stand-in; should
        // one ever, the catalog would name something that does not exist, so it is not printed.
        guard !text.contains(ManifestOptions.secretStandIn) else {
            StandardStreams.printError(
                "\(options.manifest): \(ManifestOptions.unreadSecrets(loaded.standIns)), and the catalog would show one of them; run discover where they are read"
            )
            throw ExitCode(2)
        }
        if loaded.standIns > 0 {
            StandardStreams.printError("note: \(ManifestOptions.unreadSecrets(loaded.standIns)); the catalog uses none of them")
        }
        StandardStreams.printOutput(text)
    }
}
