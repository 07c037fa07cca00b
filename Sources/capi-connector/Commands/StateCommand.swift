import ArgumentParser
import CAPICore
import ConnectorRuntime
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Inspect, reset, prune or compact the state registry.",
        subcommands: [Show.self, Reset.self, Prune.self, Vacuum.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Print cursors per stream and partition, recent runs, active alarms, the outbox (depth; per pixel: queued, retrying, oldest, next attempt, last error), the dead-letter count and the store's size (per table with --tables) as JSON.",
            discussion: """
                storage: bytes is the SQLite file with its write-ahead log, or the PostgreSQL \
                database. On SQLite, free_bytes is space inside the file that new rows reuse, and \
                incremental_vacuum says whether state prune gives it back to the file system \
                (when not, state vacuum rewrites the store once). With --tables, storage.tables \
                gives each of the connector's tables with its indexes, largest first: on SQLite \
                that reads every page of the file (about 1 s per GB here).
                """
        )

        @OptionGroup var state: StoreOptions

        @Flag(help: "Also measure each table with its indexes (on SQLite, a read of the whole file).")
        var tables = false

        func run() async throws {
            let location = try await state.location()
            let (summary, alarms, storage) = try await state.withRegistry(at: location) {
                (try await $0.summary(), try await $0.activeAlarms(), try await $0.storage(perTable: tables))
            }
            StandardStreams.printOutput(
                try JSONOutput.pretty(Self.document(location: location, summary: summary, alarms: alarms, storage: storage))
            )
            if storage.incrementalVacuum == false, let free = storage.freeBytes, free >= Self.freeBytesWorthSaying, free >= storage.bytes / 10 {
                StandardStreams.printError(
                    "\(StoreSizeText.bytes(free)) are free inside this store's file, kept for new rows since it was created without"
                        + " incremental vacuum: `capi-connector state vacuum` gives them back once (with the sidecar stopped or quiet)"
                )
            }
        }

        /// Free space inside an older SQLite store below this, or below a tenth of it, is not worth
        /// a rewrite.
        static let freeBytesWorthSaying: Int64 = 1 << 20

        static func document(location: StateLocation, summary: StateSummary, alarms: [AlarmRecord], storage: StoreStorage) -> JSONValue {
            let cursors: [JSONValue] = summary.cursors.map { key, value in
                .object([
                    "connector": .string(key.connector), "stream": .string(key.stream), "partition": .string(key.partition),
                    "position": .string(value.position.iso8601), "position_unix": .integer(value.position.rawValue),
                    "run_id": .string(value.runID), "updated_at": .string(value.updatedAt.seconds.iso8601),
                ])
            }
            let active = alarms.map(AlarmJSON.object)
            let runs: [JSONValue] = summary.recentRuns.map { run in
                .object([
                    "run_id": .string(run.runID), "mode": .string(run.mode.rawValue), "status": .string(run.status.rawValue),
                    "started_at": .string(run.startedAt.seconds.iso8601),
                    "ended_at": run.endedAt.map { .string($0.seconds.iso8601) } ?? .null,
                    "counts": (try? JSONValue(parsing: run.counts)) ?? .null,
                    "error_class": run.errorClass.map { .string($0.rawValue) } ?? .null,
                ])
            }
            let outbox: [JSONValue] = summary.outbox.map { pixel in
                .object([
                    "pixel_id": .string(pixel.pixelID), "queued": .integer(Int64(pixel.queued)), "retrying": .integer(Int64(pixel.retrying)),
                    "oldest_queued_at": .string(pixel.oldestQueuedAt.seconds.iso8601),
                    "next_attempt_at": .string(pixel.nextAttemptAt.seconds.iso8601),
                    "last_error": pixel.lastError.map(JSONValue.string) ?? .null,
                ])
            }
            var measured: JSONObject = ["bytes": .integer(storage.bytes)]
            if let tables = storage.tables {
                measured["tables"] = .array(tables.map { .object(["table": .string($0.name), "bytes": .integer($0.bytes)]) })
            }
            if let free = storage.freeBytes { measured["free_bytes"] = .integer(free) }
            if let incremental = storage.incrementalVacuum { measured["incremental_vacuum"] = .bool(incremental) }
            return .object([
                "state": .string(location.description),
                "storage": .object(measured),
                "schema_version": .integer(Int64(summary.schemaVersion)),
                "outbox_depth": .integer(Int64(summary.outboxDepth)),
                "outbox": .array(outbox),
                "dead_letters": .integer(Int64(summary.deadLetters)),
                "cursors": .array(cursors),
                "alarms": .array(active),
                "recent_runs": .array(runs),
            ])
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Clear a stream's cursor so the next poll reads from the start date again.",
            discussion: "Records already read stay; re-reading upserts them, so nothing is duplicated."
        )

        @Argument(help: ArgumentHelp("The stream whose cursor to clear, e.g. delivery_statuses.", valueName: "stream"))
        var stream: String

        @Option(help: ArgumentHelp("Only this partition (pixel id); default: every partition.", valueName: "pixel"))
        var partition: String?

        @Flag(help: "Confirm the reset.")
        var yes = false

        @OptionGroup var state: StoreOptions

        func validate() throws {
            guard StateStream(rawValue: stream) != nil else {
                throw ValidationError("unknown stream `\(stream)`; known: \(StateStream.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard yes else {
                throw ValidationError(
                    "resetting \(stream)\(partition.map { " for partition \($0)" } ?? "") makes the next poll start over; add --yes to confirm"
                )
            }
        }

        func run() async throws {
            let (stream, partition) = (stream, partition)
            let cleared = try await state.withRegistry { try await $0.resetCursor(stream: stream, partition: partition) }
            StandardStreams.printError("cleared \(cleared) cursor\(cleared == 1 ? "" : "s") of \(stream)")
        }
    }
}

