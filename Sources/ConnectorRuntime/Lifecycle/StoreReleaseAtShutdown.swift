import Logging
import ServiceLifecycle

/// When a shutdown begins, lets go of a state store that cannot be reached
/// (``StateRegistry/letGoIfUnreachable()``): the services still stopping then fail their last
/// statements at once instead of waiting on it until the shutdown timeout ends the process.
/// Nothing answered is lost by it: answered events are committed before they are answered.
///
/// Add it after the services that use the store and before ``ShutdownWatchdog``, with
/// `successTerminationBehavior: .ignore`: told of the shutdown before those services, it looks
/// once and returns.
public struct StoreReleaseAtShutdown: Service {
    let registry: any StateRegistry
    let logger: Logger

    public init(registry: any StateRegistry, logger: Logger) {
        self.registry = registry
        self.logger = logger
    }

    public func run() async throws {
        try await gracefulShutdown()
        if await registry.letGoIfUnreachable() {
            logger.warning(
                "the state store cannot be reached as the process stops; what still waits for it fails now (what was committed, answered events included, is kept)"
            )
        }
    }
}
