import ArgumentParser
import CAPICore
import ConnectorRuntime
import Foundation

struct SchemaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "The schema registry: versions of each stream's JSON Schema, and compatibility checks.",
        discussion: """
            serve and poll register every schema in the manifest's schema_registry.path (default \
            schemas/) at start-up. A schema's id is its $id without the .vN suffix; versions are \
            numbered 1, 2, … in registration order and identified by the SHA-256 of the canonical JSON. \
            A new version may not drop, rename or loosen a field an earlier version marks required.
            """,
        subcommands: [List.self, Check.self, Diff.self, Alarms.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every registered version as a JSON line: id, version, hash, registered_at.")

        @OptionGroup var state: StoreOptions

        func run() async throws {
            let versions = try await state.withRegistry { try await $0.schemaVersions(id: nil) }
            var output = ""
            for version in versions {
                output +=
                    JSONValue.object([
                        "id": .string(version.id), "version": .integer(Int64(version.version)), "hash": .string(version.hash),
                        "registered_at": .string(version.registeredAt.seconds.iso8601),
                    ]).serialized + "\n"
            }
            StandardStreams.writeAll(output, to: STDOUT_FILENO)
            // Standard output stays JSON lines (none); the reason goes beside it.
            if versions.isEmpty {
                StandardStreams.printError(
                    "no schema is registered in this store: serve and poll register the manifest's schema_registry.path (schemas/) at start-up"
                )
            }
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a schema file against what is registered for its $id.",
            discussion: """
                Exit 0: compatible (or nothing registered yet); 1: incompatible, one line per reason; 2: the file is not a usable \
                schema, or there is no store at --state (a check against a mistyped path would pass against nothing).
                """
        )

        @Argument(help: ArgumentHelp("The schema file.", valueName: "file"))
        var file: String

        @OptionGroup var state: StoreOptions

        func run() async throws {
            let document = try SchemaCommand.read(file)
            let (reasons, versions) = try await state.withRegistry { registry in
                (try await SchemaRegistry(store: registry).check(document), try await registry.schemaVersions(id: document.id))
            }
            if let same = versions.first(where: { $0.hash == document.hash }) {
                StandardStreams.printOutput("\(document.id): identical to version \(same.version)")
            } else if reasons.isEmpty {
                StandardStreams.printOutput("\(document.id): compatible; it would be version \((versions.map(\.version).max() ?? 0) + 1)")
            } else {
                for reason in reasons { StandardStreams.printOutput("\(document.id): \(reason)") }
                throw ExitCode(1)
            }
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What changed between two registered versions of a schema (+ added, - removed, ~ changed).",
            discussion: "Defaults: --from the version before --to, --to the latest."
        )

        @Argument(help: ArgumentHelp("The schema id, e.g. delivered_event.", valueName: "id"))
        var id: String

        @Option(parsing: .unconditional, help: "The older version.") var from: Int?
        @Option(parsing: .unconditional, help: "The newer version.") var to: Int?

        @OptionGroup var state: StoreOptions

        func run() async throws {
            let id = id
            let all = try await state.withRegistry { try await $0.schemaVersions(id: nil) }
            let versions = all.filter { $0.id == id }
            guard let latest = versions.last else {
                var message = "capi-connector: no schema `\(id)` is registered"
                // Stream names are plural, their record schemas singular: `delivered_events` → `delivered_event`.
                if let near = Spelling.closest(to: id, among: Array(Set(all.map(\.id))).sorted()) {
                    message += "; did you mean `\(near)`? See `capi-connector schema list`"
                } else {
                    message += "; see `capi-connector schema list`"
                }
                StandardStreams.printError(message)
                throw ExitCode(2)
            }
            let newer = to ?? latest.version
            let older = from ?? max(1, newer - 1)
            guard let new = versions.first(where: { $0.version == newer }), let old = versions.first(where: { $0.version == older }) else {
                StandardStreams.printError("capi-connector: `\(id)` has versions 1–\(latest.version)")
                throw ExitCode(2)
            }
            guard older != newer else {
                // One version (or the same one twice) has nothing to be compared with.
                StandardStreams.printError(
                    "\(id): \(versions.count == 1 ? "only version \(newer) is registered" : "version \(newer) against itself"); nothing to compare"
                )
                return
            }
            let lines = SchemaCompatibility.diff(from: try SchemaDocument(parsing: old.body), to: try SchemaDocument(parsing: new.body))
            StandardStreams.printOutput(
                lines.isEmpty ? "\(id): versions \(older) and \(newer) declare the same fields" : lines.joined(separator: "\n")
            )
        }
    }

    struct Alarms: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print drift alarms as JSON lines: kind, severity, stream, pixel, event name, field, first and last seen, count.",
            discussion: """
                Kinds, from what arrives at the sidecar: schema_drift_missing_field (a field Meta requires is \
                missing), schema_drift_coverage (a match key's coverage fell against the baseline), \
                schema_drift_refusals (refusals rose), schema_drift_format (event_time in milliseconds, value as a \
                string, a currency that is not a code), schema_drift_unknown_field (informational: a field no schema \
                knows, named by container, a short safe prefix and a digest: printf %s NAME | sha256sum confirms a \
                guess). From what poll reads: schema_drift_match_quality (Meta's score for an event fell against the \
                baseline), schema_drift_answer_shape (a field the stats or quality parsers rely on is missing or of \
                another type). Details never hold personal values. --all adds the other alarms (a pixel paused \
                after Meta refused its credentials).
                """
        )

        @OptionGroup var state: StoreOptions
        @Flag(help: "Only alarms not yet cleared.") var active = false
        @Flag(help: "Every kind of alarm, not only schema drift.") var all = false

        func run() async throws {
            let (active, all) = (active, all)
            let alarms = try await state.withRegistry { try await $0.alarms(activeOnly: active) }
            var output = ""
            for alarm in alarms where all || alarm.kind.hasPrefix("schema_drift_") { output += AlarmJSON.object(alarm).serialized + "\n" }
            StandardStreams.writeAll(output, to: STDOUT_FILENO)
            if output.isEmpty { StandardStreams.printError("no \(active ? "active " : "")\(all ? "" : "drift ")alarms") }
        }
    }

    /// A schema file, compiled; a file that is no usable schema is exit 2 naming where.
    static func read(_ path: String) throws -> SchemaDocument {
        let text: String
        do {
            text = try TextFile.read(path: path)
        } catch {
            StandardStreams.printError("capi-connector: \(path):\(error.line):\(error.column): cannot read the schema: \(error.reason)")
            throw ExitCode(2)
        }
        do {
            return try SchemaDocument(parsing: text)
        } catch {
            StandardStreams.printError("capi-connector: \(path): \(error)")
            throw ExitCode(2)
        }
    }
}
