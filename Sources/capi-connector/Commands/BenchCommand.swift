import ArgumentParser
import CAPIBenchmarks
import ConnectorRuntime

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput and print figures (build with -c release first).",
        discussion: """
        Benchmarks run on release builds: swift build -c release && .build/release/capi-connector bench normalize
        """,
        subcommands: [Normalize.self, State.self]
    )

    struct Normalize: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate, normalize and hash realistic events on one core.")

        @Option(help: "How long to measure, in seconds.")
        var seconds: Double = 3

        func run() {
            print(NormalizationBenchmark.run(seconds: seconds).rendered)
        }
    }

    struct State: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ledger + outbox insert throughput: batches of 1 and 500, and group commit.")

        @OptionGroup var state: StateOptions

        @Option(help: "Events to write in batches of 500.")
        var events: Int = 50_000

        func run() async throws {
            print(try await StateBenchmark.run(location: try state.location, events: events).rendered)
        }
    }
}
