import CAPICore
import ConnectorRuntime
import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

/// Migration 11 on PostgreSQL: `delivered_events` copied with the columns the forwarder changes
/// last, so an acknowledgement's WAL record no longer carries the analytics record. The copy must
/// keep every row and key, and must not happen where it would lose what an operator attached.
@Suite("delivered_events' column order (PostgreSQL)", .enabled(if: TestPostgres.enabled))
struct DeliveredEventsLayoutTests {
    static let relaidOrder = [
        "pixel_id", "event_id", "event_time", "received_at", "content_hash", "answer", "record", "outcome", "fbtrace_id",
        "dead_letter_reason", "updated_at",
    ]
    static let oldOrder = [
        "pixel_id", "event_id", "event_time", "received_at", "outcome", "fbtrace_id", "dead_letter_reason", "record", "updated_at",
        "content_hash", "answer",
    ]

    /// Version 10's table, rows included, as stores created before version 11 have it.
    static let backToVersion10 =
        [
            "DELETE FROM schema_migrations WHERE version >= 11"
        ] + beforeRequestTestCodes + [
            "CREATE TABLE old_layout AS SELECT \(oldOrder.joined(separator: ", ")) FROM delivered_events",
            "DROP TABLE delivered_events",
            "ALTER TABLE old_layout RENAME TO delivered_events",
            "ALTER TABLE delivered_events ADD PRIMARY KEY (pixel_id, event_id, event_time)",
            "ALTER TABLE delivered_events ALTER COLUMN record SET NOT NULL",
            "ALTER TABLE delivered_events ALTER COLUMN outcome SET NOT NULL",
            "ALTER TABLE delivered_events ALTER COLUMN received_at SET NOT NULL",
            "ALTER TABLE delivered_events ALTER COLUMN updated_at SET NOT NULL",
            "CREATE INDEX delivered_events_received ON delivered_events (received_at)",
            "ALTER TABLE delivered_events SET (fillfactor = 50)",
        ]

    static func columns(schema: String) async throws -> [String] {
        try await TestPostgres.withClient(searchPath: schema) { client in
            let rows = try await client.query(
                "SELECT attname::text FROM pg_attribute WHERE attrelid = 'delivered_events'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            )
            var names: [String] = []
            for try await name in rows.decode(String.self) { names.append(name) }
            return names
        }
    }

    /// A store with a forwarded event, one waiting and one dead-lettered, in version 10's layout.
    static func olderStore() async throws -> (StateLocation, String) {
        let (location, schema) = try TestStore.postgres.location()
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            #expect(try await registry.commitIntake(["sent", "waiting", "lettered"].map { intake($0) }).count == 3)
            // Intake items are due from their receipt, in 2026.
            let later = UnixMillis(1_796_000_000_000)
            let claimed = try await registry.claimOutbox(limit: 10, owner: "a", lease: .seconds(60), now: later, pixelID: nil)
            #expect(claimed.count == 3)
            try await registry.markForwarded(claimed.filter { $0.key.eventID == "sent" }, fbtraceID: "ASent", now: later)
            try await registry.deadLetter(
                claimed.filter { $0.key.eventID == "lettered" },
                reason: DeadLetterReason(errorClass: .invalid, message: "bad"),
                now: later
            )
            try await registry.reschedule(claimed.filter { $0.key.eventID == "waiting" }, nextAttemptAt: UnixMillis(0), lastError: "later")
        }
        try await TestStore.rawSQL(location, schema: schema!, backToVersion10)
        #expect(try await columns(schema: schema!) == oldOrder)
        return (location, schema!)
    }

    @Test("a fresh store has the changing columns last")
    func freshStore() async throws {
        let (location, schema) = try TestStore.postgres.location()
        let version = try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            try await registry.summary().schemaVersion
        }
        #expect(version == currentSchemaVersion)
        #expect(try await Self.columns(schema: schema!) == Self.relaidOrder)
    }

    @Test("an older store is copied with every row: outcomes, duplicates, conflicts and the waiting event's forwarding still work")
    func olderStoreCopied() async throws {
        let (location, schema) = try await Self.olderStore()
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            let outcomes = Dictionary(uniqueKeysWithValues: try await registry.deliveredEvents(since: nil).map { ($0.key.eventID, $0) })
            #expect(outcomes.mapValues(\.outcome) == ["sent": .forwarded, "waiting": .pending, "lettered": .deadLettered])
            #expect(outcomes["sent"]?.fbtraceID == "ASent")
            let again = try await registry.commitIntake(["sent", "waiting", "lettered"].map { intake($0) })
            #expect(again == ["sent", "waiting", "lettered"].map { .duplicate(answer: #"{"status":"accepted","event_id":"\#($0)"}"#) })
            #expect(try await registry.commitIntake([intake("sent", content: "B")]) == [.conflict])
            let claimed = try await registry.claimOutbox(
                limit: 10,
                owner: "b",
                lease: .seconds(60),
                now: UnixMillis(1_796_000_000_000),
                pixelID: nil
            )
            #expect(claimed.map(\.key.eventID) == ["waiting"])
            try await registry.markForwarded(claimed, fbtraceID: "AWaiting", now: UnixMillis(1_796_000_000_001))
            #expect(try await registry.deliveredEvents(since: nil).filter { $0.outcome == .forwarded }.count == 2)
        }
        #expect(try await Self.columns(schema: schema) == Self.relaidOrder)
    }

    @Test(
        "an older store with a view, a grant or a comment on the table keeps its layout, and what was attached",
        arguments: [
            "CREATE VIEW analyst_view AS SELECT event_id, outcome FROM delivered_events",
            "GRANT SELECT ON delivered_events TO PUBLIC",
            "COMMENT ON TABLE delivered_events IS 'conversions for the analysts'",
        ]
    )
    func attachedKeepsLayout(attachment: String) async throws {
        let (location, schema) = try await Self.olderStore()
        try await TestStore.rawSQL(location, schema: schema, [attachment])
        let (version, events) = try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            (try await registry.summary().schemaVersion, try await registry.deliveredEvents(since: nil).count)
        }
        #expect(version == currentSchemaVersion && events == 3)
        #expect(try await Self.columns(schema: schema) == Self.oldOrder)
        if attachment.hasPrefix("CREATE VIEW") {
            try await TestStore.rawSQL(location, schema: schema, ["SELECT count(*) FROM analyst_view"])
        }
    }
}
