import GraphSandbox

/// Runs a real ``GraphSandbox`` on a loopback port for the duration of `body`.
public func withSandbox<T: Sendable>(
    _ configuration: GraphSandbox.Configuration = .init(),
    _ body: @Sendable (_ baseURL: String, _ sandbox: GraphSandbox) async throws -> T
) async throws -> T {
    let sandbox = GraphSandbox(configuration: configuration)
    return try await sandbox.withRunning { try await body($0, sandbox) }
}
