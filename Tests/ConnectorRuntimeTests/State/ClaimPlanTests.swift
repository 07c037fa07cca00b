import CAPICore
import ConnectorRuntime
import Foundation
import Logging
import TestSupport
import Testing

/// A claim's plan must suit the outbox it runs on, however empty the outbox was when a connection
/// first ran it, as a new sidecar's forwarder does. The role here may write no temporary file and
/// sorts in 64 kB, so a claim that reads the whole backlog and sorts it fails instead of being slow.
@Suite("claim plans", .enabled(if: TestPostgres.enabled))
struct ClaimPlanTests {
    static let backlog = 10_000

    @Test("claims run many times on an empty outbox still take a backlog's oldest rows without sorting it")
    func planForTheBacklog() async throws {
        let schema = TestPostgres.uniqueName("claim_plan")
        try await TestPostgres.withRole(settings: [("temp_file_limit", "0"), ("work_mem", "'64kB'")]) { target in
            try await withStateRegistry(.postgres(target), schema: schema, logger: Logger(label: "test")) { registry in
                // No `ANALYZE` from autovacuum midway, which would replace a kept plan: the claim
                // must suit the backlog without one.
                try await TestStore.rawSQL(.postgres(target), schema: schema, ["ALTER TABLE outbox SET (autovacuum_enabled = false)"])
                let now = WallClock.system.now()
                // Eight at a time, so every pooled connection runs the claim more than the five
                // times after which PostgreSQL may keep one plan for a prepared statement.
                for _ in 0..<8 {
                    try await withThrowingTaskGroup(of: Int.self) { group in
                        for _ in 0..<8 {
                            group.addTask {
                                try await registry.claimOutbox(limit: 100, owner: "idle", lease: .seconds(30), now: now, pixelID: nil).count
                            }
                        }
                        for try await count in group { #expect(count == 0) }
                    }
                }
                // A backlog at once, written straight into the outbox: the shorter the wait, the
                // less other sessions' schema changes can reset the plans connections keep.
                let time = WallClock.system.seconds() - .seconds(60)
                try await TestStore.rawSQL(
                    .postgres(target),
                    schema: schema,
                    [
                        """
                        INSERT INTO outbox (pixel_id, event_id, event_time, payload, attempts, next_attempt_at, created_at, expires_at)
                        SELECT '111', 'plan-' || n, \(time.rawValue), '{}', 0, \(now.rawValue), \(now.rawValue), \(now.rawValue + 86_400_000)
                        FROM generate_series(0, \(Self.backlog - 1)) AS n ORDER BY n
                        """
                    ]
                )
                // Eight at a time again, so every pooled connection claims, those that kept a plan
                // from the empty outbox included. Together the 64 claims take the oldest 6,400
                // rows, each once.
                var claimedIDs: [String] = []
                for _ in 0..<8 {
                    try await withThrowingTaskGroup(of: [OutboxEntry].self) { group in
                        for _ in 0..<8 {
                            group.addTask {
                                try await registry.claimOutbox(limit: 100, owner: "busy", lease: .seconds(30), now: now, pixelID: nil)
                            }
                        }
                        for try await claimed in group {
                            #expect(claimed.count == 100)
                            claimedIDs += claimed.map(\.key.eventID)
                        }
                    }
                }
                #expect(claimedIDs.count == 6_400)
                #expect(Set(claimedIDs) == Set((0..<6_400).map { "plan-\($0)" }))
            }
        }
    }
}
