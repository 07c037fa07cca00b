import ArgumentParser
import CAPICore
import Logging
import ServiceLifecycle

/// `--shutdown-timeout`, for the commands a platform stops with SIGTERM: `serve`, and the
/// scheduled jobs `poll` and `flush`.
struct ShutdownOptions: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            """
            How long a SIGTERM or SIGINT shutdown may finish the work in flight (serve: requests, the \
            batch being sent, the last drift windows; poll: the window being read; flush: the batches \
            being sent) before the rest is cancelled, e.g. when the state store or Meta is gone; 10 s \
            later the process exits even if cancelled work has not stopped (exit status 1). Nothing \
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
    /// `--shutdown-timeout`.
    func group(_ services: [ServiceGroupConfiguration.ServiceConfiguration], logger: Logger) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = timeout
        return ServiceGroup(configuration: configuration)
    }
}
