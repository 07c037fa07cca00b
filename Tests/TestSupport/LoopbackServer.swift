import Hummingbird
import Logging
import ServiceLifecycle

/// Runs `router` on a loopback port for the duration of `body`, which gets the port; then shuts
/// the server down gracefully (after `beforeShutdown`, which releases requests the test holds).
public func withLoopbackServer<T: Sendable>(
    _ router: Router<BasicRequestContext>,
    label: String,
    beforeShutdown: @Sendable () -> Void = {},
    _ body: @Sendable (Int) async throws -> T
) async throws -> T {
    let (ready, readyContinuation) = AsyncStream.makeStream(of: Int.self)
    let app = Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { readyContinuation.yield($0.localAddress?.port ?? 0) },
        logger: Logger(label: label)
    )
    let group = ServiceGroup(configuration: .init(services: [.init(service: app)], logger: Logger(label: label)))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            defer { readyContinuation.finish() }
            try await group.run()
        }
        var ports = ready.makeAsyncIterator()
        guard let port = await ports.next() else { throw TestSetupError("\(label) did not listen") }
        let result: Result<T, any Error>
        do { result = .success(try await body(port)) } catch { result = .failure(error) }
        beforeShutdown()
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try result.get()
    }
}
