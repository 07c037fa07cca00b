import Logging
import PostgresNIO
import Synchronization
import TestSupport
import Testing

@testable import ConnectorRuntime

/// The intake commits' lanes on the test cluster: a lane keeps its connection while work keeps
/// coming, gives it back after its linger, and a connection lost while held costs no work. A
/// statement on a connection the server closed is refused before it is sent, not left waiting.
@Suite("Connection lanes", .enabled(if: TestPostgres.enabled), .timeLimit(.minutes(1)))
struct ConnectionLanesTests {
    /// Runs `body` with lanes over a pool of `connections`, both served for the duration.
    func withLanes<T: Sendable>(
        count: Int = 1,
        linger: Duration,
        connections: Int,
        _ body: @Sendable (ConnectionLanes, PostgresClient) async throws -> T
    ) async throws -> T {
        var configuration = try TestPostgres.target().clientConfiguration()
        configuration.options.maximumConnections = connections
        let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "test-lanes"))
        let lanes = ConnectionLanes(client: client, count: count, linger: linger)
        return try await withRunning(client) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await lanes.serve() }
                defer { group.cancelAll() }
                return try await body(lanes, client)
            }
        }
    }

    static func backendPID(_ connection: PostgresConnection) async throws -> Int32 {
        for try await pid in try await connection.query("SELECT pg_backend_pid()", logger: Logger(label: "test-lanes")).decode(Int32.self) {
            return pid
        }
        throw TestSetupError("pg_backend_pid() returned no row")
    }

    @Test("work in a row runs on one held connection, which goes back to the pool only after the linger")
    func holdsThenGivesBack() async throws {
        try await withLanes(linger: .milliseconds(800), connections: 1) { lanes, client in
            var pids: Set<Int32> = []
            for _ in 0..<20 { pids.insert(try await lanes.run { try await Self.backendPID($0) }) }
            #expect(pids.count == 1)
            // The pool's only connection is the lane's until the linger has passed.
            let clock = ContinuousClock()
            let lastWork = clock.now
            try await client.query("SELECT 1")
            let waited = clock.now - lastWork
            #expect(waited >= .milliseconds(600), "the pool gave the held connection away after \(waited)")
            #expect(waited < .seconds(10))
            // Once given back, the lane leases again for new work.
            pids.insert(try await lanes.run { try await Self.backendPID($0) })
            #expect(pids.count == 1)
        }
    }

    @Test("a held connection whose backend is terminated between jobs costs no job: the next runs on a new connection")
    func terminatedBackendBetweenJobs() async throws {
        try await withLanes(linger: .seconds(30), connections: 2) { lanes, client in
            let first = try await lanes.run { try await Self.backendPID($0) }
            try await client.query("SELECT pg_terminate_backend(\(first))")
            // Time for the server to end the session and for the client to see its socket close.
            try await Task.sleep(for: .milliseconds(500))
            let next = try await lanes.run { try await Self.backendPID($0) }
            #expect(next != first)
        }
    }

    @Test("work submitted after the lanes stop is refused as unavailable, not left waiting")
    func refusedAfterStop() async throws {
        var configuration = try TestPostgres.target().clientConfiguration()
        configuration.options.maximumConnections = 1
        let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "test-lanes"))
        let lanes = ConnectionLanes(client: client, count: 2, linger: .seconds(1))
        try await withRunning(client) {
            let serving = Task { await lanes.serve() }
            let pid = try await lanes.run { try await Self.backendPID($0) }
            #expect(pid > 0)
            serving.cancel()
            await serving.value
            await #expect(throws: StateError.self) { try await lanes.run { try await Self.backendPID($0) } }
        }
    }

    @Test("a statement starts on its connection's event loop, in the turn that finds it open")
    func startsOnTheEventLoop() async throws {
        try await TestPostgres.withClient { client in
            try await client.withConnection { connection in
                let onLoop = try await connection.startWhileOpen { connection.eventLoop.inEventLoop }
                #expect(onLoop)
                let pid = try await connection.startWhileOpen { try await Self.backendPID(connection) }
                #expect(pid > 0)
            }
        }
    }

    @Test("a statement on a connection the server has closed is refused unsent; PostgresNIO alone never answers it")
    func closedConnectionRefusesTheStatement() async throws {
        try await TestPostgres.withClient { client in
            try await client.withConnection { connection in
                let pid = try await Self.backendPID(connection)
                try await TestPostgres.withClient { other in _ = try await other.query("SELECT pg_terminate_backend(\(pid))") }
                for _ in 0..<100 where !connection.isClosed { try await Task.sleep(for: .milliseconds(20)) }
                #expect(connection.isClosed)
                await #expect(throws: ConnectionClosedBeforeStart.self) {
                    try await connection.startWhileOpen { try await Self.backendPID(connection) }
                }
            }
        }
    }

    @Test("work refused unsent on a closed connection runs again, up to three times in all; a refusal after that reaches the caller")
    func refusedUnsentRunsAgain() async throws {
        try await withLanes(linger: .seconds(1), connections: 2) { lanes, _ in
            let calls = Mutex(0)
            let pid = try await lanes.run { connection in
                let call = calls.withLock { calls in
                    calls += 1
                    return calls
                }
                if call == 1 { throw ConnectionClosedBeforeStart() }
                return try await Self.backendPID(connection)
            }
            #expect(pid > 0)
            #expect(calls.withLock { $0 } == 2)

            let always = Mutex(0)
            await #expect(throws: ConnectionClosedBeforeStart.self) {
                _ = try await lanes.run { _ -> Int in
                    always.withLock { $0 += 1 }
                    throw ConnectionClosedBeforeStart()
                }
            }
            #expect(always.withLock { $0 } == ConnectionClosedBeforeStart.attempts)
        }
    }
}
