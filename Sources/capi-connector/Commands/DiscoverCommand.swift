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
            """
    )

    @OptionGroup var options: ManifestOptions

    func run() async throws {
        let manifest = try await options.load(scope: .withoutIntake)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(StreamCatalog(manifest: manifest))
        StandardStreams.printOutput(String(decoding: data, as: UTF8.self))
    }
}
