import CAPICore
import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import _ConnectionPoolModule

/// The state registry on Postgres, through a pooled `PostgresClient`.
///
/// Batch writes go through `UNNEST` (one statement per table per batch), and the statements every
/// event passes through are prepared once per connection (``IntakeStatement`` and its kin); outbox claims use
/// `FOR UPDATE SKIP LOCKED` so replicas never lease the same row; the poll lock is a session
/// advisory lock. Run it as a service (or inside ``withStateRegistry(_:logger:_:)``): the client's
/// `run()` must be alive for queries to proceed.
public struct PostgresStateRegistry: StateRegistry, Service {
    public let backend = "postgres"
    let client: PostgresClient
    let logger: Logger
    /// Schema the tables live in (tests use one per run); `nil` means the search path's default.
    let schema: String?
    /// The per-event statements as named prepared statements (the default) or unnamed ones.
    let preparedStatements: Bool
    /// Where the pool connects, for one connection of its own when the pool does not answer.
    let target: StateLocation.PostgresTarget
    /// The intake commits' connections, held while commits keep coming.
    let intakeLanes: ConnectionLanes
    let poolRelease: PoolRelease
    /// Open once the client's `run()` is being called. The first statement at startup waits for
    /// it: started together, it often came first, and PostgresNIO logged a warning of a lease
    /// before `run()` at every start.
    let poolRunning = StartupGate()
    /// How often a session lock's connection is asked whether it is still there
    /// (``withSessionLock(_:_:unlock:_:)``); tests make it short.
    var sessionLockCheckInterval: Duration = .seconds(10)

    /// Connections the pool keeps at most.
    static let poolSize = 8

    static let migrationLockKey: Int32 = 0x0CA9_1000
    static let pollLockKey: Int64 = 0x0CA9_2000
    static let alarmLockKey: Int32 = 0x0CA9_3000
    static let driftLockKey: Int32 = 0x0CA9_4000

    public init(target: StateLocation.PostgresTarget, schema: String? = nil, logger: Logger) {
        var configuration = target.clientConfiguration(searchPath: schema)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = Self.poolSize
        // The pool logs each failed connection attempt at info, several a second while a server
        // is down or refuses, and the store's outage lines already say it once. At debug and trace
        // its lines stay, for whoever is looking into the connection itself.
        var background = logger
        if background.logLevel == .info { background.logLevel = .notice }
        client = PostgresClient(configuration: configuration, backgroundLogger: background)
        intakeLanes = ConnectionLanes(client: client, count: Self.intakeLaneCount)
        poolRelease = PoolRelease()
        self.logger = logger
        self.schema = schema
        self.preparedStatements = target.preparedStatements
        self.target = target
    }

    /// One connection outside the pool, closed at once. The pool retries a failed connection
    /// without saying why, so a missing database or a wrong password looked like a server that
    /// does not answer; the server's own answer says which.
    public func connectionProblem() async -> StateConnectionProblem? {
        do {
            var configuration = try target.connectionConfiguration()
            configuration.options.connectTimeout = TimeAmount.seconds(5)
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try? await connection.close()
            return nil
        } catch let error as PSQLError {
            return Self.problem(error, tls: target.tls)
        } catch let problem as StateConnectionProblem {
            return problem
        } catch {
            return .unreachable(String(describing: type(of: error)))
        }
    }

    /// A connection failure in words: the server's message (names, never the password) or the
    /// network's.
    static func problem(_ error: PSQLError, tls: StateLocation.TLSMode) -> StateConnectionProblem {
        if let message = error.serverInfo?[.message] {
            let state = error.serverInfo?[.sqlState] ?? ""
            // 28: authorization (role, password, pg_hba); 3D: no such database. Waiting changes neither.
            let definitive = state.hasPrefix("28") || state.hasPrefix("3D")
            return definitive ? .refused("the server refused the connection: \(message)") : .unreachable(message)
        }
        // A certificate that does not verify will not verify on the next attempt either.
        if let refusal = Self.certificateRefusal(error.underlying, tls: tls) { return .refused(refusal) }
        switch error.code {
        case .sslUnsupported: return .refused("the server does not accept TLS, which the URL requires (sslmode)")
        case .authMechanismRequiresPassword: return .refused("the server asks for a password and the URL has none")
        case .unsupportedAuthMechanism: return .refused("the server asks for an authentication method this client does not support")
        default:
            // The network's own error when there is one (refused, unreachable, a name not found);
            // PostgresNIO closes the attempt without one when its connect timeout passes.
            return .unreachable(
                error.underlying.map { String(reflecting: $0) } ?? "the connection closed, or no answer came within 5 s, before the server spoke"
            )
        }
    }

