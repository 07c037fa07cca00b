import CAPICore
import ConnectorRuntime
import Foundation
import Logging
import PostgresNIO
import SQLiteNIO
import Testing

/// The backends the contract suite runs against: SQLite always, Postgres with the CI cluster.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    static var enabled: [Backend] { TestPostgres.enabled ? [.sqlite, .postgres] : [.sqlite] }
    var testDescription: String { rawValue }

    /// A fresh, empty registry: a new SQLite file, or a new Postgres schema.
    func location() throws -> (StateLocation, schema: String?) {
        switch self {
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("capi-state-\(UUID().uuidString)/state.sqlite").path
            return (.sqlite(path: path), nil)
        case .postgres:
            return (.postgres(try TestPostgres.target()), "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))
        }
    }

    /// Runs `body` with a migrated registry on a fresh store.
    func withRegistry<T: Sendable>(_ body: @Sendable (any StateRegistry) async throws -> T) async throws -> T {
        let (location, schema) = try location()
        return try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { try await body($0) }
    }

    /// Runs `body` with two registries (separate connections or pools) on the same fresh store.
    func withTwoRegistries<T: Sendable>(_ body: @Sendable (any StateRegistry, any StateRegistry) async throws -> T) async throws -> T {
        let (location, schema) = try location()
        return try await withStateRegistry(location, schema: schema, logger: Logger(label: "a")) { first in
            try await withStateRegistry(location, schema: schema, logger: Logger(label: "b")) { second in
                try await body(first, second)
            }
        }
    }

    /// Runs raw SQL against the store behind `location` (test setup only).
    static func rawSQL(_ location: StateLocation, schema: String?, _ statements: [String]) async throws {
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

func intake(_ id: String, pixel: String = "111", time: Int64 = 1_795_000_000, content: String = "A") -> IntakeItem {
    IntakeItem(
        key: EventKey(pixelID: pixel, eventID: id, eventTime: time),
        contentHash: SHA256Hex.digest(content + id),
        payload: #"{"event_id":"\#(id)","event_name":"Purchase"}"#,
        answer: #"{"status":"accepted","event_id":"\#(id)"}"#,
        deliveredRecord: #"{"pixel_id":"\#(pixel)","event_id":"\#(id)","event_time":\#(time),"event_name":"Purchase"}"#,
        receivedAt: 1_795_000_000_000 + Int64(id.hashValue & 0xFFFF)
    )
}

let now: Int64 = 1_795_000_100_000
