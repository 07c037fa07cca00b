import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import ConnectorRuntime

/// A session lock (the poll lock, the drift lock) is released when the server ends its session,
/// and the server ends it when TCP keepalive finds the client gone: the lock's session probes after
/// 60 s idle rather than the operating system's two hours.
@Suite("Postgres session locks", .enabled(if: TestPostgres.enabled))
struct PostgresSessionLockTests {
    @Test("while the poll lock is held, the server side of its session has a keepalive timer of a minute at most")
    func keepaliveOnTheLockSession() async throws {
        let target = try TestPostgres.target()
        guard ["127.0.0.1", "localhost"].contains(target.host) else {
            Issue.record("the server's sockets are read from /proc/net/tcp: run against a cluster on this machine (CI's is)")
            return
        }
        // A database of its own: the poll lock is one per database, and other tests take it.
        let (_, stateURL) = try await TestPostgres.createDatabase(prefix: "capi_keepalive")
        try await withStateRegistry(try StateLocation(parsing: stateURL), logger: Logger(label: "test")) { registry in
            let seen = try await registry.withPollLock {
                // The lock's session is idle while the job runs: its timer is the keepalive.
                var timers: [Double] = []
                for _ in 0..<50 {
                    timers = try Self.keepaliveTimers(serverPort: target.port)
                    if timers.contains(where: { $0 <= 60 }) { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                return timers
            }
            let timers = try #require(seen)
            #expect(timers.contains { $0 <= 60 }, "keepalive timers of the server's sessions, seconds: \(timers)")
        }
    }

    @Test("a poll lock whose session ends mid-poll is taken again, and the poll's result comes back; the lock is free after")
    func lockTakenAgain() async throws {
        try await withLockTestRegistry { registry, database, _, log in
            let before = try await Self.lockHolders(database)
            let result = try await registry.withPollLock { () async throws -> [Int32] in
                let first = try await Self.lockHolders(database)
                try await Self.terminate(first, database)
                var again: [Int32] = []
                try await eventually("the lock is held again", timeout: .seconds(20)) {
                    again = try await Self.lockHolders(database)
                    return !again.isEmpty && again != first
                }
                return again
            }
            #expect(before.isEmpty)
            #expect(result?.count == 1, "\(String(describing: result))")
            #expect(log.all.contains { $0.level == .warning && $0.message.contains("the session holding the poll lock ended") })
            #expect(log.all.contains { $0.message == "the poll lock is held again" })
            #expect(try await Self.lockHolders(database).isEmpty, "released after the poll")
            #expect(try await registry.withPollLock { true } == true)
        }
    }

    @Test("another process takes the lock after the session ended: the poll goes on and says so; the other keeps the lock")
    func lockTakenByAnother() async throws {
        try await withLockTestRegistry(checkedEvery: .seconds(1)) { registry, database, _, log in
            try await TestPostgres.withClient(database: database) { client in
                try await client.withConnection { other in
                    let result = try await registry.withPollLock { () async throws -> Bool in
                        // Another session ends the lock's and takes the lock as soon as the
                        // server lets go of it, in one statement: a starved test run cannot be
                        // beaten to it by the first's check.
                        try await other.query(
                            PostgresQuery(
                                unsafeSQL: """
                                    DO $$ BEGIN
                                      PERFORM pg_terminate_backend(pid) FROM pg_locks
                                        WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
                                          AND database = (SELECT oid FROM pg_database WHERE datname = current_database());
                                      WHILE NOT pg_try_advisory_lock(\(PostgresStateRegistry.pollLockKey)) LOOP END LOOP;
                                    END $$
                                    """
                            ),
                            logger: Logger(label: "test.other")
                        )
                        try await eventually("the first says it lost the lock", timeout: .seconds(20)) {
                            log.all.contains { $0.level == .error && $0.message.hasPrefix("another process took the poll lock") }
                        }
                        return true
                    }
                    #expect(result == true, "the first's body finished")
                    #expect(try await Self.lockHolders(database).count == 1, "the other still holds it")
                    try await other.query(
                        PostgresQuery(unsafeSQL: "SELECT pg_advisory_unlock(\(PostgresStateRegistry.pollLockKey))"),
                        logger: Logger(label: "test.other")
                    )
                }
            }
            #expect(try await Self.lockHolders(database).isEmpty)
        }
    }

    @Test("a server's idle_session_timeout does not end the lock's session while the job leaves it alone")
    func lockSessionNotIdle() async throws {
        let (database, stateURL) = try await TestPostgres.createDatabase(prefix: "capi_lock_idle")
        try await TestPostgres.withClient { client in
            try await client.query(PostgresQuery(unsafeSQL: "ALTER DATABASE \(database) SET idle_session_timeout = '1s'"))
        }
        let log = CapturedLog()
        try await withStateRegistry(try StateLocation(parsing: stateURL), logger: log.logger) { registry in
            // The pool's idle connections are ended by the server meanwhile: the lock is taken on
            // one that is open.
            try await Task.sleep(for: .seconds(2))
            let holders = try await registry.withPollLock { () async throws -> [[Int32]] in
                var seen = [try await Self.lockHolders(database)]
                // Three times the server's limit, with no statement on the lock's session.
                try await Task.sleep(for: .seconds(3))
                seen.append(try await Self.lockHolders(database))
                return seen
            }
            let both = try #require(holders)
            #expect(both[0].count == 1 && both[0] == both[1], "one backend held the lock throughout: \(both)")
            #expect(!log.all.contains { $0.message.contains("the session holding the poll lock ended") })
        }
    }

    /// A registry on a database of its own (the poll lock is one per database) that checks its lock
    /// sessions every `checkedEvery`, logging to `log`.
    func withLockTestRegistry(
        checkedEvery interval: Duration = .milliseconds(200),
        _ body: @Sendable (PostgresStateRegistry, _ database: String, StateLocation, CapturedLog) async throws -> Void
    ) async throws {
        let (database, stateURL) = try await TestPostgres.createDatabase(prefix: "capi_lock")
        guard case .postgres(let target) = try StateLocation(parsing: stateURL) else { throw TestSetupError("not a postgres URL") }
        let log = CapturedLog()
        var checking = PostgresStateRegistry(target: target, logger: log.logger)
        checking.sessionLockCheckInterval = interval
        let registry = checking
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await registry.run() }
            defer { group.cancelAll() }
            try await registry.migrate(within: connectTimeout, describing: .postgres(target))
            try await body(registry, database, .postgres(target), log)
        }
    }

