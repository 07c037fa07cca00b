import Logging
import NIOCore
import PostgresNIO

/// A statement sent on a connection PostgreSQL has just closed is never answered by PostgresNIO
/// 1.33.2: its write fails on the closed channel with no promise to fail, and the caller waits
/// forever. Under load a sidecar whose server dropped its sessions wedged this way, every intake
/// slot waiting on a lost statement (docs/hardening.md). Checking `isClosed` first is not enough
/// from another thread: the close can reach the event loop between the check and the write.
/// Starting the statement on the connection's own event loop makes the check and the write one
/// turn of that loop, so the statement is either refused here or answered, even if with an error.
extension PostgresConnection {
    /// Runs `start` (which sends one statement and returns its rows) on this connection's event
    /// loop, or throws ``ConnectionClosedBeforeStart`` without sending anything.
    func startWhileOpen<T>(_ start: () async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(EventLoopTaskExecutor(eventLoop)) {
            guard !isClosed else { throw ConnectionClosedBeforeStart() }
            return try await start()
        }
    }
}

/// Nothing was sent: the connection was closed when the statement was to start.
struct ConnectionClosedBeforeStart: Error {
    /// Tries in all: the pool drops a closed connection as soon as its event loop has seen the
    /// close, so a second lease is almost always an open one. More than the pool holds: a server
    /// that ends every idle session at once (`idle_session_timeout`, a restart) can leave each of
    /// them closed, and with 3 tries a starved test run still failed its migration on the third.
    static let attempts = PostgresStateRegistry.poolSize + 2

    /// `work` (which leases a connection), again while it throws this error, up to ``attempts``.
    /// A server that ended an idle pooled session (`idle_session_timeout`) as the statement was
    /// sent answers with that instead, and it too means the statement never ran: the session was
    /// idle, waiting for it.
    static func retrying<T>(_ work: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await work()
            } catch let error where attempt < attempts && isUnsent(error) {
                attempt += 1
            }
        }
    }

    /// Whether `error` says the statement never ran, so that sending it again cannot do it twice.
    static func isUnsent(_ error: any Error) -> Bool {
        if error is ConnectionClosedBeforeStart { return true }
        return (error as? PSQLError)?.serverInfo?[.sqlState] == idleSessionTimeout
    }

    /// SQLSTATE `idle_session_timeout`: the server ended a session that waited for a statement.
    static let idleSessionTimeout = "57P05"
}

/// An event loop as a task executor, so that nonisolated async code (PostgresNIO's) runs on it.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// A statement's rows, read in full on the connection that ran it, so that the connection can go
/// back to the pool before they are used. Read like PostgresNIO's `PostgresRowSequence`.
struct ReadRows: AsyncSequence, Sendable {
    typealias Element = PostgresRow

    let rows: [PostgresRow]

    struct AsyncIterator: AsyncIteratorProtocol {
        var rows: IndexingIterator<[PostgresRow]>

        mutating func next() async throws -> PostgresRow? { rows.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rows: rows.makeIterator()) }

    func decode<Column: PostgresDecodable>(_: Column.Type) -> AsyncThrowingMapSequence<Self, Column> {
        map { try $0.decode(Column.self) }
    }

    func decode<each Column: PostgresDecodable>(_: (repeat each Column).Type) -> AsyncThrowingMapSequence<Self, (repeat each Column)> {
        map { try $0.decode((repeat each Column).self) }
    }
}

extension PostgresConnection {
    /// Runs `query` started while the connection is open (``startWhileOpen(_:)``) and reads its rows.
    @discardableResult
    func fetch(_ query: PostgresQuery, logger: Logger) async throws -> ReadRows {
        let answer = try await startWhileOpen { try await self.query(query, logger: logger) }
        return ReadRows(rows: try await answer.collect())
    }
}
