import CAPICore
import ConnectorRuntime
import Foundation
import Logging
import TestSupport
import Testing

@Suite("Postgres per-event statements, prepared and unnamed", .enabled(if: TestPostgres.enabled))
struct PostgresStatementModeTests {
    @Test("intake, claims with and without a pixel, and forwarded acknowledgements agree in both modes", arguments: [true, false])
    func sameOutcomes(prepared: Bool) async throws {
        var target = try TestPostgres.target()
        target.preparedStatements = prepared
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await withStateRegistry(.postgres(target), schema: String(schema), logger: Logger(label: "test")) { registry in
            // Three rounds, so a prepared statement also runs on connections that already hold it.
            for round in 1...3 {
                let first = "a\(round)"
                let second = "b\(round)"
                let outcomes = try await registry.commitIntake([intake(first), intake(second, pixel: "222"), intake(first)])
                #expect(outcomes == [.accepted, .accepted, .duplicate(answer: #"{"status":"accepted","event_id":"\#(first)"}"#)])

                let fromPixel = try await registry.claimOutbox(limit: 10, owner: "o", lease: .seconds(30), now: now, pixelID: "222")
                #expect(fromPixel.map(\.key.eventID) == [second])
                let fromAny = try await registry.claimOutbox(limit: 10, owner: "o", lease: .seconds(30), now: now, pixelID: nil)
                #expect(fromAny.map(\.key.eventID) == [first])
                #expect(fromAny.first?.payload == intake(first).payload)

                try await registry.markForwarded(fromPixel, fbtraceID: "trace-\(round)", now: now)
                try await registry.markForwarded(fromAny, fbtraceID: nil, now: now)
                #expect(try await registry.outboxDepth() == 0)
            }
            let delivered = try await registry.deliveredEvents(since: nil)
            #expect(delivered.count == 6)
            #expect(delivered.allSatisfy { $0.outcome == .forwarded })
            #expect(Set(delivered.compactMap(\.fbtraceID)) == ["trace-1", "trace-2", "trace-3"])
        }
    }
}

@Suite("Postgres storage settings", .enabled(if: TestPostgres.enabled))
struct PostgresStorageSettingsTests {
    @Test("after migrating, the outbox and delivered_events leave room on each page for updated rows")
    func fillfactors() async throws {
        let target = try TestPostgres.target()
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await withStateRegistry(.postgres(target), schema: String(schema), logger: Logger(label: "test")) { _ in }
        let options = try await TestPostgres.withClient(searchPath: String(schema)) { client in
            let rows = try await client.query(
                """
                SELECT c.relname, array_to_string(c.reloptions, ',') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = current_schema() AND c.relname IN ('outbox', 'delivered_events')
                """
            )
            var options: [String: String] = [:]
            for try await (table, setting) in rows.decode((String, String?).self) { options[table] = setting }
            return options
        }
        #expect(options == ["outbox": "fillfactor=80", "delivered_events": "fillfactor=80"])
    }
}
