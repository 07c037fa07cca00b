import ConnectorRuntime
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@Suite("shutdown watchdog")
struct ShutdownWatchdogTests {
    /// Opens once; a waiter is resumed by ``open()`` only, never by cancellation.
    final class Latch: Sendable {
        private let state = Mutex<(open: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

        func wait() async {
            await withCheckedContinuation { continuation in
                let openAlready = state.withLock { state -> Bool in
                    if state.open { return true }
                    state.waiter = continuation
                    return false
                }
                if openAlready { continuation.resume() }
            }
        }

        func open() {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.open = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }

    /// Ignores graceful shutdown and cancellation alike until the test lets it go, like a connection
    /// pool that never finishes shutting down.
    struct StubbornService: Service {
        let release: Latch
        func run() async throws { await release.wait() }
    }

    final class Flag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
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
        // Stuck: the group cancels after 100 ms, the stubborn service ignores it, the watchdog fires
        // at 300 ms while the group has still not returned (returning would disarm it, as `serve` does).
        let stuck = Expiries()
        let release = Latch()
        let returned = Flag()
        let watchdog = ShutdownWatchdog(limit: .milliseconds(300), logger: logger) { stuck.record() }
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: StubbornService(release: release)),
                .init(service: watchdog, successTerminationBehavior: .ignore),
            ],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = .milliseconds(100)
        let group = ServiceGroup(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                try? await group.run()
                watchdog.disarm()
                returned.set()
            }
            try await Task.sleep(for: .milliseconds(50))
            let begun = ContinuousClock.now
            await group.triggerGracefulShutdown()
            for await _ in stuck.fired.stream { break }
            #expect(ContinuousClock.now - begun >= .milliseconds(300))
            #expect(!returned.isSet)
            release.open()
            try await tasks.waitForAll()
        }
        #expect(returned.isSet)
        #expect(stuck.count.withLock { $0 } == 1)

        // In time: the group returns at once and is disarmed as it returns, as `serve` does; the
        // timer left behind does nothing. The limit is generous so that a loaded machine (the whole
        // suite runs at once) cannot stretch "at once" past it.
        let prompt = Expiries()
        let promptLimit = Duration.seconds(2)
        let promptWatchdog = ShutdownWatchdog(limit: promptLimit, logger: logger) { prompt.record() }
        let quick = ServiceGroup(
            configuration: .init(services: [.init(service: promptWatchdog, successTerminationBehavior: .ignore)], logger: logger)
        )
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                try await quick.run()
                promptWatchdog.disarm()
            }
            try await Task.sleep(for: .milliseconds(50))
            await quick.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try await Task.sleep(for: promptLimit + .milliseconds(300))
        #expect(prompt.count.withLock { $0 } == 0)
    }
}
