import ConnectorRuntime
import Foundation
import Logging
import TestSupport
import Testing

/// A session lock (the poll lock, the drift lock) is released when the server ends its session,
/// and the server ends it when TCP keepalive finds the client gone: the lock's session probes after
/// 60 s idle rather than the operating system's two hours.
@Suite("Postgres session locks", .enabled(if: TestPostgres.enabled))
struct PostgresSessionLockTests {
    @Test("while the poll lock is held, the server side of its session has a keepalive timer of a minute at most")
    func keepaliveOnTheLockSession() async throws {
        let target = try TestPostgres.target()
        guard ["127.0.0.1", "localhost"].contains(target.host) else {
            Issue.record("the server's sockets are read from /proc/net/tcp: run against a cluster on this machine (CI's is)")
            return
        }
        // A database of its own: the poll lock is one per database, and other tests take it.
        let (_, stateURL) = try await TestPostgres.createDatabase(prefix: "capi_keepalive")
        try await withStateRegistry(try StateLocation(parsing: stateURL), logger: Logger(label: "test")) { registry in
            let seen = try await registry.withPollLock {
                // The lock's session is idle while the job runs: its timer is the keepalive.
                var timers: [Double] = []
                for _ in 0..<50 {
                    timers = try Self.keepaliveTimers(serverPort: target.port)
                    if timers.contains(where: { $0 <= 60 }) { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                return timers
            }
            let timers = try #require(seen)
            #expect(timers.contains { $0 <= 60 }, "keepalive timers of the server's sessions, seconds: \(timers)")
        }
    }

    /// Seconds left on each keepalive timer of the server's established IPv4 sockets on `serverPort`
    /// (`/proc/net/tcp`: `tr` 2 is the keepalive timer, `tm->when` in clock ticks of 1/100 s).
    static func keepaliveTimers(serverPort: Int) throws -> [Double] {
        // Read to the end: a /proc file reports no size, and a busy machine's table is many pages.
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/net/tcp"))
        defer { try? file.close() }
        let table = String(decoding: try file.readToEnd() ?? Data(), as: UTF8.self)
        let local = String(format: ":%04X", serverPort)
        return table.split(separator: "\n").dropFirst().compactMap { line -> Double? in
            let fields = line.split(separator: " ")
            guard fields.count > 5, fields[1].hasSuffix(local), fields[3] == "01" else { return nil }
            let timer = fields[5].split(separator: ":")
            guard timer.count == 2, timer[0] == "02", let ticks = Int(timer[1], radix: 16) else { return nil }
            return Double(ticks) / 100
        }
    }
}