extension StateCommand {
    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete stream records older than a time, to keep a store's size in check (the connector never trims its streams).",
            discussion: """
                Takes the records describing times before --older-than: delivered_events by receipt, \
                delivery_statuses by hour, match_quality by snapshot, ad_insights by day. Without \
                --yes it only counts them. Run it on a schedule, e.g. daily with --older-than -400d.

                delivered_events is also the idempotency ledger, so it keeps the rows of events that \
                could still be sent again and accepted (event time within the last 63 days: Meta's \
                62-day limit for store sales and the day of clock skew allowed), and rows not \
                forwarded (queued, or dead-lettered with the dead letter still there to replay; once \
                purged it goes). A poll re-reads its \
                lookback, so pruning inside it (28 days for ad_insights) only loses rows until then.

                Deletes 10,000 rows per transaction, so a running sidecar's commits wait for one \
                batch at most (on SQLite, whose lock has no queue, 100 ms apart so that they get \
                in). A SQLite store then gives the freed pages back to the file system, 8 MiB per \
                transaction (a store created before stores had incremental vacuum reuses them \
                instead, until `state vacuum` rewrites it once).
                """
        )

        @Option(
            parsing: .unconditional,
            help: ArgumentHelp("Records describing times before this (ISO 8601, a date, Unix seconds, -Nd or -Nh).", valueName: "time")
        )
        var olderThan: String

        @Option(help: ArgumentHelp("Only this stream (repeatable); default: all four.", valueName: "stream"))
        var stream: [String] = []

        @Flag(help: "Delete; without it the command only counts.")
        var yes = false

        @OptionGroup var state: StoreOptions

        func validate() throws {
            for name in stream where StateStream(rawValue: name) == nil {
                throw ValidationError("unknown stream `\(name)`; known: \(StateStream.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let now = WallClock.system.seconds()
            guard let cutoff = ReadCommand.instant(olderThan, now: now) else {
                let reason = TimeArgument.likelyMistake(olderThan, relativeUnits: "days (d) or hours (h)").map { "; " + $0 } ?? ""
                throw ValidationError(
                    "--older-than must be an ISO 8601 time, a date, Unix seconds, or -Nd / -Nh (days or hours before now)\(reason)"
                )
            }
            guard cutoff <= now else { throw ValidationError("--older-than must not be in the future") }
        }

        func run() async throws {
            let now = WallClock.system.now()
            let cutoff = ReadCommand.instant(olderThan, now: now.seconds)!.milliseconds
            let streams = stream.isEmpty ? StateStream.allCases : stream.compactMap(StateStream.init(rawValue:))
            let delete = yes
            let progress = ProgressLine()
            let (counts, space) = try await state.withRegistry { registry async throws -> ([(StateStream, Int)], StoreFileSpace?) in
                var counts: [(StateStream, Int)] = []
                for stream in streams {
                    let prune = StreamPrune(stream: stream, before: cutoff, now: now)
                    let count = try await registry.prune(prune, delete: delete) { (deleted: Int) in
                        progress.say { "\(stream.rawValue): \(deleted) rows deleted so far" }
                    }
                    counts.append((stream, count))
                }
                // Also when nothing was deleted: a prune stopped while giving pages back left them free.
                guard delete else { return (counts, nil) }
                let space = try await registry.releaseFreedSpace { (left: Int64) in
                    progress.say { "giving freed pages back to the file system: \(StoreSizeText.bytes(left)) to go" }
                }
                return (counts, space)
            }
            for (stream, count) in counts {
                StandardStreams.printOutput(
                    try JSONOutput.line(
                        JSONValue.object([
                            "stream": .string(stream.rawValue), delete ? "deleted" : "would_delete": .integer(Int64(count)),
                            "older_than": .string(cutoff.seconds.iso8601),
                        ])
                    )
                )
            }
            if !delete { StandardStreams.printError("nothing deleted: add --yes to delete these records") }
            if let space { StandardStreams.printError(Self.describe(space)) }
        }

        static func describe(_ space: StoreFileSpace) -> String {
            let size =
                "the store's file and its write-ahead log: \(StoreSizeText.bytes(space.bytesBefore)) before giving freed pages back → \(StoreSizeText.bytes(space.bytesAfter))"
            guard !space.incremental, space.freeBytesKept > 0 else { return size }
            return size
                + "; \(StoreSizeText.bytes(space.freeBytesKept)) stay free inside it for new rows, since it was created without"
                + " incremental vacuum: `capi-connector state vacuum` rewrites it once and from then on prune gives space back"
        }
    }

    struct Vacuum: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite a SQLite store compactly, giving all its free pages back to the file system.",
            discussion: """
                `state prune` gives freed pages back by itself on stores created with incremental \
                vacuum, as every new store is. An older store keeps them inside its file, reused by \
                new rows (prune says so); run this once to rewrite it, which also makes later \
                prunes give space back.

                The rewrite needs free disk about the size of the store and holds a running \
                sidecar's commits back while it runs (they answer 503 past the manifest's \
                commit_timeout, and senders retry): run it when the sidecar is stopped or quiet. \
                PostgreSQL stores need nothing: autovacuum makes deleted rows' space reusable.
                """
        )

        @OptionGroup var state: StoreOptions

        func run() async throws {
            let location = try await state.location()
            guard case .sqlite = location else {
                StandardStreams.printError(
                    "capi-connector: state vacuum is for SQLite stores; PostgreSQL's autovacuum makes deleted rows' space reusable (VACUUM FULL gives it back to the file system, locking each table while it runs)"
                )
                throw ExitCode(2)
            }
            guard let space = try await state.withRegistry(at: location, { try await $0.rewriteCompactly() }) else { return }
            StandardStreams.printOutput(
                try JSONOutput.line(
                    JSONValue.object([
                        "bytes_before": .integer(space.bytesBefore), "bytes_after": .integer(space.bytesAfter),
                        "incremental_vacuum": .bool(space.incremental),
                    ])
                )
            )
            StandardStreams.printError("the store's file: \(StoreSizeText.bytes(space.bytesBefore)) → \(StoreSizeText.bytes(space.bytesAfter))")
        }
    }
}

