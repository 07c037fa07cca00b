import Logging
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@testable import ConnectorRuntime

/// A process stopping while its PostgreSQL server is gone must not wait on the pool, which retries
/// for a minute before it fails a request: the registry lets go when the server cannot be reached,
/// fails what waits at once, and keeps running until its own turn to stop. With a server that
/// answers it lets go of nothing.
@Suite("Letting go of an unreachable store", .timeLimit(.minutes(1)))
struct StoreReleaseTests {
    /// A flag set once, read from other tasks.
    final class Flag: Sendable {
        let flag = Atomic<Bool>(false)
    }

    /// Runs `body` with a Postgres registry at `url`, itself run as a service, stopped after `body`.
    func withRunningRegistry(
        _ url: String,
        _ body: @Sendable (any StateRegistryService, _ running: @Sendable () -> Bool) async throws -> Void
    ) async throws {
        let location = try StateLocation(parsing: url)
        let registry = try await openStateRegistry(location, schema: TestPostgres.uniqueName("r"), logger: Logger(label: "test-release"))
        let group = ServiceGroup(configuration: .init(services: [.init(service: registry)], logger: Logger(label: "test-release")))
        let stopped = Flag()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                try await group.run()
                stopped.flag.store(true, ordering: .sequentiallyConsistent)
            }
            do {
                try await body(registry) { !stopped.flag.load(ordering: .sequentiallyConsistent) }
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("with nobody listening, a statement waiting for a connection fails as soon as the registry lets go, and the registry runs on")
    func unreachable() async throws {
        // Port 1 on loopback: nobody listens, so every attempt to connect is refused.
        try await withRunningRegistry("postgres://postgres@127.0.0.1:1/postgres") { registry, running in
            let clock = ContinuousClock()
            let answered = Flag()
            let waiting = Task { () -> (any Error)? in
                defer { answered.flag.store(true, ordering: .sequentiallyConsistent) }
                do {
                    try await registry.ping()
                    return nil
                } catch {
                    return error
                }
            }
            // The ping waits on the pool, which retries the connection rather than fail it.
            try await Task.sleep(for: .seconds(1))
            let answeredEarly = answered.flag.load(ordering: .sequentiallyConsistent)
            #expect(!answeredEarly, "the ping was answered before the registry let go")
            let start = clock.now
            #expect(await registry.letGoIfUnreachable())
            let failure = await waiting.value
            #expect(failure is StateError, "\(String(describing: failure))")
            #expect(clock.now - start < .seconds(10), "the ping waited \(clock.now - start) after the registry let go")
            // What comes after fails at once too; the registry itself stops only when told to.
            await #expect(throws: StateError.self) { try await registry.ping() }
            #expect(running())
        }
    }

    @Test("with the server answering, the registry lets go of nothing and goes on answering", .enabled(if: TestPostgres.enabled))
    func reachable() async throws {
        let url = try #require(TestPostgres.url, "CAPI_TEST_POSTGRES_URL is not set")
        try await withRunningRegistry(url) { registry, running in
            try await registry.ping()
            #expect(await !registry.letGoIfUnreachable())
            try await registry.ping()
            #expect(running())
        }
    }
}
