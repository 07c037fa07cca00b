import CAPICore
import ConnectorRuntime
import Logging
import TestSupport
import Testing

@Suite("Group commit")
struct GroupCommitterTests {
    @Test("concurrent callers share transactions and each gets its own outcome", arguments: TestStore.enabled)
    func sharedTransactions(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            // Sharing is under test, not the deadline: 200 callers on a loaded machine once waited
            // past the default 5 s for SQLite's one writer.
            let committer = GroupCommitter(registry: registry, maxBatch: 50, commitTimeout: .seconds(120))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await committer.run() }
                let outcomes = try await withThrowingTaskGroup(of: (String, IntakeOutcome).self) { callers in
                    for index in 0..<200 {
                        // Every tenth caller repeats an earlier event: it must come back as a duplicate.
                        let id = index % 10 == 9 ? "g\(index - 1)" : "g\(index)"
                        callers.addTask { (id, try await committer.commit([intake(id)])[0]) }
                    }
                    var collected: [(String, IntakeOutcome)] = []
                    for try await outcome in callers { collected.append(outcome) }
                    return collected
                }
                group.cancelAll()
                #expect(outcomes.count == 200)
                #expect(outcomes.filter { $0.1 == .accepted }.count == 180)
                #expect(outcomes.filter { if case .duplicate = $0.1 { true } else { false } }.count == 20)
            }
            #expect(try await registry.outboxDepth() == 180)
            let transactions = await committer.transactions
            #expect(transactions < 200, "no two callers shared a transaction")
            #expect(transactions >= 4, "a transaction exceeded maxBatch")
            // PostgreSQL runs two commits side by side; SQLite has one writer.
            let mostInFlight = await committer.mostInFlight
            #expect(mostInFlight == registry.concurrentIntakeCommits)
            #expect(mostInFlight == (backend == .postgres ? 2 : 1))
        }
    }

    @Test("a request the store refuses fails alone: the requests that shared its transaction are committed", .enabled(if: TestPostgres.enabled))
    func refusedRequestFailsAlone() async throws {
        // PostgreSQL refuses a NUL in a text column; validation refuses such ids before intake, so
        // this stands for any row the store cannot take.
        let poison = "poison\u{0}id"
        try await TestStore.postgres.withRegistry { registry in
            // Isolation is under test, not the deadline: on a loaded machine the one-by-one commits
            // of a refused group can take longer than the default 5 s.
            let committer = GroupCommitter(registry: registry, maxBatch: 50, commitTimeout: .seconds(120))
            await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await committer.run() }
                let results = await withTaskGroup(of: (String, Bool).self) { callers in
                    for index in 0..<120 {
                        let id = index == 60 ? poison : "ok\(index)"
                        callers.addTask {
                            do {
                                return (id, try await committer.commit([intake(id)]) == [.accepted])
                            } catch {
                                return (id, false)
                            }
                        }
                    }
                    var collected: [String: Bool] = [:]
                    for await (id, accepted) in callers { collected[id] = accepted }
                    return collected
                }
                group.cancelAll()
                let refused = results.filter { !$0.value }.map(\.key)
                #expect(refused == [poison])
            }
            let depth = try await registry.outboxDepth()
            #expect(depth == 119)
            let transactions = await committer.transactions
            #expect(transactions < 120, "no two callers shared a transaction, so none was at risk")
        }
    }

    @Test(
        "a caller waits at most the commit timeout for a store that does not answer, and its retry leaves one row once the commit lands",
        .timeLimit(.minutes(1)),
        arguments: TestStore.enabled
    )
    func commitTimeout(backend: TestStore) async throws {
        let (location, schema) = try backend.location()
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            let committer = GroupCommitter(registry: registry, maxBatch: 50, commitTimeout: .milliseconds(400))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await committer.run() }
                let waited = try await TestStore.holdingWriteLock(location, schema: schema) {
                    let clock = ContinuousClock()
                    let start = clock.now
                    await #expect {
                        _ = try await committer.commit([intake("held")])
                    } throws: { error in
                        (error as? StateError)?.kind == .unavailable && "\(error)".contains("did not commit within 0.4 seconds")
                    }
                    // A second caller queued behind the stuck commit is answered as soon.
                    await #expect(throws: StateError.self) { _ = try await committer.commit([intake("queued")]) }
                    return clock.now - start
                }
                // The lock is held for 10 s at most: an answer well before is the deadline's.
                #expect(waited < .seconds(6), "waited \(waited) with a timeout of 0.4 s")
                // The commit that was waiting lands once the lock is gone. The sender's retry, sent
                // again while the store is still catching up (as a sender would), is answered
                // once it is committed. On PostgreSQL it can meet the waiting commit in the server
                // once the lock is released, and either may insert the row first. So the retry is
                // a duplicate, or the one that stored it, and either way there is one row.
                var retry: [IntakeOutcome] = []
                for _ in 0..<50 {
                    do {
                        retry = try await committer.commit([intake("held")])
                        break
                    } catch let error as StateError where error.kind == .unavailable {
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                #expect(retry.count == 1)
                #expect(retry.allSatisfy { $0 != .conflict }, "\(retry)")
                let stored = try await registry.deliveredEvents(since: nil).filter { $0.key.eventID == "held" }
                #expect(stored.count == 1, "\(stored.count) rows for one event")
                #expect(try await registry.outboxDepth() >= 1)
                group.cancelAll()
            }
        }
    }
}

@Suite("Deadline on state store calls")
struct StateDeadlineTests {
    @Test("the answer in time, the body's own error, or unavailable at the deadline while the body still waits", .timeLimit(.minutes(1)))
    func answers() async throws {
        #expect(try await withStateDeadline(.seconds(5), "quick") { 42 } == 42)
        await #expect(throws: StateError.self) {
            _ = try await withStateDeadline(.seconds(5), "failing") { () async throws -> Int in throw StateError(.query, "refused") }
        }
        // The body is held until the test lets it go, and ignores cancellation, as a statement
        // already sent does: only the deadline can end the call. (It slept 3 s, and the call had to
        // end within 2; on a loaded CI machine it ended after 2.4.)
        let (held, release) = AsyncStream<Void>.makeStream()
        await #expect {
            _ = try await withStateDeadline(.milliseconds(100), "stuck") { () async throws -> Int in
                let ignored = Task { for await _ in held {} }
                await ignored.value
                return 1
            }
        } throws: { error in
            (error as? StateError)?.kind == .unavailable && "\(error)".contains("stuck: the state store did not answer within 0.1 seconds")
        }
        release.finish()
    }

    @Test(
        "a read blocked by a table lock is given up at the deadline, not when the lock goes",
        .enabled(if: TestPostgres.enabled),
        .timeLimit(.minutes(1))
    )
    func blockedRead() async throws {
        let (location, schema) = try TestStore.postgres.location()
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            let answeredWhileLocked = try await TestStore.holdingWriteLock(location, schema: schema) {
                await #expect(throws: StateError.self) {
                    _ = try await withStateDeadline(.milliseconds(300), "readiness") { try await registry.oldestDueOutboxAge(now: now) }
                }
                return true
            }
            #expect(answeredWhileLocked)
        }
    }
}
