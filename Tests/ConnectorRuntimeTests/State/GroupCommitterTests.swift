import CAPICore
import ConnectorRuntime
import TestSupport
import Testing

@Suite("Group commit")
struct GroupCommitterTests {
    @Test("concurrent callers share transactions and each gets its own outcome", arguments: TestStore.enabled)
    func sharedTransactions(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            let committer = GroupCommitter(registry: registry, maxBatch: 50)
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
            let committer = GroupCommitter(registry: registry, maxBatch: 50)
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
}
