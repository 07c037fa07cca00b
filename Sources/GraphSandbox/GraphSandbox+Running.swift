import Logging
import ServiceLifecycle

extension GraphSandbox {
    /// Runs the sandbox for the duration of `body`, which receives its base URL
    /// (`http://127.0.0.1:PORT`), then shuts it down gracefully so requests still in flight finish.
    public func withRunning<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Int.self)
        let service = ReportingService(sandbox: self) { readyContinuation.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                defer { readyContinuation.finish() }
                try await group.run()
            }
            var ports = ready.makeAsyncIterator()
            guard let port = await ports.next() else {
                // The server stopped before listening: its own error (a port in use, …) says why.
                try await tasks.waitForAll()
                throw NotListening(address: Self.hostPort(configuration.host, configuration.port))
            }
            let result: Result<T, any Error>
            let url = "http://\(Self.hostPort(configuration.host, port))"
            do { result = .success(try await body(url)) } catch { result = .failure(error) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
    }

    /// `host:port`, an IPv6 host in brackets (`[::1]:8089`), as URLs and logs need it.
    static func hostPort(_ host: String, _ port: Int) -> String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The stand-in stopped before it listened.
    public struct NotListening: Error, CustomStringConvertible {
        public var address: String
        public var description: String { "the Graph stand-in did not start listening on \(address)" }
    }

    private struct ReportingService: Service {
        let sandbox: GraphSandbox
        let onReady: @Sendable (Int) -> Void

        func run() async throws {
            try await sandbox.run { _, port in onReady(port) }
        }
    }
}
