import ArgumentParser
import CAPICore
import ConnectorRuntime
import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension DeadLetterClass: ExpressibleByArgument {}

struct DLQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Inspect, replay or purge dead-lettered events.",
        discussion: """
            Each subcommand takes --id, --class and --pixel (each repeatable; together they narrow). After an \
            outage, replay what failed for a passing reason and leave what Meta refused:
              capi-connector dlq replay --class transient --class throttled

            On a SQLite store, replay and purge take 10,000 dead letters per transaction, 100 ms \
            apart, so a running sidecar's commits get in; each dead letter moves with its ledger \
            row, so a replay cut short leaves every event in one place or the other.
            """,
        subcommands: [List.self, Replay.self, Purge.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Dead letters as JSON lines: id, event_id, pixel_id, event_time, reason, attempts, and test_event_code for a test event."
        )

        @OptionGroup var state: StoreOptions
        @OptionGroup var filter: DeadLetterFilterOptions
        @Option(parsing: .unconditional, help: "At most this many.") var limit = 1000

        func validate() throws {
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            let (limit, selection) = (limit, filter.selection)
            let (letters, total) = try await state.withRegistry { registry in
                let letters = try await registry.deadLetters(selection, limit: limit)
                return (letters, letters.count < limit ? letters.count : try await registry.deadLetterCount(selection))
            }
            var output = ""
            for letter in letters {
                let reason: JSONValue = .object([
                    "class": .string(letter.reason.errorClass.rawValue), "code": letter.reason.code.map { .integer(Int64($0)) } ?? .null,
                    "subcode": letter.reason.subcode.map { .integer(Int64($0)) } ?? .null, "message": .string(letter.reason.message),
                    "fbtrace_id": letter.reason.fbtraceID.map(JSONValue.string) ?? .null,
                ])
                var line: JSONObject = [
                    "id": .integer(letter.id), "event_id": .string(letter.key.eventID), "pixel_id": .string(letter.key.pixelID),
                    "event_time": .integer(letter.key.eventTime.rawValue), "reason": reason, "attempts": .integer(Int64(letter.attempts)),
                    "dead_lettered_at": .string(letter.createdAt.seconds.iso8601),
                ]
                // A request's own test code: the event was a test, which may rather be purged than replayed.
                if let code = letter.testEventCode { line["test_event_code"] = .string(code) }
                output += try JSONOutput.line(JSONValue.object(line)) + "\n"
            }
            StandardStreams.writeAll(output, to: STDOUT_FILENO)
            if letters.isEmpty { StandardStreams.printError(selection.isAll ? "no dead letters" : "no dead letters match") }
            if total > letters.count {
                StandardStreams.printError("listed the oldest \(letters.count) of \(total) dead letters; --limit \(total) lists them all")
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put dead letters back in the outbox (after fixing the cause); the sidecar sends them again."
        )

        @OptionGroup var state: StoreOptions
        @OptionGroup var filter: DeadLetterFilterOptions
        @Flag(help: "Replay every dead letter.") var all = false

        func validate() throws { try filter.validate(all: all) }

        func run() async throws {
            let selection = filter.selection
            let progress = ProgressLine()
            let count = try await state.withRegistry {
                try await $0.replayDeadLetters(selection, now: WallClock.system.now()) { (moved: Int) in
                    progress.say { "\(moved) dead letters replayed so far" }
                }
            }
            StandardStreams.printError("replayed \(count) dead letter\(count == 1 ? "" : "s") into the outbox")
            try DLQCommand.checkAllMatched(ids: selection.ids, count: count)
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete dead letters for good.")

        @OptionGroup var state: StoreOptions
        @OptionGroup var filter: DeadLetterFilterOptions
        @Flag(help: "Purge every dead letter.") var all = false
        @Flag(help: "Confirm the purge.") var yes = false

        func validate() throws {
            try filter.validate(all: all)
            guard yes else { throw ValidationError("purging deletes dead letters for good; add --yes to confirm") }
        }

        func run() async throws {
            let selection = filter.selection
            let progress = ProgressLine()
            let count = try await state.withRegistry {
                try await $0.purgeDeadLetters(selection) { (purged: Int) in progress.say { "\(purged) dead letters purged so far" } }
            }
            StandardStreams.printError("purged \(count) dead letter\(count == 1 ? "" : "s")")
            try DLQCommand.checkAllMatched(ids: selection.ids, count: count)
        }
    }

    /// `--id`, `--class` and `--pixel`: which dead letters a command applies to, every filter given.
    struct DeadLetterFilterOptions: ParsableArguments {
        @Option(name: .customLong("id"), help: "Dead letter id (repeatable).") var ids: [Int64] = []
        @Option(
            name: .customLong("class"),
            help: ArgumentHelp(
                "Only dead letters of this class (repeatable): transient after an outage, invalid for what Meta refused.",
                valueName: "class"
            )
        )
        var classes: [DeadLetterClass] = []
        @Option(name: .customLong("pixel"), help: ArgumentHelp("Only this pixel's dead letters (repeatable).", valueName: "pixel-id"))
        var pixels: [String] = []

        var selection: DeadLetterSelection {
            DeadLetterSelection(
                ids: ids.isEmpty ? nil : ids,
                classes: classes.isEmpty ? nil : classes,
                pixelIDs: pixels.isEmpty ? nil : pixels
            )
        }

        /// Replay and purge act on every dead letter only when told so with `--all`.
        func validate(all: Bool) throws {
            if all {
                guard selection.isAll else {
                    throw ValidationError("--all selects every dead letter; give it alone, or --id, --class and --pixel without it")
                }
            } else {
                guard !selection.isAll else {
                    throw ValidationError("give --id ID, --class CLASS or --pixel ID (each repeatable; together they narrow), or --all")
                }
            }
        }
    }

    /// An id that matched nothing is a mistake worth an exit code (a typo, or a letter another
    /// operator already replayed or purged), not a silent "0".
    static func checkAllMatched(ids: [Int64]?, count: Int) throws {
        guard let ids else { return }
        let unmatched = Set(ids).count - count
        guard unmatched > 0 else { return }
        StandardStreams.printError(
            "\(unmatched) of the ids given matched no dead letter (never one, or already replayed or purged): see `capi-connector dlq list`"
        )
        throw ExitCode(1)
    }
}
