import ConnectorRuntime
import Foundation
import Logging
import PostgresNIO
import Testing

/// The throwaway Postgres cluster `.ci/run` starts, named by `CAPI_TEST_POSTGRES_URL`.
///
/// Outside CI a missing URL disables the Postgres tests; in CI (`CI=true`) a missing URL is a test
/// failure, so the Postgres half can never be skipped silently.
public enum TestPostgres {
    public static let url = ProcessInfo.processInfo.environment["CAPI_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    public static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Whether Postgres tests run: always in CI, otherwise when a URL is given.
    public static var enabled: Bool { url != nil || isCI }

    public static func target() throws -> StateLocation.PostgresTarget {
        guard let url else {
            Issue.record("CI=true but CAPI_TEST_POSTGRES_URL is not set: the Postgres tests cannot be skipped in CI")
            throw TestSetupError("CAPI_TEST_POSTGRES_URL is not set")
        }
        guard case .postgres(let target) = try StateLocation(parsing: url) else {
            Issue.record("CAPI_TEST_POSTGRES_URL is not a postgres:// URL")
            throw TestSetupError("CAPI_TEST_POSTGRES_URL is not a postgres:// URL")
        }
        return target
    }

    /// A name no other test uses, `<prefix>_<hex>`: for a schema, a database or a role that
    /// outlives a killed run without meeting the next run's.
    public static func uniqueName(_ prefix: String) -> String {
        prefix + "_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
    }

    /// A new, empty database in the test cluster, for a process under test to own: its name and
    /// its state URL.
    public static func createDatabase(prefix: String) async throws -> (name: String, stateURL: String) {
        let target = try target()
        let name = uniqueName(prefix)
        _ = try await withClient { client in try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)")) }
        var created = target
        created.database = name
        return (name, StateLocation.postgres(created).description)
    }

    /// Runs `body` with a target that logs in as a new role whose sessions start with `settings`
    /// (`ALTER ROLE … SET`), such as `temp_file_limit = 0` to turn a temporary file into an error;
    /// the role and what it owns are dropped afterwards.
    public static func withRole<T: Sendable>(
        settings: [(name: String, value: String)],
        _ body: @Sendable (StateLocation.PostgresTarget) async throws -> T
    ) async throws -> T {
        let role = uniqueName("capi_role")
        try await withClient { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN SUPERUSER"))
            for setting in settings { try await client.query(PostgresQuery(unsafeSQL: "ALTER ROLE \(role) SET \(setting.name) = \(setting.value)")) }
        }
        var target = try target()
        target.username = role
        target.password = nil
        let result: T
        do {
            result = try await body(target)
        } catch {
            try? await drop(role: role)
            throw error
        }
        try await drop(role: role)
        return result
    }

    private static func drop(role: String) async throws {
        try await withClient { client in
            try await client.query(PostgresQuery(unsafeSQL: "DROP OWNED BY \(role) CASCADE"))
            try await client.query(PostgresQuery(unsafeSQL: "DROP ROLE \(role)"))
        }
    }

    /// Runs `body` with a connected client whose `run()` is alive for the duration.
    /// - Parameter database: another database of the cluster than the URL's.
    public static func withClient<T: Sendable>(
        searchPath: String? = nil,
        database: String? = nil,
        _ body: @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        let target = try target()
        let configuration = target.clientConfiguration(database: database, searchPath: searchPath)
        let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "test-postgres"))
        return try await withRunning(client) { try await body(client) }
    }
}

/// Runs `body` while `client.run()` is alive, once it is being called: a lease before it makes
/// PostgresNIO log a warning, and started side by side the lease often came first.
public func withRunning<T: Sendable>(_ client: PostgresClient, _ body: () async throws -> T) async throws -> T {
    let running = StartupGate()
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            running.open()
            await client.run()
        }
        defer { group.cancelAll() }
        try await running.wait()
        return try await body()
    }
}
