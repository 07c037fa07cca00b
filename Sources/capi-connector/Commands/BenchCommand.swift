import ArgumentParser
import CAPIBenchmarks

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput and print figures (build with -c release first).",
        discussion: """
        Benchmarks run on release builds: swift build -c release && .build/release/capi-connector bench normalize
        """,
        subcommands: [Normalize.self]
    )

    struct Normalize: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate, normalize and hash realistic events on one core.")

        @Option(help: "How long to measure, in seconds.")
        var seconds: Double = 3

        func run() {
            print(NormalizationBenchmark.run(seconds: seconds).rendered)
        }
    }
}