    /// Why the server's certificate was not accepted, when that is what `underlying` says.
    static func certificateRefusal(_ underlying: (any Error)?, tls: StateLocation.TLSMode) -> String? {
        let prefix = "the server's TLS certificate was not accepted (sslmode=\(tls.rawValue)): "
        if underlying is NIOSSLExtraError {
            return prefix + "it names neither the host of the URL nor the address connected to"
        }
        if let error = underlying as? NIOSSLError, case .handshakeFailed = error, String(describing: error).contains("CERTIFICATE_VERIFY_FAILED") {
            return prefix + "it does not chain to a trusted CA; give the CA's certificates with sslrootcert=PATH"
        }
        return nil
    }

    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await intakeLanes.serve() }
            let released = await withTaskGroup(of: Bool.self) { pool in
                pool.addTask {
                    poolRunning.open()
                    await client.run()
                    return false
                }
                pool.addTask { await poolRelease.released() }
                let released = await pool.next() ?? false
                pool.cancelAll()
                return released
            }
            // Let go before its turn to stop: it still stops with the services, not before them.
            if released { try? await gracefulShutdown() }
            group.cancelAll()
        }
    }

    /// The pool stops when ``letGoIfUnreachable()`` finds the server gone: PostgresNIO 1.33.2 has
    /// no limit on waiting for a connection, and while its server is down it retries for a minute
    /// before it fails a request, so a service stopping with a statement to run held the exit
    /// until `--shutdown-timeout` (25 s, exit 1). Stopped, it fails every waiting request at once.
    public func letGoIfUnreachable() async -> Bool {
        guard await connectionProblem() != nil else { return false }
        poolRelease.release()
        return true
    }

    @discardableResult
    func wrap<T>(_ what: String, _ body: () async throws -> T) async throws(StateError) -> T {
        do {
            return try await body()
        } catch {
            throw Self.stateError(error, what: what)
        }
    }

    /// Any failure of `what` as a ``StateError``: the store unreachable, or the statement's own
    /// refusal in the server's words.
    static func stateError(_ error: any Error, what: String) -> StateError {
        switch error {
        case let error as StateError:
            return error
        case let error as PSQLError:
            if error.code == .connectionError || error.code == .serverClosedConnection || error.code == .clientClosedConnection {
                return StateError(.unavailable, "\(what): the Postgres server cannot be reached")
            }
            return StateError(.query, "\(what): \(error.serverInfo?[.message] ?? "\(error.code)")")
        case let error as ConnectionPoolError:
            return StateError(.unavailable, "\(what): \(poolProblem(error))")
        case is ConnectionClosedBeforeStart:
            return StateError(.unavailable, "\(what): the connection to the Postgres server closed before the statement was sent")
        case is CommitUnconfirmed:
            return StateError(
                .unavailable,
                "\(what): the connection to the Postgres server ended before the server confirmed the commit; nothing is taken as stored"
            )
        default:
            return StateError(.unavailable, "\(what): \(String(describing: type(of: error)))")
        }
    }

    /// The connection pool's refusal in words: it fails requests this way once connecting has
    /// failed for a minute, and keeps trying in the background.
    static func poolProblem(_ error: ConnectionPoolError) -> String {
        switch error {
        case .connectionCreationCircuitBreakerTripped:
            "the Postgres server cannot be reached (every attempt to connect has failed for a minute; attempts go on)"
        case .poolShutdown: "the connection pool is shut down (the process is stopping)"
        case .requestCancelled: "cancelled while waiting for a connection"
        default: "the connection pool refused the request"
        }
    }

    // MARK: Migrations

    public func ping() async throws(StateError) {
        try await wrap("ping") {
            try await poolRunning.wait()
            try await fetch("SELECT 1")
        }
    }

    public func migrate() async throws(StateError) {
        try await wrap("migrate") {
            if let schema {
                try await fetch("CREATE SCHEMA IF NOT EXISTS \(unescaped: Self.identifier(schema))")
            }
            try await transaction { connection in
                // Two processes starting at once: the second waits here, then finds nothing to do.
                // Per schema: processes migrating the same tables wait for each other, stores in
                // other schemas of the same database do not.
                try await connection.fetch(
                    "SELECT pg_advisory_xact_lock(\(unescaped: String(Self.migrationLockKey)), hashtext(current_schema()))",
                    logger: logger
                )
                try await connection.fetch(PostgresQuery(unsafeSQL: StateMigrations.bookkeeping), logger: logger)
                let rows = try await connection.fetch("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", logger: logger)
                var current = 0
                for try await version in rows.decode(Int.self) { current = version }
                guard current <= StateMigrations.latestVersion else { throw StateMigrations.newerThanKnown(current) }
                for migration in StateMigrations.versions(.postgres) where migration.version > current {
                    for statement in migration.statements {
                        try await connection.fetch(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.fetch(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (\(migration.version), \(WallClock.system.now().rawValue))",
                        logger: logger
                    )
                }
            }
            for probe in StateMigrations.probes {
                do {
                    try await fetch(PostgresQuery(unsafeSQL: probe.sql))
                } catch let error as PSQLError where error.serverInfo?[.sqlState]?.hasPrefix("42") == true {
                    // Class 42: no such table or column, or no right to read it. Anything else
                    // (a session the server ended, say) is not the table's fault.
                    throw StateMigrations.unusable(probe.table, error.serverInfo?[.message] ?? "\(error.code)")
                }
            }
        }
    }

    /// One of the per-event statements, prepared once per connection or, with
    /// `prepared_statements=off` or for a statement ``PlannedPerExecution``, sent unnamed: the
    /// same SQL and bindings either way. A pooled connection found closed before the statement
    /// starts is given back and another taken: nothing was sent on it.
    func perform<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [Statement.Row] {
        try await onOpenConnection { connection in try await perform(statement, on: connection) }
    }

    /// A statement on a pooled connection, started while the connection is open and its rows read
    /// before the connection goes back (``PostgresConnection/fetch(_:logger:)``). A connection
    /// found closed first is given back and another taken: nothing was sent on it.
    @discardableResult
    func fetch(_ query: PostgresQuery) async throws -> ReadRows {
        try await onOpenConnection { connection in try await connection.fetch(query, logger: logger) }
    }

    /// A statement that changes rows, as ``fetch(_:)``, returning only once the server confirmed
    /// its commit (``PostgresConnection/confirmCommitted(logger:)``).
    @discardableResult
    func write(_ query: PostgresQuery) async throws -> ReadRows {
        try await onOpenConnection { connection in
            let rows = try await connection.fetch(query, logger: logger)
            try await connection.confirmCommitted(logger: logger)
            return rows
        }
    }

    /// `body` in a transaction on one pooled connection, every statement in it started while the
    /// connection is open. A connection found closed at `BEGIN` is given back and another taken;
    /// a close after that fails the transaction, which the server then rolls back.
    func transaction<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await onOpenConnection { connection in
            try await connection.fetch("BEGIN", logger: logger)
            let result: T
            do {
                result = try await body(connection)
            } catch {
                _ = try? await connection.fetch("ROLLBACK", logger: logger)
                throw ConnectionClosedBeforeStart.isUnsent(error) ? Self.closedDuringTransaction : error
            }
            do {
                try await connection.fetch("COMMIT", logger: logger)
            } catch let error where ConnectionClosedBeforeStart.isUnsent(error) {
                throw Self.closedDuringTransaction
            }
            return result
        }
    }

    /// A transaction whose connection closed after `BEGIN` is lost, not unsent: it is not started
    /// again, since its body may have done more than send statements.
    static let closedDuringTransaction = StateError(.unavailable, "the connection to the Postgres server closed during a transaction")

    /// Runs `body` on a pooled connection, again on another if it throws
    /// ``ConnectionClosedBeforeStart`` (which it may only do before it has sent anything).
    func onOpenConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await ConnectionClosedBeforeStart.retrying { try await client.withConnection { connection in try await body(connection) } }
    }

    /// ``perform(_:)`` on a connection the caller holds, started while it is open
    /// (``PostgresConnection/startWhileOpen(_:)``).
    func perform<Statement: PostgresPreparedStatement>(_ statement: Statement, on connection: PostgresConnection) async throws -> [Statement.Row] {
        var rows: [Statement.Row] = []
        if preparedStatements, !(statement is any PlannedPerExecution) {
            let answer = try await connection.startWhileOpen { try await connection.execute(statement, logger: logger) }
            for try await row in answer { rows.append(row) }
        } else {
            let query = PostgresQuery(unsafeSQL: Statement.sql, binds: try statement.makeBindings())
            for row in try await connection.fetch(query, logger: logger).rows { rows.append(try statement.decodeRow(row)) }
        }
        if statement is any ChangesRows { try await connection.confirmCommitted(logger: logger) }
        return rows
    }

    static func identifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    // MARK: Intake

    /// Two: while one intake commit waits for its WAL flush, the next one executes on another
    /// pooled connection. Concurrent intake statements cannot deadlock on shared keys, because
    /// each inserts its rows in key order (``IntakeStatement``). More than two gained nothing
    /// measurable on two cores.
    public var concurrentIntakeCommits: Int { 2 }

    /// Lanes for intake commits: the committer's two, and room for writers of their own (`bench
    /// state` runs four).
    static let intakeLaneCount = 4

    public func commitIntake(_ items: [IntakeItem]) async throws(StateError) -> [IntakeOutcome] {
        guard !items.isEmpty else { return [] }
        return try await wrap("commit intake") {
            try await intakeLanes.run { connection in try await commitIntake(items, on: connection) }
        }
    }

    /// One commit's statements, both on `connection`: the insert, confirmed committed, then the
    /// lookup of the keys it found already stored. Only the insert may throw
    /// ``ConnectionClosedBeforeStart``: once it has run, the commit is not started again.
    private func commitIntake(_ items: [IntakeItem], on connection: PostgresConnection) async throws -> [IntakeOutcome] {
        var inserted = Set<EventKey>()
        for key in try await perform(IntakeStatement(items: items), on: connection) { inserted.insert(key) }
        let plan = IntakePlan(items: items, insertedKeys: inserted)
        var existing: [EventKey: (hash: String, answer: String)] = [:]
        if !plan.lookups.isEmpty {
            let keys = plan.lookups
            let lookup: PostgresQuery = """
                SELECT l.pixel_id, l.event_id, l.event_time, COALESCE(l.content_hash, ''), COALESCE(l.answer, '') FROM delivered_events l
                JOIN UNNEST(\(keys.map(\.pixelID))::text[], \(keys.map(\.eventID))::text[], \(keys.map(\.eventTime.rawValue))::int8[]) AS k(p, e, t)
                  ON l.pixel_id = k.p AND l.event_id = k.e AND l.event_time = k.t
                """
            let found: ReadRows
            do {
                found = try await connection.fetch(lookup, logger: logger)
            } catch let error where ConnectionClosedBeforeStart.isUnsent(error) {
                // Not to be run again whole: the insert is committed.
                throw StateError(.unavailable, "the connection to the Postgres server closed between the insert and its lookup")
            }
            for try await (pixel, id, time, hash, answer) in found.decode((String, String, Int64, String, String).self) {
                existing[EventKey(pixelID: pixel, eventID: id, eventTime: UnixSeconds(time))] = (hash, answer)
            }
        }
        return plan.outcomes(existing: existing)
    }

    // MARK: Outbox

    public func claimOutbox(
        limit: Int,
        owner: String,
        lease: Duration,
        now: UnixMillis,
        dueBy: UnixMillis,
        pixelID: String?
    ) async throws(StateError) -> [OutboxEntry] {
        let now = now.rawValue
        let leaseUntil = Bounded.sum(now, lease.wholeMilliseconds)
        return try await wrap("claim outbox") {
            let claim = ClaimOutboxStatement(
                owner: owner,
                leaseUntil: leaseUntil,
                now: now,
                pixelID: pixelID,
                limit: Int64(limit),
                dueBy: dueBy.rawValue
            )
            return try await perform(claim).sorted { $0.id < $1.id }
        }
    }

    public func markForwarded(_ entries: [OutboxEntry], fbtraceID: String?, now: UnixMillis) async throws(StateError) {
        guard !entries.isEmpty else { return }
        let now = now.rawValue
        try await wrap("mark forwarded") {
            _ = try await perform(MarkForwardedStatement(ids: entries.map(\.id), fbtraceID: fbtraceID, now: now))
        }
    }

    public func reschedule(_ entries: [OutboxEntry], nextAttemptAt: UnixMillis, lastError: String, spendingAttempt: Bool) async throws(StateError) {
        guard !entries.isEmpty else { return }
        let nextAttemptAt = nextAttemptAt.rawValue
        let spent = spendingAttempt ? 1 : 0
        try await wrap("reschedule outbox") {
            try await write(
                """
                UPDATE outbox SET attempts = attempts + \(spent), next_attempt_at = \(nextAttemptAt), lease_owner = NULL, lease_until = NULL, last_error = \(lastError), claims = 0
                WHERE id = ANY(\(entries.map(\.id))::int8[])
                """
            )
        }
    }

    public func extendLease(_ entries: [OutboxEntry], owner: String, until: UnixMillis) async throws(StateError) {
        guard !entries.isEmpty else { return }
        let until = until.rawValue
        try await wrap("extend lease") {
            try await write(
                "UPDATE outbox SET lease_until = \(until) WHERE lease_owner = \(owner) AND id = ANY(\(entries.map(\.id))::int8[])"
            )
        }
    }

    public func deadLetter(_ entries: [OutboxEntry], reason: DeadLetterReason, now: UnixMillis) async throws(StateError) {
        guard !entries.isEmpty else { return }
        let reasonJSON = StateColumns.json(reason)
        let now = now.rawValue
        try await wrap("dead-letter") {
            try await transaction { connection in
                let ids = entries.map(\.id)
                try await connection.fetch(
                    """
                    INSERT INTO dead_letters (pixel_id, event_id, event_time, payload, error_class, code, subcode, message, fbtrace_id, attempts, created_at, expires_at,
                      test_event_code)
                    SELECT pixel_id, event_id, event_time, payload, \(reason.errorClass.rawValue), \(reason.code), \(reason.subcode), \(reason.message), \(reason.fbtraceID), attempts + 1, \(now), expires_at,
                      test_event_code
                    FROM outbox WHERE id = ANY(\(ids)::int8[]) ORDER BY id
                    """,
                    logger: logger
                )
                try await connection.fetch("DELETE FROM outbox WHERE id = ANY(\(ids)::int8[])", logger: logger)
                try await connection.fetch(
                    """
                    UPDATE delivered_events d SET outcome = \(DeliveryOutcome.deadLettered.rawValue), fbtrace_id = \(reason.fbtraceID), dead_letter_reason = \(reasonJSON), updated_at = \(now)
                    FROM UNNEST(\(entries.map(\.key.pixelID))::text[], \(entries.map(\.key.eventID))::text[], \(entries.map(\.key.eventTime.rawValue))::int8[]) AS k(p, e, t)
                    WHERE d.pixel_id = k.p AND d.event_id = k.e AND d.event_time = k.t
                    """,
                    logger: logger
                )
            }
        }
    }

    public func outboxDepth() async throws(StateError) -> Int {
        try await scalar("outbox depth", "SELECT COUNT(*) FROM outbox")
    }

    /// Bytes of write-ahead log the server has written since it was created: the difference over
    /// a stretch of work is what that work cost PostgreSQL in WAL, a figure that, unlike a rate,
    /// does not move with the machine's load (`bench ingest` prints it per event).
    public func writeAheadLogPosition() async throws(StateError) -> Int {
        try await scalar("read the WAL position", "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::int8")
    }

    /// Files in the server's WAL directory (listing it takes a superuser or `pg_monitor`). A file
    /// added during a stretch of work was created then: until checkpoints recycle old files, as on
    /// a fresh cluster, each new file is written in full (16 MB of zeros by default) by the
    /// commit that first needs it, and every commit queued behind that one waits too. `bench
    /// ingest` prints the count beside the tail it explains.
    public func writeAheadLogFileCount() async throws(StateError) -> Int {
        try await scalar("count the WAL files", "SELECT COUNT(*) FROM pg_ls_waldir()")
    }

    /// Has the server create about `bytes` of WAL files now, as a server that has been running has
    /// them, so that work measured next reuses files instead of writing each new one in full first.
    ///
    /// Writes `bytes` into a throwaway table (`capi_bench_wal_warmup`), drops it and runs
    /// `CHECKPOINT`, after which PostgreSQL keeps the old files for reuse (up to `max_wal_size`).
    /// No server setting changes. Needs a superuser or `pg_checkpoint`; `bench … --prepare-wal`.
    public func prepareWriteAheadLogFiles(bytes: Int) async throws(StateError) {
        // Rows of 1,000 bytes, stored as they are (TOAST compresses only values over 2 KB); each
        // statement commits on its own, so the rows are logged whatever `wal_level` is.
        let rows = max(1, bytes / 1_000)
        try await wrap("prepare WAL files") {
            try await fetch("DROP TABLE IF EXISTS capi_bench_wal_warmup")
            try await fetch("CREATE TABLE capi_bench_wal_warmup (pad TEXT NOT NULL)")
            try await fetch(
                "INSERT INTO capi_bench_wal_warmup SELECT repeat('x', 1000) FROM generate_series(1, \(unescaped: String(rows)))"
            )
            try await fetch("DROP TABLE capi_bench_wal_warmup")
            try await fetch("CHECKPOINT")
        }
    }

    public func deadLetterCount() async throws(StateError) -> Int {
        try await scalar("count dead letters", "SELECT COUNT(*) FROM dead_letters")
    }

    public func oldestDueOutboxAge(now: UnixMillis) async throws(StateError) -> Duration? {
        let now = now.rawValue
        return try await wrap("outbox age") {
            let rows = try await fetch("SELECT MIN(next_attempt_at) FROM outbox WHERE next_attempt_at <= \(now)")
            for try await oldest in rows.decode(Int64?.self) { return oldest.map { .milliseconds(Bounded.difference(now, $0)) } }
            return nil
        }
    }

    /// The first column of the first row, 0 if none; a statement that `changesRows` returns it
    /// only once its commit is confirmed (``write(_:)``).
    func scalar(_ what: String, _ query: PostgresQuery, changesRows: Bool = false) async throws(StateError) -> Int {
        try await wrap(what) {
            let rows = changesRows ? try await write(query) : try await fetch(query)
            for try await value in rows.decode(Int.self) { return value }
            return 0
        }
    }

    // MARK: Dead letters

    /// `head dead_letters WHERE <selection> tail`: each filter a bound array, `NULL` for any.
    static func onDeadLetters(_ head: String, _ selection: DeadLetterSelection, _ tail: String) -> PostgresQuery {
        let (ids, classes, pixels) = (selection.ids, selection.classes?.map(\.rawValue), selection.pixelIDs)
        return """
            \(unescaped: head) dead_letters WHERE (\(ids)::int8[] IS NULL OR id = ANY(\(ids)::int8[]))
              AND (\(classes)::text[] IS NULL OR error_class = ANY(\(classes)::text[]))
              AND (\(pixels)::text[] IS NULL OR pixel_id = ANY(\(pixels)::text[])) \(unescaped: tail)
            """
    }

    public func deadLetterCount(_ selection: DeadLetterSelection) async throws(StateError) -> Int {
        try await wrap("count dead letters") {
            let rows = try await fetch(Self.onDeadLetters("SELECT COUNT(*) FROM", selection, ""))
            for try await count in rows.decode(Int.self) { return count }
            return 0
        }
    }

    public func deadLetters(_ selection: DeadLetterSelection, limit: Int) async throws(StateError) -> [DeadLetter] {
        try await wrap("list dead letters") {
            let rows = try await fetch(
                Self.onDeadLetters(
                    "SELECT id, pixel_id, event_id, event_time, error_class, code, subcode, message, fbtrace_id, attempts, created_at, test_event_code FROM",
                    selection,
                    "ORDER BY id LIMIT \(limit)"
                )
            )
            var letters: [DeadLetter] = []
            for try await (id, pixel, event, time, errorClass, code, subcode, message, trace, attempts, created, testEventCode) in rows.decode(
                (Int64, String, String, Int64, String, Int?, Int?, String, String?, Int, Int64, String?).self
            ) {
                letters.append(
                    DeadLetter(
                        id: id,
                        key: EventKey(pixelID: pixel, eventID: event, eventTime: UnixSeconds(time)),
                        reason: DeadLetterReason(
                            errorClass: try StateColumns.value(errorClass, column: "error_class", as: DeadLetterClass.self),
                            code: code,
                            subcode: subcode,
                            message: message,
                            fbtraceID: trace
                        ),
                        attempts: attempts,
                        createdAt: UnixMillis(created),
                        testEventCode: testEventCode
                    )
                )
            }
            return letters
        }
    }

    public func replayDeadLetters(
        _ selection: DeadLetterSelection,
        now: UnixMillis,
        progress: @Sendable (Int) -> Void
    ) async throws(StateError) -> Int {
        // The tail's values are the clock and a constant, written in.
        let now = now.rawValue
        return try await wrap("replay dead letters") {
            try await transaction { connection in
                let rows = try await connection.fetch(
                    Self.onDeadLetters(
                        "WITH moved AS (DELETE FROM",
                        selection,
                        """
                        RETURNING pixel_id, event_id, event_time, payload, created_at, expires_at, test_event_code),
                        queued AS (INSERT INTO outbox (pixel_id, event_id, event_time, payload, attempts, next_attempt_at, created_at, expires_at, test_event_code)
                          SELECT pixel_id, event_id, event_time, payload, 0, \(now), created_at, expires_at, test_event_code FROM moved RETURNING pixel_id, event_id, event_time),
                        recorded AS (UPDATE delivered_events d SET outcome = '\(DeliveryOutcome.pending.rawValue)', dead_letter_reason = NULL, updated_at = \(now)
                          FROM queued q WHERE d.pixel_id = q.pixel_id AND d.event_id = q.event_id AND d.event_time = q.event_time)
                        SELECT COUNT(*) FROM queued
                        """
                    ),
                    logger: logger
                )
                // Rows moved back to the outbox (as on SQLite), whether or not they have a stream record.
                var count = 0
                for try await moved in rows.decode(Int.self) { count = moved }
                return count
            }
        }
    }

    public func purgeDeadLetters(_ selection: DeadLetterSelection, progress: @Sendable (Int) -> Void) async throws(StateError) -> Int {
        try await wrap("purge dead letters") {
            // Counted by the server: a purge of millions of rows returns one.
            let rows = try await write(Self.onDeadLetters("WITH purged AS (DELETE FROM", selection, "RETURNING id) SELECT COUNT(*) FROM purged"))
            for try await count in rows.decode(Int.self) { return count }
            return 0
        }
    }

    // MARK: Pull

    public func cursor(_ key: CursorKey) async throws(StateError) -> CursorValue? {
        try await wrap("read cursor") {
            let rows = try await fetch(
                """
                SELECT position, run_id, updated_at FROM cursors WHERE connector = \(key.connector) AND stream = \(key.stream) AND partition = \(key.partition)
                """
            )
            for try await (position, run, updated) in rows.decode((Int64, String, Int64).self) {
                return CursorValue(position: UnixSeconds(position), runID: run, updatedAt: UnixMillis(updated))
            }
            return nil
        }
    }

    public func writeWindow(
        _ records: [DeliveryStatusRecord],
        replacing window: Range<UnixSeconds>,
        cursor: CursorKey,
        position: UnixSeconds,
        runID: String,
        now: UnixMillis
    ) async throws(StateError) {
        let (from, until, position, now) = (window.lowerBound.rawValue, window.upperBound.rawValue, position.rawValue, now.rawValue)
        try await wrap("commit window") {
            try await transaction { connection in
                try await connection.fetch(
                    """
                    DELETE FROM delivery_statuses WHERE pixel_id = \(cursor.partition) AND bucket_start >= \(from) AND bucket_start < \(until)
                    """,
                    logger: logger
                )
                if !records.isEmpty {
                    try await connection.fetch(
                        """
                        INSERT INTO delivery_statuses (pixel_id, bucket_start, event_name, event_source, count, pulled_at, run_id)
                        SELECT p, b, n, s, c, \(now), \(runID) FROM UNNEST(\(records.map(\.pixelID))::text[], \(records.map(\.bucketStart.rawValue))::int8[],
                          \(records.map(\.eventName))::text[], \(records.map(\.eventSource))::text[], \(records.map(\.count))::int8[]) AS u(p, b, n, s, c)
                        ON CONFLICT (pixel_id, bucket_start, event_name, event_source)
                        DO UPDATE SET count = EXCLUDED.count, pulled_at = EXCLUDED.pulled_at, run_id = EXCLUDED.run_id
                        """,
                        logger: logger
                    )
                }
                try await Self.moveCursor(cursor, to: position, runID: runID, now: now, on: connection, logger: logger)
            }
        }
    }

    public func writeInsightsWindow(
        _ records: [AdInsightsRecord],
        account: String,
        level: String,
        days: ClosedRange<CalendarDate>,
        cursor: CursorKey,
        position: UnixSeconds,
        runID: String,
        now: UnixMillis
    ) async throws(StateError) {
        let (first, last, position, now) = (days.lowerBound.description, days.upperBound.description, position.rawValue, now.rawValue)
        try await wrap("commit insights window") {
            try await transaction { connection in
                try await connection.fetch(
                    "DELETE FROM ad_insights WHERE account_id = \(account) AND level = \(level) AND day >= \(first) AND day <= \(last)",
                    logger: logger
                )
                if !records.isEmpty {
                    try await connection.fetch(
                        """
                        INSERT INTO ad_insights (account_id, level, level_id, day, record, pulled_at, run_id)
                        SELECT a, l, i, d, r, \(now), \(runID) FROM UNNEST(\(records.map(\.accountID))::text[], \(records.map(\.level))::text[],
                          \(records.map(\.levelID))::text[], \(records.map(\.day.description))::text[], \(records.map { StateColumns.encoded($0) })::text[])
                          AS u(a, l, i, d, r)
                        ON CONFLICT (account_id, level, level_id, day)
                        DO UPDATE SET record = EXCLUDED.record, pulled_at = EXCLUDED.pulled_at, run_id = EXCLUDED.run_id
                        """,
                        logger: logger
                    )
                }
                try await Self.moveCursor(cursor, to: position, runID: runID, now: now, on: connection, logger: logger)
            }
        }
    }

    /// Sets a cursor inside the caller's transaction (a window's records and its cursor commit together).
    private static func moveCursor(
        _ cursor: CursorKey,
        to position: Int64,
        runID: String,
        now: Int64,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.fetch(
            """
            INSERT INTO cursors (connector, stream, partition, position, run_id, updated_at)
            VALUES (\(cursor.connector), \(cursor.stream), \(cursor.partition), \(position), \(runID), \(now))
            ON CONFLICT (connector, stream, partition) DO UPDATE SET position = EXCLUDED.position, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at
            """,
            logger: logger
        )
    }

    public func commitMatchQuality(_ records: [MatchQualityRecord], snapshotAt: UnixMillis, runID: String) async throws(StateError) {
        guard !records.isEmpty else { return }
        let snapshotAt = snapshotAt.rawValue
        try await wrap("commit match quality") {
            try await write(
                """
                INSERT INTO match_quality (pixel_id, event_name, snapshot_at, record, run_id)
                SELECT p, n, \(snapshotAt), r, \(runID) FROM UNNEST(\(records.map(\.pixelID))::text[], \(records.map(\.eventName))::text[], \(records.map(\.record.serialized))::text[]) AS u(p, n, r)
                ON CONFLICT (pixel_id, event_name, snapshot_at) DO UPDATE SET record = EXCLUDED.record, run_id = EXCLUDED.run_id
                """
            )
        }
    }

    // MARK: Replay ledger

    public func recordDelivery(key: String, bodyDigest: String, expiresAt: UnixSeconds, now: UnixSeconds) async throws(StateError) -> String {
        var binds = PostgresBindings()
        binds.append(key)
        binds.append(bodyDigest)
        binds.append(expiresAt.rawValue)
        binds.append(now.rawValue)
        let query = PostgresQuery(unsafeSQL: ReplaySQL.record, binds: binds)
        return try await wrap("record webhook delivery") {
            for try await digest in try await write(query).decode(String.self) { return digest }
            throw StateError(.query, "record webhook delivery: no row came back")
        }
    }

    public func purgeExpiredDeliveries(now: UnixSeconds) async throws(StateError) -> Int {
        try await scalar(
            "purge webhook deliveries",
            "WITH gone AS (DELETE FROM webhook_deliveries WHERE expires_at <= \(now.rawValue) RETURNING 1) SELECT COUNT(*)::int8 FROM gone",
            changesRows: true
        )
    }

    public func recordRun(_ run: RunRecord) async throws(StateError) {
        try await wrap("record run") {
            try await write(
                """
                INSERT INTO runs (run_id, mode, started_at, ended_at, status, counts, error_class)
                VALUES (\(run.runID), \(run.mode.rawValue), \(run.startedAt.rawValue), \(run.endedAt?.rawValue), \(run.status.rawValue), \(run.counts), \(run.errorClass?.rawValue))
                ON CONFLICT (run_id) DO UPDATE SET ended_at = EXCLUDED.ended_at, status = EXCLUDED.status, counts = EXCLUDED.counts, error_class = EXCLUDED.error_class
                """
            )
        }
    }

    public func interruptUnfinishedRuns(mode: RunMode) async throws(StateError) -> Int {
        try await scalar(
            "mark unfinished runs",
            """
            WITH marked AS (
                UPDATE runs SET status = \(RunStatus.interrupted.rawValue) WHERE mode = \(mode.rawValue) AND status = \(RunStatus.running.rawValue) RETURNING 1
            ) SELECT COUNT(*)::int8 FROM marked
            """,
            changesRows: true
        )
    }

    public func recentRuns(limit: Int) async throws(StateError) -> [RunRecord] {
        try await wrap("list runs") {
            let rows = try await fetch(
                """
                SELECT run_id, mode, started_at, ended_at, status, counts, error_class FROM runs ORDER BY started_at DESC, run_id DESC LIMIT \(limit)
                """
            )
            var runs: [RunRecord] = []
            for try await (id, mode, started, ended, status, counts, errorClass) in rows.decode(
                (String, String, Int64, Int64?, String, String, String?).self
            ) {
                runs.append(
                    RunRecord(
                        runID: id,
                        mode: try StateColumns.value(mode, column: "mode", as: RunMode.self),
                        startedAt: UnixMillis(started),
                        endedAt: ended.map { UnixMillis($0) },
                        status: try StateColumns.value(status, column: "status", as: RunStatus.self),
                        counts: counts,
                        errorClass: try errorClass.map { raw throws(StateError) in
                            try StateColumns.value(raw, column: "error_class", as: RunErrorClass.self)
                        }
                    )
                )
            }
            return runs
        }
    }

    public func withPollLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T? {
        try await withSessionLock(
            "poll lock",
            "SELECT pg_try_advisory_lock(\(Self.pollLockKey))",
            unlock: "SELECT pg_advisory_unlock(\(Self.pollLockKey))",
            body
        )
    }

    // MARK: Streams and operations

    public func deliveredEvents(
        since: UnixMillis?,
        after position: DeliveredEventPosition?,
        limit: Int
    ) async throws(StateError) -> [DeliveredEvent] {
        // No position: a key before every key (received_at is never negative). The index on
        // received_at starts each page at the last one's receipt time, not at `since` again.
        let (received, pixel, event, time) =
            position.map { ($0.receivedAt.rawValue, $0.key.pixelID, $0.key.eventID, $0.key.eventTime.rawValue) } ?? (-1, "", "", 0)
        let since = max(since?.rawValue ?? 0, received)
        return try await wrap("read delivered_events") {
            let rows = try await fetch(
                """
                SELECT pixel_id, event_id, event_time, received_at, outcome, record, fbtrace_id, dead_letter_reason FROM delivered_events
                WHERE received_at >= \(since) AND (received_at, pixel_id, event_id, event_time) > (\(received), \(pixel), \(event), \(time))
                ORDER BY received_at, pixel_id, event_id, event_time LIMIT \(limit)
                """
            )
            var events: [DeliveredEvent] = []
            for try await (pixel, id, time, received, outcome, record, trace, reason) in rows.decode(
                (String, String, Int64, Int64, String, String, String?, String?).self
            ) {
                events.append(
                    DeliveredEvent(
                        key: EventKey(pixelID: pixel, eventID: id, eventTime: UnixSeconds(time)),
                        receivedAt: UnixMillis(received),
                        outcome: try StateColumns.value(outcome, column: "outcome", as: DeliveryOutcome.self),
                        record: record,
                        fbtraceID: trace,
                        deadLetterReason: try StateColumns.deadLetterReason(reason)
                    )
                )
            }
            return events
        }
    }

    public func deliveryStatuses(since: UnixMillis?, buckets: Range<UnixSeconds>?) async throws(StateError) -> [StoredDeliveryStatus] {
        let since = since?.rawValue ?? 0
        let (from, until) = (buckets?.lowerBound.rawValue ?? .min, buckets?.upperBound.rawValue ?? .max)
        return try await wrap("read delivery_statuses") {
            let rows = try await fetch(
                """
                SELECT pixel_id, bucket_start, event_name, event_source, count, pulled_at, run_id FROM delivery_statuses
                WHERE pulled_at >= \(since) AND bucket_start >= \(from) AND bucket_start < \(until)
                ORDER BY pixel_id, bucket_start, event_name, event_source
                """
            )
            return try await Self.deliveryStatuses(rows)
        }
    }

    /// Rows of `pixel_id, bucket_start, event_name, event_source, count, pulled_at, run_id`.
    static func deliveryStatuses(_ rows: ReadRows) async throws -> [StoredDeliveryStatus] {
        var statuses: [StoredDeliveryStatus] = []
        for try await (pixel, bucket, name, source, count, pulled, run) in rows.decode((String, Int64, String, String, Int64, Int64, String).self) {
            statuses.append(
                StoredDeliveryStatus(
                    status: DeliveryStatusRecord(
                        pixelID: pixel,
                        bucketStart: UnixSeconds(bucket),
                        eventName: name,
                        eventSource: source,
                        count: count
                    ),
                    pulledAt: UnixMillis(pulled),
                    runID: run
                )
            )
        }
        return statuses
    }

    public func adInsights(since: UnixMillis?, days: ClosedRange<CalendarDate>?) async throws(StateError) -> [StoredAdInsights] {
        let since = since?.rawValue ?? 0
        let (everyDay, first, last) = (days == nil, days?.lowerBound.description ?? "", days?.upperBound.description ?? "")
        return try await wrap("read ad_insights") {
            let rows = try await fetch(
                """
                SELECT record, pulled_at, run_id FROM ad_insights WHERE pulled_at >= \(since)
                  AND (\(everyDay) OR day BETWEEN \(first) AND \(last)
                       OR (account_id, day) IN (SELECT account_id, MAX(day) FROM ad_insights GROUP BY account_id))
                ORDER BY account_id, level, day, level_id
                """
            )
            return try await Self.adInsights(rows)
        }
    }

    /// Rows of `record, pulled_at, run_id`.
    static func adInsights(_ rows: ReadRows) async throws -> [StoredAdInsights] {
        var stored: [StoredAdInsights] = []
        for try await (record, pulledAt, run) in rows.decode((String, Int64, String).self) {
            stored.append(
                StoredAdInsights(
                    insights: try StateColumns.decoded(record, column: "record", as: AdInsightsRecord.self),
                    pulledAt: UnixMillis(pulledAt),
                    runID: run
                )
            )
        }
        return stored
    }

    public func pulledStreamPage(
        _ stream: PulledStream,
        since: UnixMillis?,
        after position: PulledStreamPosition?,
        limit: Int
    ) async throws(StateError) -> StreamRecords {
        let keys = stream.keyColumns.joined(separator: ", ")
        var bindings = PostgresBindings(capacity: 6)
        bindings.append(since?.rawValue ?? 0)
        var after = ""
        if let position {
            after = " AND (\(keys)) > (\(position.values.indices.map { "$\($0 + 2)" }.joined(separator: ", ")))"
            for value in position.values {
                switch value {
                case .text(let text): bindings.append(text)
                case .integer(let integer): bindings.append(integer)
                }
            }
        }
        bindings.append(Int64(limit))
        let sql =
            "SELECT \(stream.readColumns) FROM \(stream.rawValue) WHERE \(stream.writtenColumn) >= $1\(after) ORDER BY \(keys) LIMIT $\(bindings.count)"
        return try await wrap("read \(stream.rawValue)") {
            let rows = try await fetch(PostgresQuery(unsafeSQL: sql, binds: bindings))
            return switch stream {
            case .deliveryStatuses: .deliveryStatuses(try await Self.deliveryStatuses(rows))
            case .matchQuality: .matchQuality(try await Self.matchQualitySnapshots(rows))
            case .adInsights: .adInsights(try await Self.adInsights(rows))
            }
        }
    }

    public func matchQualitySnapshots(since: UnixMillis?) async throws(StateError) -> [StoredMatchQuality] {
        let since = since?.rawValue ?? 0
        return try await wrap("read match_quality") {
            let rows = try await fetch(
                """
                SELECT pixel_id, event_name, snapshot_at, record, run_id FROM match_quality
                WHERE snapshot_at >= \(since) ORDER BY snapshot_at, pixel_id, event_name
                """
            )
            return try await Self.matchQualitySnapshots(rows)
        }
    }

    /// Rows of `pixel_id, event_name, snapshot_at, record, run_id`.
    static func matchQualitySnapshots(_ rows: ReadRows) async throws -> [StoredMatchQuality] {
        var snapshots: [StoredMatchQuality] = []
        for try await (pixel, name, snapshot, record, run) in rows.decode((String, String, Int64, String, String).self) {
            snapshots.append(
                StoredMatchQuality(
                    quality: MatchQualityRecord(pixelID: pixel, eventName: name, record: try StateColumns.jsonColumn(record, column: "record")),
                    snapshotAt: UnixMillis(snapshot),
                    runID: run
                )
            )
        }
        return snapshots
    }

    public func storage(perTable: Bool) async throws(StateError) -> StoreStorage {
        let database = try await scalar("measure the database", "SELECT pg_database_size(current_database())::int8")
        guard perTable else { return StoreStorage(bytes: Int64(database), tables: nil) }
        let names = StoreStorage.tableNames
        let tables: [StoreStorage.TableBytes] = try await wrap("measure tables") {
            // Resolved through the search path, as every statement of the connector is.
            let rows = try await fetch(
                "SELECT name, COALESCE(pg_total_relation_size(to_regclass(name)), 0)::int8 FROM unnest(\(names)::text[]) AS name"
            )
            var result: [StoreStorage.TableBytes] = []
            for try await (name, bytes) in rows.decode((String, Int64).self) { result.append(.init(name: name, bytes: bytes)) }
            return result
        }
        return StoreStorage(bytes: Int64(database), tables: tables)
    }

    public func summary() async throws(StateError) -> StateSummary {
        let cursors: [(CursorKey, CursorValue)] = try await wrap("read cursors") {
            let rows = try await fetch(
                "SELECT connector, stream, partition, position, run_id, updated_at FROM cursors ORDER BY connector, stream, partition"
            )
            var result: [(CursorKey, CursorValue)] = []
            for try await (connector, stream, partition, position, run, updated) in rows.decode((String, String, String, Int64, String, Int64).self) {
                result.append(
                    (
                        CursorKey(connector: connector, stream: stream, partition: partition),
                        CursorValue(position: UnixSeconds(position), runID: run, updatedAt: UnixMillis(updated))
                    )
                )
            }
            return result
        }
        let outbox: [OutboxPixelSummary] = try await wrap("summarize outbox") {
            let rows = try await fetch(PostgresQuery(unsafeSQL: OutboxPixelSummary.query))
            var result: [OutboxPixelSummary] = []
            for try await (pixel, queued, retrying, oldest, next, lastError) in rows.decode((String, Int, Int, Int64, Int64, String?).self) {
                result.append(
                    OutboxPixelSummary(
                        pixelID: pixel,
                        queued: queued,
                        retrying: retrying,
                        oldestQueuedAt: UnixMillis(oldest),
                        nextAttemptAt: UnixMillis(next),
                        lastError: lastError
                    )
                )
            }
            return result
        }
        return StateSummary(
            cursors: cursors,
            recentRuns: try await recentRuns(limit: 10),
            outboxDepth: try await outboxDepth(),
            outbox: outbox,
            deadLetters: try await deadLetterCount(),
            schemaVersion: try await scalar("schema version", "SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        )
    }

    /// PostgreSQL's autovacuum makes deleted rows' space reusable; giving it back to the file
    /// system takes `VACUUM FULL`, which locks each table out while it rewrites it: an operator's
    /// call, not this connector's.
    public func releaseFreedSpace(progress: @Sendable (Int64) -> Void) async throws(StateError) -> StoreFileSpace? { nil }

    public func rewriteCompactly() async throws(StateError) -> StoreFileSpace? { nil }

    public func prune(_ prune: StreamPrune, delete: Bool, progress: @Sendable (Int) -> Void) async throws(StateError) -> Int {
        let (condition, values) = prune.condition
        let table = prune.stream.rawValue
        // `?` in the shared condition becomes `$1`, `$2`, … in order.
        var numbered = ""
        var placeholder = 0
        for character in condition {
            if character == "?" {
                placeholder += 1
                numbered += "$\(placeholder)"
            } else {
                numbered.append(character)
            }
        }
        var bindings = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .text(let text): bindings.append(text)
            case .integer(let integer): bindings.append(integer)
            }
        }
        let (sql, bound) = (numbered, bindings)
        return try await wrap(delete ? "prune \(table)" : "count \(table) to prune") {
            guard delete else {
                let rows = try await fetch(
                    PostgresQuery(unsafeSQL: "SELECT COUNT(*) FROM \(table) WHERE \(sql)", binds: bound)
                )
                for try await count in rows.decode(Int64.self) { return Int(count) }
                return 0
            }
            var deleted = 0
            while true {
                let rows = try await write(
                    PostgresQuery(
                        unsafeSQL: "DELETE FROM \(table) WHERE ctid IN (SELECT ctid FROM \(table) WHERE \(sql) LIMIT \(Self.pruneBatch)) RETURNING 1",
                        binds: bound
                    )
                )
                var batch = 0
                for try await _ in rows { batch += 1 }
                deleted += batch
                if batch < Self.pruneBatch { return deleted }
                progress(deleted)
            }
        }
    }

    static let pruneBatch = 10_000

    public func resetCursor(stream: String, partition: String?) async throws(StateError) -> Int {
        try await wrap("reset cursor") {
            let rows = try await write(
                "DELETE FROM cursors WHERE stream = \(stream) AND (\(partition)::text IS NULL OR partition = \(partition)) RETURNING partition"
            )
            var count = 0
            for try await _ in rows { count += 1 }
            return count
        }
    }

    @discardableResult
    public func raiseAlarm(_ subject: AlarmSubject, severity: AlarmSeverity, message: String, now: UnixMillis) async throws(StateError) -> Bool {
        let now = now.rawValue
        return try await wrap("raise alarm") {
            try await transaction { connection in
                // Replicas raising the same alarm take turns, so one subject has one active alarm.
                try await connection.fetch("SELECT pg_advisory_xact_lock(\(Self.alarmLockKey), hashtext(\(subject.kind)))", logger: logger)
                let seen = try await connection.fetch(
                    """
                    UPDATE alarms SET last_seen = \(now), occurrences = occurrences + 1, message = \(message)
                    WHERE kind = \(subject.kind) AND pixel_id IS NOT DISTINCT FROM \(subject.pixelID)::text
                      AND stream IS NOT DISTINCT FROM \(subject.stream)::text AND event_name IS NOT DISTINCT FROM \(subject.eventName)::text
                      AND field IS NOT DISTINCT FROM \(subject.field)::text AND cleared_at IS NULL
                    RETURNING id
                    """,
                    logger: logger
                )
                for try await _ in seen { return false }
                try await connection.fetch(
                    """
                    INSERT INTO alarms (kind, pixel_id, stream, event_name, field, severity, message, raised_at, last_seen, occurrences)
                    VALUES (\(subject.kind), \(subject.pixelID), \(subject.stream), \(subject.eventName), \(subject.field), \(severity.rawValue),
                            \(message), \(now), \(now), 1)
                    """,
                    logger: logger
                )
                return true
            }
        }
    }

    @discardableResult
    public func clearAlarms(_ subject: AlarmSubject, now: UnixMillis) async throws(StateError) -> Int {
        let now = now.rawValue
        return try await wrap("clear alarms") {
            let rows = try await write(
                """
                UPDATE alarms SET cleared_at = \(now)
                WHERE kind = \(subject.kind) AND pixel_id IS NOT DISTINCT FROM \(subject.pixelID)::text
                  AND stream IS NOT DISTINCT FROM \(subject.stream)::text AND event_name IS NOT DISTINCT FROM \(subject.eventName)::text
                  AND field IS NOT DISTINCT FROM \(subject.field)::text AND cleared_at IS NULL
                RETURNING id
                """
            )
            var count = 0
            for try await _ in rows { count += 1 }
            return count
        }
    }

    public func alarms(activeOnly: Bool) async throws(StateError) -> [AlarmRecord] {
        try await wrap("list alarms") {
            let rows = try await fetch(
                """
                SELECT id, kind, pixel_id, stream, event_name, field, severity, message, raised_at, last_seen, occurrences, cleared_at FROM alarms
                WHERE NOT \(activeOnly) OR cleared_at IS NULL ORDER BY raised_at, id
                """
            )
            var alarms: [AlarmRecord] = []
            for try await (id, kind, pixel, stream, event, field, severity, message, raised, seen, occurrences, cleared) in rows.decode(
                (Int64, String, String?, String?, String?, String?, String, String, Int64, Int64, Int, Int64?).self
            ) {
                alarms.append(
                    AlarmRecord(
                        id: id,
                        subject: AlarmSubject(kind: kind, pixelID: pixel, stream: stream, eventName: event, field: field),
                        severity: try StateColumns.value(severity, column: "severity", as: AlarmSeverity.self),
                        message: message,
                        raisedAt: UnixMillis(raised),
                        lastSeen: UnixMillis(seen),
                        occurrences: occurrences,
                        clearedAt: cleared.map { UnixMillis($0) }
                    )
                )
            }
            return alarms
        }
    }

    // MARK: Drift

    public func appendDriftWindows(_ windows: [(key: DriftKey, counters: DriftCounters)], closedAt: UnixMillis) async throws(StateError) {
        guard !windows.isEmpty else { return }
        try await wrap("record drift windows") {
            try await write(
                """
                INSERT INTO drift_windows (stream, pixel_id, event_name, closed_at, counters)
                SELECT s, p, e, \(closedAt.rawValue), c FROM UNNEST(\(windows.map(\.key.stream))::text[], \(windows.map(\.key.pixelID))::text[],
                  \(windows.map(\.key.eventName))::text[], \(windows.map { StateColumns.encoded($0.counters) })::text[]) WITH ORDINALITY AS u(s, p, e, c, n)
                ORDER BY n
                """
            )
        }
    }

    public func pendingDriftWindows(limit: Int) async throws(StateError) -> [PendingDriftWindow] {
        try await wrap("read drift windows") {
            let rows = try await fetch(
                "SELECT id, stream, pixel_id, event_name, closed_at, counters FROM drift_windows ORDER BY id LIMIT \(limit)"
            )
            var windows: [PendingDriftWindow] = []
            for try await (id, stream, pixel, event, closed, counters) in rows.decode((Int64, String, String, String, Int64, String).self) {
                windows.append(
                    PendingDriftWindow(
                        id: id,
                        key: DriftKey(stream: stream, pixelID: pixel, eventName: event),
                        counters: try StateColumns.decoded(counters, column: "counters", as: DriftCounters.self),
                        closedAt: UnixMillis(closed)
                    )
                )
            }
            return windows
        }
    }

    public func driftBaselines(_ keys: [DriftKey]) async throws(StateError) -> [DriftKey: DriftBaseline] {
        let keys = Array(Set(keys))
        return try await wrap("read drift baselines") {
            let rows = try await fetch(
                """
                SELECT b.stream, b.pixel_id, b.event_name, b.baseline FROM drift_baselines b
                JOIN UNNEST(\(keys.map(\.stream))::text[], \(keys.map(\.pixelID))::text[], \(keys.map(\.eventName))::text[]) AS k(s, p, e)
                  ON b.stream = k.s AND b.pixel_id = k.p AND b.event_name = k.e
                """
            )
            var baselines: [DriftKey: DriftBaseline] = [:]
            for try await (stream, pixel, event, baseline) in rows.decode((String, String, String, String).self) {
                baselines[DriftKey(stream: stream, pixelID: pixel, eventName: event)] = try StateColumns.decoded(
                    baseline,
                    column: "baseline",
                    as: DriftBaseline.self
                )
            }
            return baselines
        }
    }

    public func completeDriftWindows(_ ids: [Int64], baselines: [DriftKey: DriftBaseline], now: UnixMillis) async throws(StateError) {
        let entries = Array(baselines)
        let now = now.rawValue
        try await wrap("complete drift windows") {
            try await transaction { connection in
                try await connection.fetch("DELETE FROM drift_windows WHERE id = ANY(\(ids)::int8[])", logger: logger)
                if !entries.isEmpty {
                    try await connection.fetch(
                        """
                        INSERT INTO drift_baselines (stream, pixel_id, event_name, baseline, updated_at)
                        SELECT s, p, e, b, \(now) FROM UNNEST(\(entries.map(\.key.stream))::text[], \(entries.map(\.key.pixelID))::text[],
                          \(entries.map(\.key.eventName))::text[], \(entries.map { StateColumns.encoded($0.value) })::text[]) AS u(s, p, e, b)
                        ON CONFLICT (stream, pixel_id, event_name) DO UPDATE SET baseline = EXCLUDED.baseline, updated_at = EXCLUDED.updated_at
                        """,
                        logger: logger
                    )
                }
            }
        }
    }

    public func withDriftLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T? {
        try await withSessionLock(
            "drift lock",
            "SELECT pg_try_advisory_lock(\(Self.driftLockKey), hashtext(current_schema()))",
            unlock: "SELECT pg_advisory_unlock(\(Self.driftLockKey), hashtext(current_schema()))",
            body
        )
    }

    // MARK: Schemas

    public func addSchemaVersion(id: String, hash: String, body: String, now: UnixMillis) async throws(StateError) -> SchemaVersion {
        let registeredAt = now.rawValue
        return try await wrap("register schema") {
            try await transaction { connection in
                // Registrations of one store take turns, so version numbers never collide.
                try await connection.fetch("LOCK TABLE schema_versions IN SHARE ROW EXCLUSIVE MODE", logger: logger)
                let known = try await connection.fetch(
                    "SELECT schema_id, version, hash, body, registered_at FROM schema_versions WHERE schema_id = \(id) AND hash = \(hash)",
                    logger: logger
                )
                for try await (id, version, hash, body, at) in known.decode((String, Int, String, String, Int64).self) {
                    return SchemaVersion(id: id, version: version, hash: hash, body: body, registeredAt: UnixMillis(at))
                }
                let rows = try await connection.fetch(
                    """
                    INSERT INTO schema_versions (schema_id, version, hash, body, registered_at)
                    SELECT \(id), COALESCE(MAX(version), 0) + 1, \(hash), \(body), \(registeredAt) FROM schema_versions WHERE schema_id = \(id)
                    RETURNING version
                    """,
                    logger: logger
                )
                var version = 1
                for try await number in rows.decode(Int.self) { version = number }
                return SchemaVersion(id: id, version: version, hash: hash, body: body, registeredAt: now)
            }
        }
    }

    public func schemaVersions(id: String?) async throws(StateError) -> [SchemaVersion] {
        try await wrap("list schemas") {
            let rows = try await fetch(
                """
                SELECT schema_id, version, hash, body, registered_at FROM schema_versions
                WHERE \(id)::text IS NULL OR schema_id = \(id) ORDER BY schema_id, version
                """
            )
            var versions: [SchemaVersion] = []
            for try await (id, version, hash, body, at) in rows.decode((String, Int, String, String, Int64).self) {
                versions.append(SchemaVersion(id: id, version: version, hash: hash, body: body, registeredAt: UnixMillis(at)))
            }
            return versions
        }
    }
}
