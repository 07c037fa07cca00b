import ArgumentParser
import CAPICore
import Logging
import ServiceLifecycle
import UnixSignals

/// `--shutdown-timeout`, for the commands a platform stops with SIGTERM: `serve`, and the
/// scheduled jobs `poll` and `flush`.
struct ShutdownOptions: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            """
            How long a SIGTERM or SIGINT shutdown may finish the work in flight (serve: requests, the \
            batch being sent, the last drift windows; poll: the window being read; flush: the batches \
            being sent) before the rest is cancelled, e.g. when the state store or Meta is gone; a \
            second signal cancels it at once. 10 s later the process exits even if cancelled work \
            has not stopped (exit status 1). Nothing \
            answered or committed is lost: unanswered requests are retried by their senders, and a \
            cancelled window or batch is done again by the next run.
            """,
            valueName: "seconds"
        )
    )
    var shutdownTimeout: Double = 25

    func validate() throws {
        guard Bounded.duration(seconds: shutdownTimeout) != nil, shutdownTimeout > 0 else {
            throw ValidationError("--shutdown-timeout must be a positive number of seconds, e.g. 25")
        }
    }

    var timeout: Duration { Bounded.duration(seconds: shutdownTimeout) ?? .seconds(25) }

    /// How long cancelled work may take to stop once the shutdown timeout cancelled it.
    static let cancellationGrace: Duration = .seconds(10)

    /// A group that SIGTERM or SIGINT shuts down gracefully, cancelling what still runs after
    /// `--shutdown-timeout`. Run it with ``run(_:)``.
    func group(_ services: [ServiceGroupConfiguration.ServiceConfiguration], logger: Logger) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = timeout
        return ServiceGroup(configuration: configuration)
    }

    /// Runs `group` until it ends. A second SIGTERM or SIGINT while it shuts down cancels what
    /// still runs at once, as a second Ctrl-C is expected to, instead of waiting out
    /// `--shutdown-timeout` (the group itself hears only the first).
    /// - Returns: whether a second signal came and cut the shutdown short.
    static func run(_ group: ServiceGroup) async throws -> Bool {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        return try await withThrowingTaskGroup(of: Bool.self) { tasks in
            tasks.addTask {
                try await group.run()
                return false
            }
            tasks.addTask {
                var heard = 0
                for await _ in signals {
                    heard += 1
                    if heard == 2 { return true }
                }
                // Cancelled when the group ended first: wait no more.
                return false
            }
            defer { tasks.cancelAll() }
            return try await tasks.next() ?? false
        }
    }
}
