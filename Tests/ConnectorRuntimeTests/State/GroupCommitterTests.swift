import CAPICore
import ConnectorRuntime
import Synchronization
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
        }
    }

    /// The real store, counting how many commits it is running at once.
    final class OverlapCounter: IntakeStore {
        let store: any IntakeStore
        let counts = Mutex((now: 0, most: 0))
        var concurrentIntakeCommits: Int { store.concurrentIntakeCommits }

        init(_ store: any IntakeStore) { self.store = store }

        func commitIntake(_ items: [IntakeItem]) async throws(StateError) -> [IntakeOutcome] {
            counts.withLock {
                $0.now += 1
                $0.most = max($0.most, $0.now)
            }
            defer { counts.withLock { $0.now -= 1 } }
            return try await store.commitIntake(items)
        }
    }

    @Test("commits overlap up to the store's limit; a key sent by many callers at once is accepted once", arguments: TestStore.enabled)
    func overlappingCommits(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            let store = OverlapCounter(registry)
            let committer = GroupCommitter(registry: store, maxBatch: 10)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await committer.run() }
                let outcomes = try await withThrowingTaskGroup(of: (String, IntakeOutcome).self) { callers in
                    for index in 0..<400 {
                        // Every fourth caller sends the same event, so it lands in several concurrent commits.
                        let id = index % 4 == 0 ? "shared" : "o\(index)"
                        callers.addTask { (id, try await committer.commit([intake(id)])[0]) }
                    }
                    var collected: [(String, IntakeOutcome)] = []
                    for try await outcome in callers { collected.append(outcome) }
                    return collected
                }
                group.cancelAll()
                let shared = outcomes.filter { $0.0 == "shared" }
                #expect(shared.filter { $0.1 == .accepted }.count == 1)
                #expect(shared.filter { if case .duplicate = $0.1 { true } else { false } }.count == 99)
                #expect(outcomes.filter { $0.0 != "shared" }.allSatisfy { $0.1 == .accepted })
            }
            #expect(try await registry.outboxDepth() == 301)
            let most = store.counts.withLock { $0.most }
            #expect(most <= registry.concurrentIntakeCommits)
            if registry.concurrentIntakeCommits > 1 { #expect(most > 1, "commits never overlapped") }
        }
    }
}
