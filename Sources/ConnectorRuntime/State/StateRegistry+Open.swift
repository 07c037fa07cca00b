import Logging
import ServiceLifecycle

/// Opens the registry a `--state` URL names, migrates it, runs `body`, and shuts it down.
///
/// For one-shot commands and tests. Long-running modes put ``PostgresStateRegistry`` in their
/// service group instead; this helper runs the Postgres client beside `body` for them.
public func withStateRegistry<T: Sendable>(
    _ location: StateLocation, schema: String? = nil, logger: Logger,
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
            try await registry.migrate()
            return try await body(registry)
        }
    }
}