/// Sizes for people: 1,000-based, one decimal, as `ls -lh --si` and disk tools print them.
enum StoreSizeText {
    static func bytes(_ count: Int64) -> String {
        let units = ["bytes", "kB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(count) bytes" : String(format: "%.1f", value) + " " + units[unit]
    }
}

struct ReadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Print a stream's records as JSON lines (delivered_events, delivery_statuses, match_quality, ad_insights).",
        discussion: """
            --since and --until take an ISO 8601 time (2026-11-20T00:00:00Z), a date (2026-11-20), Unix \
            seconds, or a time relative to now: -7d (days), -6h (hours). --until is exclusive: \
            --since 2026-11-01 --until 2026-12-01 is November. They select by when a record was \
            written: received, for delivered_events; pulled, for the others (not the hour or day a \
            record describes).

            Records are read and printed a page at a time, so an export of any size runs in bounded \
            memory: delivered_events in the order received, the others by their key (pixel, hour, \
            event, source; pixel, event, time; account, level, object, day).
            """
    )

    @Argument(help: ArgumentHelp("The stream to read.", valueName: "stream"))
    var stream: String

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Only records written at or after this time (ISO 8601, a date, Unix seconds, -Nd or -Nh).", valueName: "time")
    )
    var since: String?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Only records written before this time (same forms as --since): a window for an export.", valueName: "time")
    )
    var until: String?

    @OptionGroup var state: StoreOptions

    func validate() throws {
        guard StateStream(rawValue: stream) != nil else {
            throw ValidationError("unknown stream `\(stream)`; known: \(StateStream.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let now = WallClock.system.seconds()
        for (name, value) in [("--since", since), ("--until", until)] {
            guard let value, Self.instant(value, now: now) == nil else { continue }
            let reason = TimeArgument.likelyMistake(value, relativeUnits: "days (d) or hours (h)").map { "; " + $0 } ?? ""
            throw ValidationError("\(name) must be an ISO 8601 time, a date, Unix seconds, or -Nd / -Nh (days or hours before now)\(reason)")
        }
        if let since, let until, let first = Self.instant(since, now: now), let end = Self.instant(until, now: now), first >= end {
            throw ValidationError("--since must be before --until")
        }
    }

    /// `text` as an instant: an absolute time, or `-Nd` / `-Nh` before `now` (as `reconcile` takes
    /// days relative to today).
    static func instant(_ text: String, now: UnixSeconds) -> UnixSeconds? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("-"), let unit = trimmed.last, unit == "d" || unit == "h",
            let count = Int64(trimmed.dropFirst().dropLast()), (0...36_500 * 24).contains(count)
        {
            return UnixSeconds(now.rawValue - count * (unit == "d" ? 86_400 : 3_600))
        }
        return TimeArgument.isCount(trimmed) ? nil : UnixSeconds(parsing: trimmed)
    }

    func run() async throws {
        let stream = StateStream(rawValue: stream)!
        let now = WallClock.system.seconds()
        let since = since.flatMap { Self.instant($0, now: now) }?.milliseconds
        let until = until.flatMap { Self.instant($0, now: now) }?.milliseconds
        let written = try await state.withRegistry { registry in
            // Each page is written as it is read: the streams grow without bound.
            var written = 0
            try await registry.forEachPage(of: stream, since: since, until: until) { written += try Self.write($0) }
            return written
        }
        if written == 0 {
            let window = (self.since.map { " since \($0)" } ?? "") + (self.until.map { " before \($0)" } ?? "")
            StandardStreams.printError("no \(stream.rawValue) records" + window)
        }
    }

    /// Writes records as JSON lines to standard output; returns how many. `JSONValue`'s own writer
    /// (sorted keys, `/` unescaped, as every command prints): `JSONEncoder` took over half of an
    /// export's time.
    static func write(_ records: StreamRecords) throws -> Int {
        var output: [UInt8] = []
        output.reserveCapacity(records.count * 256)
        for record in StreamRecordJSON.objects(records) {
            record.write(into: &output)
            output.append(UInt8(ascii: "\n"))
        }
        StandardStreams.writeAll(&output, to: STDOUT_FILENO)
        return records.count
    }
}
