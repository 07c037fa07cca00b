import CAPICore
import ConnectorRuntime
import Logging
import TestSupport
import Testing

/// PostgreSQL answers a statement of the extended protocol (`CommandComplete`) before it commits
/// the statement's implicit transaction, at the `Sync` after it; PostgresNIO ends the statement's
/// rows there. A commit that then fails, or a backend ended in between, must not make an intake
/// commit an acceptance: the sender would be told its event is stored when it is not.
///
/// A deferred constraint trigger makes the commit itself fail, on the test cluster: by an error,
/// and by the backend terminating itself as `pg_terminate_backend` ends one mid-commit.
@Suite("Intake commit confirmation", .enabled(if: TestPostgres.enabled), .timeLimit(.minutes(1)))
struct IntakeCommitConfirmationTests {
    enum Failure: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case error = "RAISE EXCEPTION 'refused at commit'"
        case termination = "PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5)"
        var testDescription: String { self == .error ? "an error" : "the backend's termination" }
    }

    /// A deferred constraint trigger on `table`: the commit of a transaction that inserted a row
    /// matching `condition` fails in the way `failure` says.
    static func failAtCommit(_ location: StateLocation, _ schema: String?, table: String, when condition: String, _ failure: Failure) async throws {
        try await TestStore.rawSQL(
            location,
            schema: schema,
            [
                "CREATE FUNCTION fail_at_commit() RETURNS trigger AS $$ BEGIN IF \(condition) THEN \(failure.rawValue); END IF; RETURN NULL; END $$ LANGUAGE plpgsql",
                "CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON \(table) DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit()",
            ]
        )
    }

    @Test(
        "an intake commit whose transaction fails after its statement answered is refused, and the ledger holds no row",
        arguments: Failure.allCases
    )
    func failedAtCommit(failure: Failure) async throws {
        let (location, schema) = try TestStore.postgres.location()
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            try await Self.failAtCommit(location, schema, table: "delivered_events", when: "NEW.event_id = 'late'", failure)
            await #expect(throws: StateError.self) { try await registry.commitIntake([intake("early"), intake("late")]) }
            #expect(try await registry.deliveredEvents(since: nil).isEmpty)
            #expect(try await registry.outboxDepth() == 0)
            // The store goes on: the same events are new to it, and accepted once the commit can succeed.
            try await TestStore.rawSQL(location, schema: schema, ["DROP TRIGGER fail_at_commit ON delivered_events"])
            #expect(try await registry.commitIntake([intake("early"), intake("late")]) == [.accepted, .accepted])
            #expect(try await registry.deliveredEvents(since: nil).count == 2)
        }
    }

    @Test("a write on a pooled connection whose commit fails is refused: the replay ledger does not hold a webhook id it never stored")
    func pooledWriteFailedAtCommit() async throws {
        let (location, schema) = try TestStore.postgres.location()
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            try await Self.failAtCommit(location, schema, table: "webhook_deliveries", when: "true", .termination)
            let now = UnixSeconds(1_795_000_000)
            await #expect(throws: StateError.self) {
                try await registry.recordDelivery(key: "msg_1", bodyDigest: "first", expiresAt: UnixSeconds(now.rawValue + 600), now: now)
            }
            try await TestStore.rawSQL(location, schema: schema, ["DROP TRIGGER fail_at_commit ON webhook_deliveries"])
            // Nothing was stored under the id: the next body recorded under it is the first.
            #expect(
                try await registry.recordDelivery(key: "msg_1", bodyDigest: "second", expiresAt: UnixSeconds(now.rawValue + 600), now: now)
                    == "second"
            )
        }
    }
}
