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

    /// Runs `body` while a connection of its own holds the store's write lock: SQLite's (`BEGIN
    /// IMMEDIATE`), or on Postgres an exclusive lock on `outbox`, which stops its readers too.
    /// The lock is released when `body` returns, or after `atMost` if it has not by then (so a
    /// body that waits for the lock fails its checks instead of hanging the test run).
    public static func holdingWriteLock<T: Sendable>(
        _ location: StateLocation,
        schema: String?,
        atMost: Duration = .seconds(10),
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        switch location {
        case .sqlite(let path):
            let connection = try await SQLiteConnection.open(storage: .file(path: path))
            _ = try await connection.query("BEGIN IMMEDIATE", [])
            let result: Result<T, any Error>
            do {
                result = .success(try await whileHeld(atMost: atMost, body) { _ = try await connection.query("ROLLBACK", []) })
            } catch {
                result = .failure(error)
            }
            try await connection.close()
            return try result.get()
        case .postgres:
            return try await TestPostgres.withClient(searchPath: schema) { client in
                try await client.withConnection { connection in
                    let logger = Logger(label: "test.lock")
                    try await connection.query("BEGIN", logger: logger)
                    try await connection.query("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE", logger: logger)
                    return try await whileHeld(atMost: atMost, body) { try await connection.query("ROLLBACK", logger: logger) }
                }
            }
        }
    }

    /// `body`'s result; `release` runs when it returns or when `atMost` passes, whichever is first.
    private static func whileHeld<T: Sendable>(
        atMost: Duration,
        _ body: @escaping @Sendable () async throws -> T,
        release: () async throws -> Void
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: atMost)
                return nil
            }
            let first = try await group.next()
            try await release()
            if case let answer?? = first {
                group.cancelAll()
                return answer
            }
            // The limit came first: the lock is gone, and the body ends as it may.
            while let next = try await group.next() {
                if let answer = next { return answer }
            }
            throw CancellationError()
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