    /// The backends holding an advisory lock in `database`.
    static func lockHolders(_ database: String) async throws -> [Int32] {
        try await TestPostgres.withClient { client in
            let rows = try await client.query(
                "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND l.granted AND d.datname = \(database) ORDER BY l.pid"
            )
            var pids: [Int32] = []
            for try await pid in rows.decode(Int32.self) { pids.append(pid) }
            return pids
        }
    }

    static func terminate(_ pids: [Int32], _ database: String) async throws {
        #expect(!pids.isEmpty, "a backend of \(database) holds the lock")
        try await TestPostgres.withClient { client in
            for pid in pids { try await client.query("SELECT pg_terminate_backend(\(pid))") }
        }
    }

    /// Seconds left on each keepalive timer of the server's established IPv4 sockets on `serverPort`
    /// (`/proc/net/tcp`: `tr` 2 is the keepalive timer, `tm->when` in clock ticks of 1/100 s).
    static func keepaliveTimers(serverPort: Int) throws -> [Double] {
        // Read to the end: a /proc file reports no size, and a busy machine's table is many pages.
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/net/tcp"))
        defer { try? file.close() }
        let table = String(decoding: try file.readToEnd() ?? Data(), as: UTF8.self)
        let local = String(format: ":%04X", serverPort)
        return table.split(separator: "\n").dropFirst().compactMap { line -> Double? in
            let fields = line.split(separator: " ")
            guard fields.count > 5, fields[1].hasSuffix(local), fields[3] == "01" else { return nil }
            let timer = fields[5].split(separator: ":")
            guard timer.count == 2, timer[0] == "02", let ticks = Int(timer[1], radix: 16) else { return nil }
            return Double(ticks) / 100
        }
    }
}
