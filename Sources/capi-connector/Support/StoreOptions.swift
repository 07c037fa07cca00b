import ArgumentParser
import ConnectorRuntime

/// `--state`, or the `state.url` of `--manifest`: for the commands that work on a store `serve`,
/// `poll` or `flush` ran with. A deployment whose manifest names its store (a PostgreSQL URL, a
/// SQLite file elsewhere) then names it once for every command, not again in each `--state`.
struct StoreOptions: ParsableArguments {
    @OptionGroup var state: StateOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Take the store from this manifest's state.url, as serve and poll do (--state wins; the webhook's secrets need not be set).",
            valueName: "path"
        )
    )
    var manifest: String?

    /// `--state`; else the manifest's `state.url` when `--manifest` is given; else `CAPI_STATE_URL`,
    /// else the default file.
    func location() async throws -> StateLocation {
        guard state.url == nil, let manifest else { return try state.location }
        // Loaded as poll loads it: a store's operator need not hold the webhook's secrets.
        return try StateOptions.location(nil, manifest: try await ManifestOptions.loadOrExit(path: manifest, scope: .withoutIntake))
    }

    /// Runs `body` with the opened, migrated registry; a SQLite file that does not exist is one
    /// clear line on standard error and exit code 2, not a new empty store whose "no dead
    /// letters" would hide a mistyped path.
    func withRegistry<T: Sendable>(_ body: @Sendable (any StateRegistry) async throws -> T) async throws -> T {
        try await withRegistry(at: try await location(), body)
    }

    /// The same, for a command that also shows the location.
    func withRegistry<T: Sendable>(at location: StateLocation, _ body: @Sendable (any StateRegistry) async throws -> T) async throws -> T {
        let named = state.url == nil && manifest != nil ? "state.url in \(manifest ?? "")" : "--state or CAPI_STATE_URL"
        try StateOptions.requireExisting(location, "nothing has run with it yet (serve and poll create it)", named: named)
        return try await StateOptions.withRegistry(at: location, body)
    }
}
