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
        subcommands: [Normalize.self, State.self, Ingest.self]
    )

    struct Normalize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate, normalize and hash realistic events on one core.",
            discussion: """
                Prints events/s twice: preparing each event alone, then preparing it and writing \
                its payload's canonical text, which is what intake stores, content-hashes and sends.
                """
        )

        @Option(parsing: .unconditional, help: "How long to measure, in seconds.")
        var seconds: Double = 3

        func validate() throws {
            guard seconds.isFinite, seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be more than 0 and at most 3600") }
        }

        func run() {
            NormalizationBenchmark.run(seconds: seconds, emit: StandardStreams.printOutput)
        }
    }

    struct State: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ledger + outbox insert throughput: batches of 1 and 500, and group commit.")

        @OptionGroup var state: StateOptions

        @Option(parsing: .unconditional, help: "Events to write in batches of 500.")
        var events: Int = 50_000
        @Option(
            parsing: .unconditional,
            help: ArgumentHelp(
                "Grow each event's payload to at least this many bytes with a cart of items in custom_data (default: a website purchase of about 700 bytes).",
                valueName: "bytes"
            )
        )
        var payloadBytes: Int?
        @Flag(help: prepareWALHelp) var prepareWal = false

        func validate() throws {
            guard events >= 1 else { throw ValidationError("--events must be at least 1") }
            if let payloadBytes, !(1...1_000_000).contains(payloadBytes) {
                throw ValidationError("--payload-bytes must be 1 to 1000000")
            }
        }

        func run() async throws {
            let location = try preparableLocation(state, prepareWAL: prepareWal)
            try await StateBenchmark.run(
                location: location,
                events: events,
                prepareWriteAheadLog: prepareWal,
                payloadBytes: payloadBytes,
                emit: StandardStreams.printOutput
            )
        }
    }

    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Push sidecar throughput and latency on loopback: single events, a fixed rate, the batch endpoint, the forwarder, the fixed rate while forwarding.",
            discussion:
                "Needs CAPI_WEBHOOK_SECRET (the manifest's default source). Example: bench ingest --state postgres://postgres@127.0.0.1:5432/postgres\n\n"
                + "A stage whose events were refused prints its first refusal under its line, and the run exits 1: a rate of refusals "
                + "is not a throughput. With --target, sign for the sidecar's pixel (META_PIXEL_ID) with its secret.\n\n"
                + "On PostgreSQL each stage also shows the WAL written per event and the WAL files the server created meanwhile "
                + "(listing them takes a superuser or pg_monitor). A fresh cluster creates a file, 16 MB written in full, every "
                + "16 MB of WAL until checkpoints recycle old ones, and the commits queued meanwhile wait: the long tails of a first run. "
                + "--prepare-wal has the server create those files first, as a server that has been running has them."
        )

        @OptionGroup var manifestOptions: ManifestOptions
        @OptionGroup var state: StateOptions
        @Option(parsing: .unconditional, help: "Signed single events in the closed-loop run.") var events = 20_000
        @Option(parsing: .unconditional, help: "Concurrent connections of the load generator.") var concurrency = 64
        @Option(parsing: .unconditional, help: "Events per second in the fixed-rate runs (5 seconds each: forwarder idle, then running).") var rate =
            2_000
        @Option(parsing: .unconditional, help: "Events through the batch endpoint (1,000 per request).") var batchEvents = 100_000
        @Option(help: ArgumentHelp("Drive a sidecar already running here instead of starting one (load only).", valueName: "url")) var target: String?
        @Option(
            parsing: .unconditional,
            help: ArgumentHelp(
                "With --target: the sidecar's process id, to report its own resident memory (now and peak) after the load.",
                valueName: "pid"
            )
        )
        var targetPid: Int32?
        @Option(
            parsing: .unconditional,
            help: ArgumentHelp(
                "Grow each event to at least this many bytes as sent, with a cart of items in custom_data (large orders); "
                    + "the batch endpoint then sends fewer than 1,000 per request if 1,000 would pass the body limit.",
                valueName: "bytes"
            )
        )
        var eventBytes: Int?
        @Flag(help: prepareWALHelp) var prepareWal = false

        func validate() throws {
            if prepareWal && target != nil {
                throw ValidationError("--prepare-wal prepares this run's own PostgreSQL state; a sidecar at --target writes to its own")
            }
            guard events >= 1 else { throw ValidationError("--events must be at least 1") }
            guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
            guard rate >= 1 else { throw ValidationError("--rate must be at least 1 event per second") }
            guard batchEvents >= 0 else { throw ValidationError("--batch-events must be 0 or more") }
            if let eventBytes, !(1...1_000_000).contains(eventBytes) { throw ValidationError("--event-bytes must be 1 to 1000000") }
            if targetPid != nil && target == nil { throw ValidationError("--target-pid needs --target (the sidecar at that address)") }
            if let targetPid, targetPid < 1 { throw ValidationError("--target-pid must be a process id (1 or more)") }
        }

        func run() async throws {
            let manifest = try await manifestOptions.load()
            let load = IngestBenchmark.Load(singles: events, concurrency: concurrency, rate: rate, batchEvents: batchEvents, eventBytes: eventBytes)
            if let target {
                let (report, refusals) = try await IngestBenchmark.drive(
                    url: target,
                    manifest: manifest,
                    load: load,
                    emit: StandardStreams.printOutput
                )
                if let targetPid {
                    let memory = ProcessMemory.of(pid: targetPid)
                    report.add(
                        "sidecar resident memory",
                        memory.map { "\($0.residentMegabytes) MB now, \($0.peakMegabytes) MB peak" } ?? "unreadable: no process \(targetPid)"
                    )
                }
                try Self.fail(on: refusals)
                return
            }
            let location = try preparableLocation(state, prepareWAL: prepareWal)
            try Self.fail(
                on: try await IngestBenchmark.run(
                    location: location,
                    manifest: manifest,
                    load: load,
                    prepareWriteAheadLog: prepareWal,
                    emit: StandardStreams.printOutput
                )
            )
        }

        /// A figure over refused events measures refusing: say so, and exit 1.
        static func fail(on refusals: IngestBenchmark.Refusals) throws {
            guard refusals.events > 0 else { return }
            StandardStreams.printError(
                "bench ingest: \(refusals.events) events were refused (the first refusal is printed under its stage), so the figures "
                    + "above do not measure accepted events; check \(refusals.checks.joined(separator: "; "))"
            )
            throw ExitCode(1)
        }
    }

    static let prepareWALHelp = ArgumentHelp(
        "On PostgreSQL, first write about 4 KB per event of the run into a throwaway table, drop it and CHECKPOINT, so the "
            + "run reuses WAL files instead of creating them (no server setting changes; needs a superuser or pg_checkpoint)."
    )

    /// The state to measure; `--prepare-wal` needs it to be PostgreSQL.
    static func preparableLocation(_ state: StateOptions, prepareWAL: Bool) throws -> StateLocation {
        let location = try state.location
        if prepareWAL, case .sqlite = location {
            throw ValidationError("--prepare-wal needs a PostgreSQL state (--state postgres://…): SQLite has no WAL files to prepare")
        }
        return location
    }
}
