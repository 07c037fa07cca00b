import ArgumentParser
import ConnectorRuntime
import Foundation
import Logging
import ServiceLifecycle

/// `--state`, shared by every command that opens the state registry (with `--manifest` in
/// ``StoreOptions`` for those that work on a store another command ran with).
struct StateOptions: ParsableArguments {
    @Option(
        name: .customLong("state"),
        help: ArgumentHelp(
            "State registry: postgres://user:pass@host:port/db or sqlite:PATH (default: $CAPI_STATE_URL, else sqlite:.capi/state.sqlite).",
            valueName: "url"
        )
    )
    var url: String?

    func validate() throws {
        _ = try location
    }

    var location: StateLocation {
        get throws {
            let fromEnvironment = ProcessInfo.processInfo.environment["CAPI_STATE_URL"].flatMap { $0.isEmpty ? nil : $0 }
            let text = url ?? fromEnvironment ?? StateLocation.defaultURL
            do {
                return Self.withPassword(try StateLocation(parsing: text, environment: ProcessInfo.processInfo.environment))
            } catch {
                // Named as the user gave it: a broken CAPI_STATE_URL is not fixed by looking at a
                // --state that was never passed.
                throw ValidationError("\(url == nil && fromEnvironment != nil ? "CAPI_STATE_URL" : "--state"): \(error)")
            }
        }
    }

    /// Exit 2 when `location` is a SQLite file that does not exist, saying `why` that matters: for
    /// a command that only works on what another one stored there.
    /// - Parameter named: where the URL came from, for the user to check.
    static func requireExisting(_ location: StateLocation, _ why: String, named: String = "--state or CAPI_STATE_URL") throws {
        guard case .sqlite(let path) = location, !FileManager.default.fileExists(atPath: path) else { return }
        StandardStreams.printError("capi-connector: no state store at \(path): \(why); check \(named)")
        throw ExitCode(2)
    }

    /// The store of a command that also reads the manifest: `--state` when given, else the
    /// manifest's `state.url`; a malformed URL is one line on standard error and exit 2 (the
    /// parse error never repeats the URL, which may hold a password).
    static func location(_ override: String?, manifest: Manifest) throws -> StateLocation {
        do {
            return withPassword(try StateLocation(parsing: override ?? manifest.state.url.revealed, environment: ProcessInfo.processInfo.environment))
        } catch {
            // The manifest's state.url is usually `${env:CAPI_STATE_URL:-…}`: name both, since
            // either may be where the URL was written.
            StandardStreams.printError("capi-connector: \(override == nil ? "state.url (the manifest's, or CAPI_STATE_URL)" : "--state"): \(error)")
            throw ExitCode(2)
        }
    }

    /// A PostgreSQL URL without a password takes `PGPASSWORD`, as libpq does: a container
    /// platform injects the password as a secret while the URL stays plain configuration.
    static func withPassword(_ location: StateLocation, environment: [String: String] = ProcessInfo.processInfo.environment) -> StateLocation {
        guard case .postgres(var target) = location, target.password == nil,
            let password = environment["PGPASSWORD"], !password.isEmpty
        else { return location }
        target.password = password
        return .postgres(target)
    }

    /// Opens the store for a long-running mode, which runs it as a service; a store that cannot
    /// be opened is one line on standard error and exit code 2.
    static func openService(at location: StateLocation) async throws -> any StateRegistryService {
        do {
            return try await openStateRegistry(location, logger: Logger(label: "capi.state"))
        } catch {
            throw storeFailure(error)
        }
    }

    /// A store that cannot be opened, migrated or reached: one line on standard error, exit code 2.
    static func storeFailure(_ error: any Error) -> ExitCode {
        StandardStreams.printError("capi-connector: \(error)")
        return ExitCode(2)
    }

    /// Runs `body` with the store at `location` open and migrated.
    /// - Parameter logged: whether the store's own log lines (a lock taken again after its session
    ///   ended, say) reach the log: for the scheduled jobs' single passes, whose log is read as
    ///   the job's record; not for the commands whose output is what they print.
    static func withRegistry<T: Sendable>(
        at location: StateLocation,
        logged: Bool = false,
        _ body: @Sendable (any StateRegistry) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "capi.state")
        if !logged { logger.logLevel = .critical }
        do {
            return try await withStateRegistry(location, logger: logger, body)
        } catch let error as StateError {
            throw storeFailure(error)
        }
    }
}
