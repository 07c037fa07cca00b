import ConnectorRuntime
import Logging
import ServiceLifecycle
import Testing

@Suite("cancellation witness")
struct CancellationWitnessTests {
    enum Ending: String, CaseIterable, Sendable {
        /// Stops when told to shut down gracefully.
        case graceful
        /// Ignores the shutdown; once cancelled, returns as if it had finished.
        case returnsWhenCancelled
        /// Ignores the shutdown; once cancelled, throws `CancellationError`.
        case throwsWhenCancelled
    }

    struct Sidecar: Service {
        let ending: Ending
        func run() async throws {
            switch ending {
            case .graceful:
                try await gracefulShutdown()
            case .returnsWhenCancelled:
                try? await Task.sleep(for: .seconds(60))
            case .throwsWhenCancelled:
                try await Task.sleep(for: .seconds(60))
            }
        }
    }

    @Test("a service cut short by the shutdown timeout is seen as cancelled however it ends", arguments: Ending.allCases)
    func seesTheTimeout(ending: Ending) async throws {
        let logger = Logger(label: "test")
        let sidecar = CancellationWitness(Sidecar(ending: ending))
        let watchdog = ShutdownWatchdog(limit: .seconds(60), logger: logger) {}
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: sidecar), .init(service: watchdog, successTerminationBehavior: .ignore)],
            logger: logger
        )
        // Short for the services that ignore the shutdown; generous for the one that obeys it, so a
        // loaded machine (the whole suite runs at once) cannot make it late.
        configuration.maximumGracefulShutdownDuration = ending == .graceful ? .seconds(30) : .milliseconds(100)
        let group = ServiceGroup(configuration: configuration)
        let threw = try await withThrowingTaskGroup(of: Bool.self) { tasks in
            tasks.addTask {
                do {
                    try await group.run()
                    return false
                } catch {
                    return true
                }
            }
            try await Task.sleep(for: .milliseconds(50))
            #expect(!watchdog.sawShutdown)
            await group.triggerGracefulShutdown()
            return try await tasks.next() ?? false
        }
        watchdog.disarm()
        #expect(watchdog.sawShutdown)
        #expect(sidecar.wasCancelled == (ending != .graceful))
        // Why the witness exists: the group's outcome alone does not tell a cut-short shutdown.
        if ending == .returnsWhenCancelled { #expect(!threw) }
    }
}
