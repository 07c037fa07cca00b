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
        try await TestPostgres.withRole(settings: [("temp_file_limit", "0"), ("work_mem", "'64kB'")]) { target in
            try await withStateRegistry(.postgres(target), schema: "claim_plan", logger: Logger(label: "test")) { registry in
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
                // A backlog, committed in groups small enough to sort in 64 kB.
                let time = WallClock.system.seconds() - .seconds(60)
                for start in stride(from: 0, to: Self.backlog, by: 50) {
                    let items = (start..<start + 50).map { index in
                        IntakeItem(
                            key: EventKey(pixelID: "111", eventID: "plan-\(index)", eventTime: time),
                            contentHash: "h\(index)",
                            payload: #"{"event_id":"plan-\#(index)"}"#,
                            answer: "{}",
                            deliveredRecord: "{}",
                            receivedAt: now
                        )
                    }
                    _ = try await registry.commitIntake(items)
                }
                // Each claim gets the oldest 100 rows left: two commits' worth, each commit's rows
                // queued in key order.
                for round in 0..<8 {
                    let claimed = try await registry.claimOutbox(limit: 100, owner: "busy", lease: .seconds(30), now: now, pixelID: nil)
                    let expected = [round * 2, round * 2 + 1].flatMap { group in (group * 50..<group * 50 + 50).map { "plan-\($0)" }.sorted() }
                    #expect(claimed.map(\.key.eventID) == expected)
                }
            }
        }
    }
}
