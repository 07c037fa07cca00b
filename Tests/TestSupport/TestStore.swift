import ConnectorRuntime
import Foundation
import Logging
import PostgresNIO
import SQLiteNIO
import Testing

/// The stores tests run against: SQLite always, Postgres with the CI cluster (required in CI).
public enum TestStore: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    public static var enabled: [TestStore] { TestPostgres.enabled ? [.sqlite, .postgres] : [.sqlite] }
    public var testDescription: String { rawValue }

    /// A fresh, empty registry: a new SQLite file, or a new Postgres schema.
    public func location() throws -> (StateLocation, schema: String?) {
        switch self {
        case .sqlite:
            let path = TemporaryPaths.url("capi-state").appendingPathComponent("state.sqlite").path
            return (.sqlite(path: path), nil)
        case .postgres:
            return (.postgres(try TestPostgres.target()), TestPostgres.uniqueName("t"))
        }
    }

    /// Runs `body` with a migrated registry on a fresh store.
    public func withRegistry<T: Sendable>(_ body: @Sendable (any StateRegistry) async throws -> T) async throws -> T {
        let (location, schema) = try location()
        return try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { try await body($0) }
    }

    /// Runs `body` with two registries (separate connections or pools) on the same fresh store.
    public func withTwoRegistries<T: Sendable>(_ body: @Sendable (any StateRegistry, any StateRegistry) async throws -> T) async throws -> T {
        let (location, schema) = try location()
        return try await withStateRegistry(location, schema: schema, logger: Logger(label: "a")) { first in
            try await withStateRegistry(location, schema: schema, logger: Logger(label: "b")) { second in
                try await body(first, second)
            }
        }
    }

    /// Runs raw SQL against the store behind `location` (test setup only).
    public static func rawSQL(_ location: StateLocation, schema: String?, _ statements: [String]) async throws {
        switch location {
        case .sqlite(let path):
            let connection = try await SQLiteConnection.open(storage: .file(path: path))
            for statement in statements { _ = try await connection.query(statement, []) }
            try await connection.close()
        case .postgres:
            try await TestPostgres.withClient(searchPath: schema) { client in
                for statement in statements { try await client.query(PostgresQuery(unsafeSQL: statement)) }
            }
        }
    }
}
