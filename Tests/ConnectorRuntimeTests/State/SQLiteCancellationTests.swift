import CAPICore
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

@testable import ConnectorRuntime

@Suite("SQLite transactions under cancellation")
struct SQLiteCancellationTests {
    final class Progress: Sendable {
        let inserted = Mutex(false)
        let signal = AsyncStream<Void>.makeStream()
    }

    @Test("a transaction whose task is cancelled is rolled back, and the store keeps working", .timeLimit(.minutes(1)))
    func cancelledTransactionRollsBack() async throws {
        let path = TemporaryPaths.url("capi-cancel").appendingPathComponent("state.sqlite").path
        let registry = try await SQLiteStateRegistry.open(path: path, logger: Logger(label: "test"))
        try await registry.execute("setup", "CREATE TABLE cut_test (x INTEGER NOT NULL)")
        let progress = Progress()
        let cut = Task {
            // However the body ends, the test stops waiting for it.
            defer { progress.signal.continuation.finish() }
            try await registry.transaction("cut") { () async throws(StateError) -> Void in
                try await registry.execute("cut", "INSERT INTO cut_test (x) VALUES (1)")
                progress.inserted.withLock { $0 = true }
                progress.signal.continuation.yield()
                // Work that notices the cancellation and fails, as a cancelled query does.
                while !Task.isCancelled { await Task.yield() }
                throw StateError(.query, "cancelled")
            }
        }
        for await _ in progress.signal.stream { break }
        cut.cancel()
        await #expect(throws: StateError.self) { try await cut.value }
        #expect(progress.inserted.withLock { $0 })

        // The insert was rolled back, and a new transaction can begin. (The registry is closed
        // either way: an open SQLite connection traps when released.)
        let after: Result<Int?, StateError>
        do {
            after = .success(
                try await registry.transaction("after") { () async throws(StateError) in
                    try await registry.execute("after", "SELECT COUNT(*) AS n FROM cut_test").first?.column("n")?.integer
                }
            )
        } catch {
            after = .failure(error)
        }
        await registry.close()
        #expect(try after.get() == 0)
    }
}
