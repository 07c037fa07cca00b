import Logging
import ServiceLifecycle

/// Opens the registry a `--state` URL names, migrates it, runs `body`, and shuts it down.
///
/// For one-shot commands and tests. Long-running modes put ``PostgresStateRegistry`` in their
/// service group instead; this helper runs the Postgres client beside `body` for them.
public func withStateRegistry<T: Sendable>(
    _ location: StateLocation,
    schema: String? = nil,
    logger: Logger,
    _ body: @Sendable (any StateRegistry) async throws -> T
) async throws -> T {
    switch location {
    case .sqlite(let path):
        let registry = try await SQLiteStateRegistry.open(path: path, logger: logger)
        do {
            try await registry.migrate()
            let result = try await body(registry)
            await registry.close()
            return result
        } catch {
            await registry.close()
            throw error
        }
    case .postgres(let target):
        let registry = PostgresStateRegistry(target: target, schema: schema, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await registry.run() }
            defer { group.cancelAll() }
            try await registry.migrate(within: connectTimeout, describing: location)
            return try await body(registry)
        }
    }
}

/// How long opening a Postgres registry may take before it is reported unreachable.
public let connectTimeout: Duration = .seconds(10)

extension PostgresStateRegistry {
    /// `migrate()`, failing with a clear error instead of waiting forever on an unreachable server
    /// (the pool would keep retrying the connection).
    public func migrate(within limit: Duration, describing location: StateLocation) async throws(StateError) {
        do {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await self.migrate()
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return false
                }
                let finished = try await group.next() ?? false
                group.cancelAll()
                if !finished { throw StateError(.unavailable, "\(location) did not answer within \(limit)") }
            }
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(.unavailable, "\(location): \(error)")
        }
    }
}
