import ConnectorRuntime
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@Suite("shutdown watchdog")
struct ShutdownWatchdogTests {
    /// Ignores graceful shutdown and cancellation alike until the test lets it go, like a connection
    /// pool that never finishes shutting down.
    struct StubbornService: Service {
        let release: AsyncStream<Void>
        func run() async throws {
            await withTaskCancellationHandler {
                for await _ in release {}
            } onCancel: {
            }
        }
    }

    final class Expiries: Sendable {
        let count = Mutex(0)
        let fired = AsyncStream<Void>.makeStream()
        func record() {
            count.withLock { $0 += 1 }
            fired.continuation.yield()
        }
    }

    @Test("a shutdown stuck past the limit triggers the exit once; one that finishes never does", .timeLimit(.minutes(1)))
    func firesOnlyWhenStuck() async throws {
        let logger = Logger(label: "test")
        // Stuck: the group cancels after 100 ms, the stubborn service ignores it, the watchdog fires at 300 ms.
        let stuck = Expiries()
        let release = AsyncStream<Void>.makeStream()
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: StubbornService(release: release.stream)),
                .init(service: ShutdownWatchdog(limit: .milliseconds(300), logger: logger) { stuck.record() }, successTerminationBehavior: .ignore),
            ],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = .milliseconds(100)
        let group = ServiceGroup(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try? await group.run() }
            try await Task.sleep(for: .milliseconds(50))
            let begun = ContinuousClock.now
            await group.triggerGracefulShutdown()
            for await _ in stuck.fired.stream { break }
            #expect(ContinuousClock.now - begun >= .milliseconds(300))
            release.continuation.finish()
            try await tasks.waitForAll()
        }
        #expect(stuck.count.withLock { $0 } == 1)

        // In time: the group returns at once and is disarmed; the timer left behind does nothing.
        let prompt = Expiries()
        let watchdog = ShutdownWatchdog(limit: .milliseconds(200), logger: logger) { prompt.record() }
        let quick = ServiceGroup(
            configuration: .init(services: [.init(service: watchdog, successTerminationBehavior: .ignore)], logger: logger)
        )
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await quick.run() }
            try await Task.sleep(for: .milliseconds(50))
            await quick.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        watchdog.disarm()
        try await Task.sleep(for: .milliseconds(400))
        #expect(prompt.count.withLock { $0 } == 0)
    }
}
