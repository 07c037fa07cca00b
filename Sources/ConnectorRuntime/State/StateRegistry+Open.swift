import Logging
import ServiceLifecycle
import Synchronization

/// A state registry that owns connections: they live while ``Service/run()`` runs, and close when
/// the service group shuts it down (last, since it starts first).
public typealias StateRegistryService = StateRegistry & Service

/// Opens the registry a `--state` URL names, unmigrated; run it as a service.
public func openStateRegistry(_ location: StateLocation, schema: String? = nil, logger: Logger) async throws(StateError) -> any StateRegistryService {
    switch location {
    case .sqlite(let path): try await SQLiteStateRegistry.open(path: path, logger: logger)
    case .postgres(let target): PostgresStateRegistry(target: target, schema: schema, logger: logger)
    }
}

/// Opens the registry a `--state` URL names, migrates it, runs `body`, and shuts it down.
///
/// For one-shot commands and tests; long-running modes put a ``StateService`` in their service group.
public func withStateRegistry<T: Sendable>(
    _ location: StateLocation,
    schema: String? = nil,
    logger: Logger,
    _ body: @Sendable (any StateRegistry) async throws -> T
) async throws -> T {
    let registry = try await openStateRegistry(location, schema: schema, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await registry.run() }
        defer { group.cancelAll() }
        try await registry.migrate(within: connectTimeout, describing: location)
        return try await body(registry)
    }
}

/// How long a store may take to answer its first query before it is reported unreachable.
public let connectTimeout: Duration = .seconds(10)

extension StateRegistry {
    /// `migrate()`, failing with a clear error instead of waiting forever on an unreachable server
    /// (the Postgres pool would keep retrying the connection). The limit bounds reaching the store,
    /// not the migration: a store that answers slowly under load is not unreachable.
    ///
    /// A store that has not answered after a second is asked why with a connection of its own
    /// (``connectionProblem()``), every second: a refusal (no such database, a wrong password) ends
    /// the wait at once with the server's reason. When the limit passes it is asked once more: a
    /// store that now accepts a connection is up, and is waited for up to the limit again, since
    /// the pool only tries again after its backoff (a server that came up at 9 s was reached at
    /// about 11); otherwise the wait ends naming why that connection failed. A store that answers
    /// at once is never asked.
    /// - Parameter logger: where a long-running mode says, once, that the store does not answer
    ///   yet and why; a one-shot command passes none and reports only the outcome.
    public func migrate(within limit: Duration, describing location: StateLocation, logger: Logger? = nil) async throws(StateError) {
        let lastProblem = LastConnectionProblem()
        do {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await self.ping()
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return false
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: .seconds(1))
                        let problem = await self.connectionProblem()
                        // A probe cut short by the end of the wait says nothing about the store.
                        try Task.checkCancellation()
                        switch problem {
                        case .refused(let reason)?: throw StateError(.unavailable, "\(location): \(reason)")
                        case .unreachable(let reason)?:
                            lastProblem.reason.withLock { $0 = reason }
                            if let logger, !lastProblem.said.exchange(true, ordering: .relaxed) {
                                logger.warning(
                                    "the state store does not answer yet; waiting for it",
                                    metadata: ["state": "\(location)", "at_most": "\(limit)", "error": "\(reason)"]
                                )
                            }
                        case nil: lastProblem.reason.withLock { $0 = nil }
                        }
                    }
                }
                var answered = try await group.next() ?? false
                if !answered {
                    // Asked once more now (a refusal comes back at once; silence within 5 s).
                    switch await self.connectionProblem() {
                    case .refused(let reason)?:
                        group.cancelAll()
                        throw StateError(.unavailable, "\(location): \(reason)")
                    case .unreachable(let reason)?: lastProblem.reason.withLock { $0 = reason }
                    case nil:
                        // Up: the pool reaches it at its next attempt.
                        group.addTask {
                            try await Task.sleep(for: limit)
                            return false
                        }
                        guard try await group.next() ?? false else {
                            group.cancelAll()
                            throw StateError(.unavailable, "\(location) accepts connections but did not answer a query within \(limit * 2)")
                        }
                        answered = true
                    }
                }
                group.cancelAll()
                if !answered {
                    let cause = lastProblem.reason.withLock { $0 }.map { " (the last attempt to connect: \($0))" } ?? ""
                    throw StateError(.unavailable, "\(location) did not answer within \(limit)\(cause)")
                }
            }
            try await migrate()
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(.unavailable, "\(location): \(error)")
        }
    }
}

/// The last reason a connection of its own failed, while the pool is waited for.
private final class LastConnectionProblem: Sendable {
    let reason = Mutex<String?>(nil)
    /// Whether the wait was said in the log (once per start).
    let said = Atomic<Bool>(false)
}

/// The registry as the first service of a long-running mode: it runs the connections, applies the
/// migrations, and opens ``migrated`` so the services that use the store may start.
public struct StateService: Service {
    public let registry: any StateRegistryService
    public let location: StateLocation
    /// Open once the store is migrated (and prepared); the HTTP server and the forwarder wait for it.
    public let migrated = StartupGate()
    let prepare: @Sendable (any StateRegistry) async -> Void
    let logger: Logger

    /// - Parameter prepare: runs after the migrations, before the gate opens (schema registration).
    public init(
        registry: any StateRegistryService,
        location: StateLocation,
        logger: Logger = Logger(label: "capi.state"),
        prepare: @escaping @Sendable (any StateRegistry) async -> Void = { _ in }
    ) {
        self.registry = registry
        self.location = location
        self.logger = logger
        self.prepare = prepare
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await registry.run() }
            try await registry.migrate(within: connectTimeout, describing: location, logger: logger)
            await prepare(registry)
            migrated.open()
            try await group.waitForAll()
        }
    }
}
