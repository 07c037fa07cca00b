import CAPICore
import Foundation
import Logging
import NIOPosix
import SQLiteNIO
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The embedded state registry: one SQLite file (WAL, `synchronous=FULL`, so a commit is on disk
/// before an event is acknowledged), one connection, statements serialized by an async lock so a
/// transaction's statements never interleave with another caller's. Batch writes are multi-row
/// `VALUES`. The poll lock is an exclusive `flock` on `PATH.poll-lock`.
public final class SQLiteStateRegistry: StateRegistry, Service {
    public let backend = "sqlite"
    public let path: String
    let connection: SQLiteConnection
    /// The connection's own thread: SQLite calls block (busy waits included), and on a shared pool
    /// one connection's wait could starve another connection's COMMIT.
    let threadPool: NIOThreadPool
    let lock = AsyncLock()
    let logger: Logger

    /// Rows per multi-row statement, well under SQLite's bound-variable limit.
    static let chunk = 400

    private init(path: String, connection: SQLiteConnection, threadPool: NIOThreadPool, logger: Logger) {
        self.path = path
        self.connection = connection
        self.threadPool = threadPool
        self.logger = logger
    }

    /// Opens (creating the folder and file when needed) and configures the database.
    /// Why `folder` could not be created, from the nearest part of it that exists: a file where a
    /// folder must be, or a folder this process may not write in.
    static func whyNoFolder(_ folder: String) -> String {
        var existing = folder
        var isFolder: ObjCBool = false
        while !existing.isEmpty, existing != "/", !FileManager.default.fileExists(atPath: existing, isDirectory: &isFolder) {
            existing = (existing as NSString).deletingLastPathComponent
        }
        guard !existing.isEmpty, existing != folder || !isFolder.boolValue else { return "" }
        if !isFolder.boolValue { return ": \(existing) is a file" }
        return FileManager.default.isWritableFile(atPath: existing) ? "" : ": this process may not write in \(existing)"
    }

    public static func open(path: String, logger: Logger) async throws(StateError) -> SQLiteStateRegistry {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw StateError(.unavailable, "cannot create the folder for sqlite:\(path)\(Self.whyNoFolder(folder))")
            }
        }
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(
                storage: .file(path: path),
                threadPool: threadPool,
                logger: logger,
                on: MultiThreadedEventLoopGroup.singleton.any()
            )
        } catch {
            try? await threadPool.shutdownGracefully()
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
                throw StateError(.unavailable, "sqlite:\(path) is a folder: name the store's file, such as sqlite:\(path)/state.sqlite")
            }
            // SQLite's reason (its code and words, such as "unable to open database file") names
            // the file's trouble, never its contents.
            throw StateError(.unavailable, "cannot open sqlite:\(path): \(error)")
        }
        let registry = SQLiteStateRegistry(path: path, connection: connection, threadPool: threadPool, logger: logger)
        do {
            // Only a file without tables takes it: every store this connector creates can give
            // the pages a prune frees back to the file system (``releaseFreedSpace(progress:)``).
            try await registry.execute("configure", "PRAGMA auto_vacuum=INCREMENTAL")
            try await registry.execute("configure", "PRAGMA journal_mode=WAL")
            try await registry.execute("configure", "PRAGMA synchronous=FULL")
            try await registry.execute("configure", "PRAGMA busy_timeout=\(busyTimeoutMilliseconds)")
            try await registry.execute("configure", "PRAGMA foreign_keys=ON")
        } catch {
            // A file that is no database opens and fails here: closed before the error goes up,
            // so its connection and thread are not left behind (SQLiteNIO asserts on that).
            await registry.close()
            throw error
        }
        return registry
    }

    /// Keeps the file open until the service group shuts down (or the task is cancelled), then closes it.
    public func run() async {
        try? await gracefulShutdown()
        await close()
    }

    /// Closes the connection; later calls do nothing.
    public func close() async {
        guard
            closed.withLock({ closed in
                defer { closed = true }
                return !closed
            })
        else { return }
        // The future-based close: it runs even when the calling task is cancelled (a service
        // being torn down), where the async variant would refuse to start.
        try? await connection.close().get()
        try? await threadPool.shutdownGracefully()
    }

    private let closed = Mutex(false)

    // MARK: Plumbing

    @discardableResult
    func execute(_ what: String, _ sql: String, _ binds: [SQLiteData] = []) async throws(StateError) -> [SQLiteRow] {
        do {
            return try await connection.query(sql, binds)
        } catch {
            throw StateError(.query, "sqlite:\(path): \(what): \(Self.describe(error))")
        }
    }

    /// One statement through the future-based query, which runs whether or not the calling task is
    /// cancelled, and is awaited to the end.
    func executeAlways(_ what: String, _ sql: String) async throws(StateError) {
        do {
            try await connection.query(sql, [], logger: logger) { _ in }.get()
        } catch {
            throw StateError(.query, "sqlite:\(path): \(what): \(Self.describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let sqlite = error as? SQLiteError { return sqlite.message }
        return String(describing: type(of: error))
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction under the lock, rolling back on error.
    ///
    /// `BEGIN`, `COMMIT` and `ROLLBACK` run even in a cancelled task (``executeAlways(_:_:)``): the
    /// async query refuses to start once its task is cancelled, and a refused `ROLLBACK` left the one
    /// connection inside the transaction, so every later `BEGIN` failed ("cannot start a transaction
    /// within a transaction") until the process restarted.
    func transaction<T: Sendable>(_ what: String, _ body: () async throws(StateError) -> T) async throws(StateError) -> T {
        do {
            return try await lock.withLock {
                try await executeAlways(what, "BEGIN IMMEDIATE")
                do {
                    let result = try await body()
                    try await executeAlways(what, "COMMIT")
                    return result
                } catch {
                    _ = try? await executeAlways(what, "ROLLBACK")
                    throw error
                }
            }
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(.query, "\(what): \(Self.describe(error))")
        }
    }

    /// One statement under the lock (outside any transaction).
    @discardableResult
    func locked(_ what: String, _ sql: String, _ binds: [SQLiteData] = []) async throws(StateError) -> [SQLiteRow] {
        try await transaction(what) { () async throws(StateError) -> [SQLiteRow] in try await execute(what, sql, binds) }
    }

    static func placeholders(rows: Int, columns: Int) -> String {
        let row = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        return Array(repeating: row, count: rows).joined(separator: ", ")
    }

    static func text(_ value: String?) -> SQLiteData { value.map { .text($0) } ?? .null }
    static func int(_ value: Int64?) -> SQLiteData { value.map { .integer(Int($0)) } ?? .null }
    static func int(_ value: Int?) -> SQLiteData { value.map { .integer($0) } ?? .null }
    static func time(_ value: UnixMillis?) -> SQLiteData { int(value?.rawValue) }
    static func time(_ value: UnixSeconds?) -> SQLiteData { int(value?.rawValue) }

    static func keyCondition(_ keys: [EventKey]) -> (sql: String, binds: [SQLiteData]) {
        let sql = Array(repeating: "(pixel_id = ? AND event_id = ? AND event_time = ?)", count: keys.count).joined(separator: " OR ")
        return (sql, keys.flatMap { [SQLiteData.text($0.pixelID), .text($0.eventID), time($0.eventTime)] })
    }

    static func idList(_ ids: [Int64]) -> String { ids.map(String.init).joined(separator: ",") }

    // MARK: Migrations

    public func ping() async throws(StateError) {
        try await locked("ping", "SELECT 1")
    }

    public func migrate() async throws(StateError) {
        try await transaction("migrate") { () async throws(StateError) in
            try await execute("migrate", StateMigrations.bookkeeping)
            let rows = try await execute("migrate", "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            let current = try rows.first?.int("v") ?? 0
            guard current <= StateMigrations.latestVersion else { throw StateMigrations.newerThanKnown(current) }
            for migration in StateMigrations.versions(.sqlite) where migration.version > current {
                for statement in migration.statements { try await execute("migrate", statement) }
                try await execute(
                    "migrate",
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    [.integer(migration.version), Self.time(WallClock.system.now())]
                )
            }
            for probe in StateMigrations.probes {
                do throws(StateError) { try await execute("check schema", probe.sql) } catch {
                    throw StateMigrations.unusable(probe.table, error.message)
                }
            }
        }
    }

    // MARK: Intake

    public func commitIntake(_ items: [IntakeItem]) async throws(StateError) -> [IntakeOutcome] {
        guard !items.isEmpty else { return [] }
        return try await transaction("commit intake") { () async throws(StateError) -> [IntakeOutcome] in
            var inserted = Set<EventKey>()
            for start in stride(from: 0, to: items.count, by: Self.chunk) {
                let slice = items[start..<min(start + Self.chunk, items.count)]
                // The event's one row: idempotency key, content hash, stored answer, stream record.
                let rows = try await execute(
                    "commit intake",
                    """
                    INSERT INTO delivered_events (pixel_id, event_id, event_time, received_at, outcome, record, updated_at, content_hash, answer)
                    VALUES \(Self.placeholders(rows: slice.count, columns: 9))
                    ON CONFLICT DO NOTHING RETURNING pixel_id, event_id, event_time
                    """,
                    slice.flatMap {
                        [
                            .text($0.key.pixelID), .text($0.key.eventID), Self.time($0.key.eventTime), Self.time($0.receivedAt),
                            .text(DeliveryOutcome.pending.rawValue), .text($0.deliveredRecord), Self.time($0.receivedAt), .text($0.contentHash),
                            .text($0.answer),
                        ]
                    }
                )
                for row in rows { inserted.insert(try row.eventKey()) }
            }
            let plan = IntakePlan(items: items, insertedKeys: inserted)
            let accepted = plan.accepted.map { items[$0] }
            for start in stride(from: 0, to: accepted.count, by: Self.chunk) {
                let slice = accepted[start..<min(start + Self.chunk, accepted.count)]
                try await execute(
                    "commit intake",
                    """
                    INSERT INTO outbox (pixel_id, event_id, event_time, payload, attempts, next_attempt_at, created_at, expires_at, test_event_code)
                    VALUES \(Self.placeholders(rows: slice.count, columns: 9))
                    """,
                    slice.flatMap {
                        [
                            .text($0.key.pixelID), .text($0.key.eventID), Self.time($0.key.eventTime), .text($0.payload), .integer(0),
                            Self.time($0.receivedAt), Self.time($0.receivedAt), Self.time($0.expiresAt), Self.text($0.testEventCode),
                        ]
                    }
                )
            }
            var existing: [EventKey: (hash: String, answer: String)] = [:]
            for start in stride(from: 0, to: plan.lookups.count, by: Self.chunk) {
                let keys = Array(plan.lookups[start..<min(start + Self.chunk, plan.lookups.count)])
                let condition = Self.keyCondition(keys)
                for row in try await execute(
                    "commit intake",
                    "SELECT pixel_id, event_id, event_time, COALESCE(content_hash, '') AS content_hash, COALESCE(answer, '') AS answer FROM delivered_events WHERE \(condition.sql)",
                    condition.binds
                ) {
                    existing[try row.eventKey()] = (try row.text("content_hash"), try row.text("answer"))
                }
            }
            return plan.outcomes(existing: existing)
        }
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
        let rows = try await locked(
            "claim outbox",
            """
            UPDATE outbox SET lease_owner = ?, lease_until = ?, claims = claims + 1
            WHERE id IN (SELECT id FROM outbox WHERE next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
                         AND (? IS NULL OR pixel_id = ?) ORDER BY id LIMIT ?)
            RETURNING id, pixel_id, event_id, event_time, payload, attempts, created_at, claims, \(StateMigrations.expiresAtOrDefault) AS expires_at,
              test_event_code
            """,
            [.text(owner), Self.time(now + lease), Self.time(dueBy), Self.time(now), Self.text(pixelID), Self.text(pixelID), .integer(limit)]
        )
        return try rows.map { row throws(StateError) in
            OutboxEntry(
                id: try row.int64("id"),
                key: try row.eventKey(),
                payload: try row.text("payload"),
                attempts: try row.int("attempts"),
                createdAt: try row.millis("created_at"),
                claims: try row.int("claims"),
                expiresAt: try row.millis("expires_at"),
                testEventCode: try row.optionalText("test_event_code")
            )
        }.sorted { $0.id < $1.id }
    }

    public func markForwarded(_ entries: [OutboxEntry], fbtraceID: String?, now: UnixMillis) async throws(StateError) {
        guard !entries.isEmpty else { return }
        try await transaction("mark forwarded") { () async throws(StateError) in
            try await execute("mark forwarded", "DELETE FROM outbox WHERE id IN (\(Self.idList(entries.map(\.id))))")
            for start in stride(from: 0, to: entries.count, by: Self.chunk) {
                let condition = Self.keyCondition(entries[start..<min(start + Self.chunk, entries.count)].map(\.key))
                try await execute(
                    "mark forwarded",
                    "UPDATE delivered_events SET outcome = ?, fbtrace_id = ?, updated_at = ? WHERE \(condition.sql)",
                    [.text(DeliveryOutcome.forwarded.rawValue), Self.text(fbtraceID), Self.time(now)] + condition.binds
                )
            }
        }
    }

    public func reschedule(_ entries: [OutboxEntry], nextAttemptAt: UnixMillis, lastError: String, spendingAttempt: Bool) async throws(StateError) {
        guard !entries.isEmpty else { return }
        try await locked(
            "reschedule outbox",
            """
            UPDATE outbox SET attempts = attempts + ?, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, last_error = ?, claims = 0
            WHERE id IN (\(Self.idList(entries.map(\.id))))
            """,
            [.integer(spendingAttempt ? 1 : 0), Self.time(nextAttemptAt), .text(lastError)]
        )
    }

    public func extendLease(_ entries: [OutboxEntry], owner: String, until: UnixMillis) async throws(StateError) {
        guard !entries.isEmpty else { return }
        try await locked(
            "extend lease",
            "UPDATE outbox SET lease_until = ? WHERE lease_owner = ? AND id IN (\(Self.idList(entries.map(\.id))))",
            [Self.time(until), .text(owner)]
        )
    }

    public func deadLetter(_ entries: [OutboxEntry], reason: DeadLetterReason, now: UnixMillis) async throws(StateError) {
        guard !entries.isEmpty else { return }
        let reasonJSON = StateColumns.json(reason)
        try await transaction("dead-letter") { () async throws(StateError) in
            let ids = Self.idList(entries.map(\.id))
            try await execute(
                "dead-letter",
                """
                INSERT INTO dead_letters (pixel_id, event_id, event_time, payload, error_class, code, subcode, message, fbtrace_id, attempts, created_at,
                  expires_at, test_event_code)
                SELECT pixel_id, event_id, event_time, payload, ?, ?, ?, ?, ?, attempts + 1, ?, expires_at, test_event_code FROM outbox
                WHERE id IN (\(ids)) ORDER BY id
                """,
                [
                    .text(reason.errorClass.rawValue), Self.int(reason.code), Self.int(reason.subcode), .text(reason.message),
                    Self.text(reason.fbtraceID), Self.time(now),
                ]
            )
            try await execute("dead-letter", "DELETE FROM outbox WHERE id IN (\(ids))")
            for start in stride(from: 0, to: entries.count, by: Self.chunk) {
                let condition = Self.keyCondition(entries[start..<min(start + Self.chunk, entries.count)].map(\.key))
                try await execute(
                    "dead-letter",
                    "UPDATE delivered_events SET outcome = ?, fbtrace_id = ?, dead_letter_reason = ?, updated_at = ? WHERE \(condition.sql)",
                    [.text(DeliveryOutcome.deadLettered.rawValue), Self.text(reason.fbtraceID), .text(reasonJSON), Self.time(now)] + condition.binds
                )
            }
        }
    }

    public func outboxDepth() async throws(StateError) -> Int {
        try await locked("outbox depth", "SELECT COUNT(*) AS n FROM outbox").first?.int("n") ?? 0
    }

    public func deadLetterCount() async throws(StateError) -> Int {
        try await locked("count dead letters", "SELECT COUNT(*) AS n FROM dead_letters").first?.int("n") ?? 0
    }

    public func oldestDueOutboxAge(now: UnixMillis) async throws(StateError) -> Duration? {
        let rows = try await locked("outbox age", "SELECT MIN(next_attempt_at) AS t FROM outbox WHERE next_attempt_at <= ?", [Self.time(now)])
        return try rows.first?.optionalMillis("t").map { now - $0 }
    }

    // MARK: Dead letters

    /// The selection as a `WHERE` clause (empty for all) and its values.
    static func condition(_ selection: DeadLetterSelection) -> (sql: String, binds: [SQLiteData]) {
        var parts: [String] = []
        var binds: [SQLiteData] = []
        // An empty list selects nothing (SQLite refuses `IN ()`).
        func member(_ column: String, _ values: [SQLiteData]) {
            parts.append(values.isEmpty ? "0" : "\(column) IN (\(Array(repeating: "?", count: values.count).joined(separator: ",")))")
            binds += values
        }
        // Ids are written in (integers, and any number of them: binds are limited).
        if let ids = selection.ids { parts.append(ids.isEmpty ? "0" : "id IN (\(idList(ids)))") }
        if let classes = selection.classes { member("error_class", classes.map { .text($0.rawValue) }) }
        if let pixels = selection.pixelIDs { member("pixel_id", pixels.map { .text($0) }) }
        return (parts.isEmpty ? "" : "WHERE " + parts.joined(separator: " AND "), binds)
    }

    public func deadLetterCount(_ selection: DeadLetterSelection) async throws(StateError) -> Int {
        let (filter, binds) = Self.condition(selection)
        return try await locked("count dead letters", "SELECT COUNT(*) AS n FROM dead_letters \(filter)", binds).first?.int("n") ?? 0
    }

    public func deadLetters(_ selection: DeadLetterSelection, limit: Int) async throws(StateError) -> [DeadLetter] {
        let (filter, binds) = Self.condition(selection)
        return try await locked(
            "list dead letters",
            """
            SELECT id, pixel_id, event_id, event_time, error_class, code, subcode, message, fbtrace_id, attempts, created_at, test_event_code
            FROM dead_letters \(filter) ORDER BY id LIMIT ?
            """,
            binds + [.integer(limit)]
        ).map { row throws(StateError) in
            DeadLetter(
                id: try row.int64("id"),
                key: try row.eventKey(),
                reason: DeadLetterReason(
                    errorClass: try row.value("error_class", as: DeadLetterClass.self),
                    code: try row.optionalInt("code"),
                    subcode: try row.optionalInt("subcode"),
                    message: try row.text("message"),
                    fbtraceID: try row.optionalText("fbtrace_id")
                ),
                attempts: try row.int("attempts"),
                createdAt: try row.millis("created_at"),
                testEventCode: try row.optionalText("test_event_code")
            )
        }
    }

    public func replayDeadLetters(
        _ selection: DeadLetterSelection,
        now: UnixMillis,
        progress: @Sendable (Int) -> Void
    ) async throws(StateError) -> Int {
        // Each dead letter moves with its ledger row in one transaction, 10,000 per transaction:
        // a replay of every dead letter after a long outage moved 300,000 in one and kept another
        // process's writer, a sidecar's commit, waiting 1.7 s.
        try await inBatchesOfDeadLetters(selection, "replay dead letters", progress: progress) { (batch) async throws(StateError) -> Int in
            let (filter, binds) = batch
            try await execute(
                "replay dead letters",
                """
                INSERT INTO outbox (pixel_id, event_id, event_time, payload, attempts, next_attempt_at, created_at, expires_at, test_event_code)
                SELECT pixel_id, event_id, event_time, payload, 0, ?, created_at, expires_at, test_event_code FROM dead_letters \(filter)
                """,
                [Self.time(now)] + binds
            )
            try await execute(
                "replay dead letters",
                """
                UPDATE delivered_events SET outcome = ?, dead_letter_reason = NULL, updated_at = ?
                WHERE (pixel_id, event_id, event_time) IN (SELECT pixel_id, event_id, event_time FROM dead_letters \(filter))
                """,
                [.text(DeliveryOutcome.pending.rawValue), Self.time(now)] + binds
            )
            return try await execute("replay dead letters", "DELETE FROM dead_letters \(filter) RETURNING id", binds).count
        }
    }

    public func purgeDeadLetters(_ selection: DeadLetterSelection, progress: @Sendable (Int) -> Void) async throws(StateError) -> Int {
        try await inBatchesOfDeadLetters(selection, "purge dead letters", progress: progress) { (batch) async throws(StateError) -> Int in
            try await execute("purge dead letters", "DELETE FROM dead_letters \(batch.filter) RETURNING id", batch.binds).count
        }
    }

    /// Runs `body` on the selection's dead letters by id, at most ``rowsPerTransaction`` a
    /// transaction, paced like a prune; `body` gets the batch's filter and answers how many it took.
    private func inBatchesOfDeadLetters(
        _ selection: DeadLetterSelection,
        _ what: String,
        progress: @Sendable (Int) -> Void,
        _ body: ((filter: String, binds: [SQLiteData])) async throws(StateError) -> Int
    ) async throws(StateError) -> Int {
        let (filter, binds) = Self.condition(selection)
        var total = 0
        while true {
            let taken = try await transaction(what) { () async throws(StateError) -> Int in
                let last = try await execute(
                    what,
                    "SELECT id FROM dead_letters \(filter) ORDER BY id LIMIT 1 OFFSET \(Self.rowsPerTransaction - 1)",
                    binds
                ).first?.int("id")
                guard let last else { return try await body((filter, binds)) }
                return try await body(((filter.isEmpty ? "WHERE" : filter + " AND") + " id <= \(last)", binds))
            }
            total += taken
            if taken < Self.rowsPerTransaction { return total }
            progress(total)
            await Self.letOtherWritersIn()
        }
    }

    // MARK: Pull

    public func cursor(_ key: CursorKey) async throws(StateError) -> CursorValue? {
        try await locked(
            "read cursor",
            "SELECT position, run_id, updated_at FROM cursors WHERE connector = ? AND stream = ? AND partition = ?",
            [.text(key.connector), .text(key.stream), .text(key.partition)]
        ).first.map { row throws(StateError) in
            CursorValue(position: try row.seconds("position"), runID: try row.text("run_id"), updatedAt: try row.millis("updated_at"))
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
        try await transaction("commit window") { () async throws(StateError) in
            try await execute(
                "commit window",
                "DELETE FROM delivery_statuses WHERE pixel_id = ? AND bucket_start >= ? AND bucket_start < ?",
                [.text(cursor.partition), Self.time(window.lowerBound), Self.time(window.upperBound)]
            )
            for start in stride(from: 0, to: records.count, by: Self.chunk) {
                let slice = records[start..<min(start + Self.chunk, records.count)]
                try await execute(
                    "commit window",
                    """
                    INSERT INTO delivery_statuses (pixel_id, bucket_start, event_name, event_source, count, pulled_at, run_id) VALUES \(Self.placeholders(rows: slice.count, columns: 7))
                    ON CONFLICT (pixel_id, bucket_start, event_name, event_source) DO UPDATE SET count = excluded.count, pulled_at = excluded.pulled_at, run_id = excluded.run_id
                    """,
                    slice.flatMap {
                        [
                            .text($0.pixelID), Self.time($0.bucketStart), .text($0.eventName), .text($0.eventSource), Self.int($0.count),
                            Self.time(now), .text(runID),
                        ]
                    }
                )
            }
            try await moveCursor(cursor, to: position, runID: runID, now: now, operation: "commit window")
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
        try await transaction("commit insights window") { () async throws(StateError) in
            try await execute(
                "commit insights window",
                "DELETE FROM ad_insights WHERE account_id = ? AND level = ? AND day >= ? AND day <= ?",
                [.text(account), .text(level), .text(days.lowerBound.description), .text(days.upperBound.description)]
            )
            for start in stride(from: 0, to: records.count, by: Self.chunk) {
                let slice = records[start..<min(start + Self.chunk, records.count)]
                try await execute(
                    "commit insights window",
                    """
                    INSERT INTO ad_insights (account_id, level, level_id, day, record, pulled_at, run_id) VALUES \(Self.placeholders(rows: slice.count, columns: 7))
                    ON CONFLICT (account_id, level, level_id, day) DO UPDATE SET record = excluded.record, pulled_at = excluded.pulled_at, run_id = excluded.run_id
                    """,
                    slice.flatMap {
                        [
                            .text($0.accountID), .text($0.level), .text($0.levelID), .text($0.day.description), .text(StateColumns.encoded($0)),
                            Self.time(now), .text(runID),
                        ]
                    }
                )
            }
            try await moveCursor(cursor, to: position, runID: runID, now: now, operation: "commit insights window")
        }
    }

    /// Sets a cursor inside the caller's transaction (a window's records and its cursor commit together).
    private func moveCursor(_ cursor: CursorKey, to position: UnixSeconds, runID: String, now: UnixMillis, operation: String) async throws(StateError)
    {
        try await execute(
            operation,
            """
            INSERT INTO cursors (connector, stream, partition, position, run_id, updated_at) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (connector, stream, partition) DO UPDATE SET position = excluded.position, run_id = excluded.run_id, updated_at = excluded.updated_at
            """,
            [.text(cursor.connector), .text(cursor.stream), .text(cursor.partition), Self.time(position), .text(runID), Self.time(now)]
        )
    }

    public func commitMatchQuality(_ records: [MatchQualityRecord], snapshotAt: UnixMillis, runID: String) async throws(StateError) {
        guard !records.isEmpty else { return }
        try await locked(
            "commit match quality",
            """
            INSERT INTO match_quality (pixel_id, event_name, snapshot_at, record, run_id) VALUES \(Self.placeholders(rows: records.count, columns: 5))
            ON CONFLICT (pixel_id, event_name, snapshot_at) DO UPDATE SET record = excluded.record, run_id = excluded.run_id
            """,
            records.flatMap { [.text($0.pixelID), .text($0.eventName), Self.time(snapshotAt), .text($0.record.serialized), .text(runID)] }
        )
    }

    // MARK: Replay ledger

    public func recordDelivery(key: String, bodyDigest: String, expiresAt: UnixSeconds, now: UnixSeconds) async throws(StateError) -> String {
        let rows = try await locked(
            "record webhook delivery",
            ReplaySQL.record,
            [.text(key), .text(bodyDigest), Self.time(expiresAt), Self.time(now)]
        )
        guard let digest = rows.first?.column("body_digest")?.string else {
            throw StateError(.query, "sqlite:\(path): record webhook delivery: no row came back")
        }
        return digest
    }

    public func purgeExpiredDeliveries(now: UnixSeconds) async throws(StateError) -> Int {
        try await locked("purge webhook deliveries", "DELETE FROM webhook_deliveries WHERE expires_at <= ? RETURNING 1", [Self.time(now)]).count
    }

    public func recordRun(_ run: RunRecord) async throws(StateError) {
        try await locked(
            "record run",
            """
            INSERT INTO runs (run_id, mode, started_at, ended_at, status, counts, error_class) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (run_id) DO UPDATE SET ended_at = excluded.ended_at, status = excluded.status, counts = excluded.counts, error_class = excluded.error_class
            """,
            [
                .text(run.runID), .text(run.mode.rawValue), Self.time(run.startedAt), Self.time(run.endedAt), .text(run.status.rawValue),
                .text(run.counts), Self.text(run.errorClass?.rawValue),
            ]
        )
    }

    public func interruptUnfinishedRuns(mode: RunMode) async throws(StateError) -> Int {
        try await locked(
            "mark unfinished runs",
            "UPDATE runs SET status = ? WHERE mode = ? AND status = ? RETURNING 1",
            [.text(RunStatus.interrupted.rawValue), .text(mode.rawValue), .text(RunStatus.running.rawValue)]
        ).count
    }

    public func recentRuns(limit: Int) async throws(StateError) -> [RunRecord] {
        try await locked(
            "list runs",
            "SELECT run_id, mode, started_at, ended_at, status, counts, error_class FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?",
            [.integer(limit)]
        ).map { row throws(StateError) in
            RunRecord(
                runID: try row.text("run_id"),
                mode: try row.value("mode", as: RunMode.self),
                startedAt: try row.millis("started_at"),
                endedAt: try row.optionalMillis("ended_at"),
                status: try row.value("status", as: RunStatus.self),
                counts: try row.text("counts"),
                errorClass: try row.optionalText("error_class").map { raw throws(StateError) in
                    try StateColumns.value(raw, column: "error_class", as: RunErrorClass.self)
                }
            )
        }
    }

    public func withPollLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T? {
        try await withFileLock(path + ".poll-lock", body)
    }

    /// An exclusive `flock` on a file beside the database, held for `body`; `nil` when another holds it.
    func withFileLock<T: Sendable>(_ lockPath: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        let descriptor = openLockFile(lockPath)
        guard descriptor >= 0 else { throw StateError(.unavailable, "cannot open the lock file \(lockPath)") }
        defer { closeLockFile(descriptor) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { return nil }
        defer { flock(descriptor, LOCK_UN) }
        return try await body()
    }

    // MARK: Streams and operations

    public func deliveredEvents(
        since: UnixMillis?,
        after position: DeliveredEventPosition?,
        limit: Int
    ) async throws(StateError) -> [DeliveredEvent] {
        let after: (String, [SQLiteData]) =
            position.map {
                (
                    "AND (received_at, pixel_id, event_id, event_time) > (?, ?, ?, ?)",
                    [Self.time($0.receivedAt), .text($0.key.pixelID), .text($0.key.eventID), Self.time($0.key.eventTime)]
                )
            } ?? ("", [])
        return try await locked(
            "read delivered_events",
            """
            SELECT pixel_id, event_id, event_time, received_at, outcome, record, fbtrace_id, dead_letter_reason FROM delivered_events
            WHERE received_at >= ? \(after.0) ORDER BY received_at, pixel_id, event_id, event_time LIMIT ?
            """,
            // The index on received_at starts each page at the last one's receipt time.
            [Self.time(max(since ?? UnixMillis(0), position?.receivedAt ?? UnixMillis(0)))] + after.1 + [.integer(limit)]
        ).map { row throws(StateError) in
            DeliveredEvent(
                key: try row.eventKey(),
                receivedAt: try row.millis("received_at"),
                outcome: try row.value("outcome", as: DeliveryOutcome.self),
                record: try row.text("record"),
                fbtraceID: try row.optionalText("fbtrace_id"),
                deadLetterReason: try StateColumns.deadLetterReason(try row.optionalText("dead_letter_reason"))
            )
        }
    }

    public func deliveryStatuses(since: UnixMillis?, buckets: Range<UnixSeconds>?) async throws(StateError) -> [StoredDeliveryStatus] {
        try await locked(
            "read delivery_statuses",
            """
            SELECT pixel_id, bucket_start, event_name, event_source, count, pulled_at, run_id FROM delivery_statuses
            WHERE pulled_at >= ? AND bucket_start >= ? AND bucket_start < ? ORDER BY pixel_id, bucket_start, event_name, event_source
            """,
            [
                Self.time(since ?? UnixMillis(0)), .integer(Int(buckets?.lowerBound.rawValue ?? .min)),
                .integer(Int(buckets?.upperBound.rawValue ?? .max)),
            ]
        ).map(Self.deliveryStatus)
    }

    static func deliveryStatus(_ row: SQLiteRow) throws(StateError) -> StoredDeliveryStatus {
        StoredDeliveryStatus(
            status: DeliveryStatusRecord(
                pixelID: try row.text("pixel_id"),
                bucketStart: try row.seconds("bucket_start"),
                eventName: try row.text("event_name"),
                eventSource: try row.text("event_source"),
                count: try row.int64("count")
            ),
            pulledAt: try row.millis("pulled_at"),
            runID: try row.text("run_id")
        )
    }

    public func matchQualitySnapshots(since: UnixMillis?) async throws(StateError) -> [StoredMatchQuality] {
        try await locked(
            "read match_quality",
            "SELECT pixel_id, event_name, snapshot_at, record, run_id FROM match_quality WHERE snapshot_at >= ? ORDER BY snapshot_at, pixel_id, event_name",
            [Self.time(since ?? UnixMillis(0))]
        ).map(Self.matchQuality)
    }

    static func matchQuality(_ row: SQLiteRow) throws(StateError) -> StoredMatchQuality {
        StoredMatchQuality(
            quality: MatchQualityRecord(
                pixelID: try row.text("pixel_id"),
                eventName: try row.text("event_name"),
                record: try StateColumns.jsonColumn(try row.text("record"), column: "record")
            ),
            snapshotAt: try row.millis("snapshot_at"),
            runID: try row.text("run_id")
        )
    }

    public func adInsights(since: UnixMillis?, days: ClosedRange<CalendarDate>?) async throws(StateError) -> [StoredAdInsights] {
        try await locked(
            "read ad_insights",
            """
            SELECT record, pulled_at, run_id FROM ad_insights WHERE pulled_at >= ?
              AND (? OR day BETWEEN ? AND ? OR (account_id, day) IN (SELECT account_id, MAX(day) FROM ad_insights GROUP BY account_id))
            ORDER BY account_id, level, day, level_id
            """,
            [
                Self.time(since ?? UnixMillis(0)), .integer(days == nil ? 1 : 0), .text(days?.lowerBound.description ?? ""),
                .text(days?.upperBound.description ?? ""),
            ]
        ).map(Self.adInsights)
    }

    static func adInsights(_ row: SQLiteRow) throws(StateError) -> StoredAdInsights {
        StoredAdInsights(
            insights: try StateColumns.decoded(try row.text("record"), column: "record", as: AdInsightsRecord.self),
            pulledAt: try row.millis("pulled_at"),
            runID: try row.text("run_id")
        )
    }

    public func pulledStreamPage(
        _ stream: PulledStream,
        since: UnixMillis?,
        after position: PulledStreamPosition?,
        limit: Int
    ) async throws(StateError) -> StreamRecords {
        let keys = stream.keyColumns.joined(separator: ", ")
        var binds: [SQLiteData] = [Self.time(since ?? UnixMillis(0))]
        var after = ""
        if let position {
            after = " AND (\(keys)) > (\(Array(repeating: "?", count: position.values.count).joined(separator: ", ")))"
            binds += position.values.map {
                switch $0 {
                case .text(let text): .text(text)
                case .integer(let value): .integer(Int(value))
                }
            }
        }
        binds.append(.integer(limit))
        let rows = try await locked(
            "read \(stream.rawValue)",
            "SELECT \(stream.readColumns) FROM \(stream.rawValue) WHERE \(stream.writtenColumn) >= ?\(after) ORDER BY \(keys) LIMIT ?",
            binds
        )
        return switch stream {
        case .deliveryStatuses: .deliveryStatuses(try rows.map(Self.deliveryStatus))
        case .matchQuality: .matchQuality(try rows.map(Self.matchQuality))
        case .adInsights: .adInsights(try rows.map(Self.adInsights))
        }
    }

    public func summary() async throws(StateError) -> StateSummary {
        let cursors = try await locked(
            "read cursors",
            "SELECT connector, stream, partition, position, run_id, updated_at FROM cursors ORDER BY connector, stream, partition"
        ).map { row throws(StateError) in
            (
                CursorKey(connector: try row.text("connector"), stream: try row.text("stream"), partition: try row.text("partition")),
                CursorValue(position: try row.seconds("position"), runID: try row.text("run_id"), updatedAt: try row.millis("updated_at"))
            )
        }
        let version = try await locked("schema version", "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").first?.int("v") ?? 0
        let outbox = try await locked("summarize outbox", OutboxPixelSummary.query).map { row throws(StateError) in
            OutboxPixelSummary(
                pixelID: try row.text("pixel_id"),
                queued: try row.int("queued"),
                retrying: try row.int("retrying"),
                oldestQueuedAt: try row.millis("oldest"),
                nextAttemptAt: try row.millis("next_attempt"),
                lastError: try row.optionalText("last_error")
            )
        }
        return StateSummary(
            cursors: cursors,
            recentRuns: try await recentRuns(limit: 10),
            outboxDepth: try await outboxDepth(),
            outbox: outbox,
            deadLetters: try await deadLetterCount(),
            schemaVersion: version
        )
    }

    public func prune(_ prune: StreamPrune, delete: Bool, progress: @Sendable (Int) -> Void) async throws(StateError) -> Int {
        let (condition, values) = prune.condition
        let table = prune.stream.rawValue
        let binds: [SQLiteData] = values.map {
            switch $0 {
            case .text(let text): .text(text)
            case .integer(let value): .integer(Int(value))
            }
        }
        guard delete else {
            return try await locked("count \(table) to prune", "SELECT COUNT(*) AS n FROM \(table) WHERE \(condition)", binds).first?.int("n") ?? 0
        }
        var deleted = 0
        while true {
            let batch = try await locked(
                "prune \(table)",
                "DELETE FROM \(table) WHERE rowid IN (SELECT rowid FROM \(table) WHERE \(condition) LIMIT \(Self.rowsPerTransaction)) RETURNING 1",
                binds
            ).count
            deleted += batch
            if batch < Self.rowsPerTransaction { return deleted }
            progress(deleted)
            await Self.letOtherWritersIn()
        }
    }

    /// Rows a long job (prune, dead-letter replay or purge) takes per transaction.
    static let rowsPerTransaction = 10_000

    /// Pauses between two write transactions of a long job (prune, giving space back, dead-letter
    /// replay and purge), so that another process's writer, a sidecar's commit, gets the file.
    /// SQLite has no queue for its lock: a writer that finds it taken sleeps and tries again, at
    /// most 100 ms apart, and transactions back to back kept one waiting 9.0 s. A pause as long as
    /// that sleep lets it in.
    static func letOtherWritersIn() async {
        try? await Task.sleep(for: .milliseconds(100))
    }

    public func releaseFreedSpace(progress: @Sendable (Int64) -> Void) async throws(StateError) -> StoreFileSpace? {
        let before = fileBytes()
        let incremental = try await pragma("auto_vacuum") == Self.incrementalVacuum
        if incremental {
            let pageSize = Int64(try await pragma("page_size"))
            var free = try await pragma("freelist_count")
            while free > 0 {
                progress(Int64(free) * pageSize)
                try await locked("give freed pages back", "PRAGMA incremental_vacuum(\(Self.vacuumChunkPages))")
                let left = try await pragma("freelist_count")
                guard left < free else { break }
                free = left
                if free > 0 { await Self.letOtherWritersIn() }
            }
        }
        try await truncateWriteAheadLog()
        return try await fileSpace(since: before)
    }

    public func rewriteCompactly() async throws(StateError) -> StoreFileSpace? {
        let before = fileBytes()
        // Recorded now, applied by the rewrite: a mode can change only while a file has no tables.
        try await exclusively("turn on incremental vacuum", "PRAGMA auto_vacuum=INCREMENTAL")
        try await exclusively("rewrite the file", "VACUUM")
        try await truncateWriteAheadLog()
        return try await fileSpace(since: before)
    }

    public func storage(perTable: Bool) async throws(StateError) -> StoreStorage {
        var tables: [StoreStorage.TableBytes]?
        if perTable {
            // dbstat reads every page; an index counts toward the table it indexes.
            let sizes = try await locked(
                "measure tables",
                """
                SELECT COALESCE(m.tbl_name, d.name) AS name, SUM(d.pgsize) AS bytes
                FROM dbstat AS d LEFT JOIN sqlite_schema AS m ON m.name = d.name GROUP BY 1
                """
            )
            var bytesByTable: [String: Int64] = [:]
            for row in sizes { bytesByTable[try row.text("name")] = Int64(try row.int("bytes")) }
            tables = StoreStorage.tableNames.map { .init(name: $0, bytes: bytesByTable[$0] ?? 0) }
        }
        return StoreStorage(
            bytes: fileBytes(),
            tables: tables,
            freeBytes: Int64(try await pragma("freelist_count") * pragma("page_size")),
            incrementalVacuum: try await pragma("auto_vacuum") == Self.incrementalVacuum
        )
    }

    /// The file's size now against `before`, the free pages it keeps, and its vacuum mode.
    private func fileSpace(since before: Int64) async throws(StateError) -> StoreFileSpace {
        StoreFileSpace(
            bytesBefore: before,
            bytesAfter: fileBytes(),
            freeBytesKept: Int64(try await pragma("freelist_count") * pragma("page_size")),
            incremental: try await pragma("auto_vacuum") == Self.incrementalVacuum
        )
    }

    /// `PRAGMA auto_vacuum`'s value for incremental vacuum.
    static let incrementalVacuum = 2
    /// 2,048 pages (8 MiB of 4 KiB pages) moved per transaction.
    static let vacuumChunkPages = 2_048

    private func pragma(_ name: String) async throws(StateError) -> Int {
        try await exclusively("read \(name)", "PRAGMA \(name)").first?.int(name) ?? 0
    }

    /// One statement under the lock, outside a transaction (as `VACUUM` and checkpoints must be).
    @discardableResult
    private func exclusively(_ what: String, _ sql: String) async throws(StateError) -> [SQLiteRow] {
        do {
            return try await lock.withLock { () async throws(StateError) -> [SQLiteRow] in try await execute(what, sql) }
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(.query, "\(what): \(Self.describe(error))")
        }
    }

    /// Copies the write-ahead log into the file and empties it, so moved pages leave the log too.
    /// It holds back other writers while it waits for readers, so it waits one second at most;
    /// a busy store keeps its log until its own checkpoints.
    private func truncateWriteAheadLog() async throws(StateError) {
        try await exclusively("wait less for the checkpoint", "PRAGMA busy_timeout=1000")
        let checkpoint: Result<Void, StateError>
        do {
            try await exclusively("checkpoint the write-ahead log", "PRAGMA wal_checkpoint(TRUNCATE)")
            checkpoint = .success(())
        } catch {
            checkpoint = .failure(error)
        }
        try await exclusively("restore the busy timeout", "PRAGMA busy_timeout=\(Self.busyTimeoutMilliseconds)")
        try checkpoint.get()
    }

    static let busyTimeoutMilliseconds = 10_000

    /// The database file and its write-ahead log, in bytes.
    private func fileBytes() -> Int64 {
        [path, path + "-wal"].reduce(0) { total, file in
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0
            return total + size
        }
    }

    public func resetCursor(stream: String, partition: String?) async throws(StateError) -> Int {
        try await locked(
            "reset cursor",
            "DELETE FROM cursors WHERE stream = ? AND (? IS NULL OR partition = ?) RETURNING partition",
            [.text(stream), Self.text(partition), Self.text(partition)]
        ).count
    }

    static let subjectCondition = "kind = ? AND pixel_id IS ? AND stream IS ? AND event_name IS ? AND field IS ? AND cleared_at IS NULL"

    static func subjectBinds(_ subject: AlarmSubject) -> [SQLiteData] {
        [.text(subject.kind), text(subject.pixelID), text(subject.stream), text(subject.eventName), text(subject.field)]
    }

    @discardableResult
    public func raiseAlarm(_ subject: AlarmSubject, severity: AlarmSeverity, message: String, now: UnixMillis) async throws(StateError) -> Bool {
        try await transaction("raise alarm") { () async throws(StateError) -> Bool in
            let seen = try await execute(
                "raise alarm",
                "UPDATE alarms SET last_seen = ?, occurrences = occurrences + 1, message = ? WHERE \(Self.subjectCondition) RETURNING id",
                [Self.time(now), .text(message)] + Self.subjectBinds(subject)
            )
            guard seen.isEmpty else { return false }
            try await execute(
                "raise alarm",
                """
                INSERT INTO alarms (kind, pixel_id, stream, event_name, field, severity, message, raised_at, last_seen, occurrences)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
                """,
                Self.subjectBinds(subject) + [.text(severity.rawValue), .text(message), Self.time(now), Self.time(now)]
            )
            return true
        }
    }

    @discardableResult
    public func clearAlarms(_ subject: AlarmSubject, now: UnixMillis) async throws(StateError) -> Int {
        try await locked(
            "clear alarms",
            "UPDATE alarms SET cleared_at = ? WHERE \(Self.subjectCondition) RETURNING id",
            [Self.time(now)] + Self.subjectBinds(subject)
        ).count
    }

    public func alarms(activeOnly: Bool) async throws(StateError) -> [AlarmRecord] {
        try await locked(
            "list alarms",
            """
            SELECT id, kind, pixel_id, stream, event_name, field, severity, message, raised_at, last_seen, occurrences, cleared_at FROM alarms
            WHERE ? = 0 OR cleared_at IS NULL ORDER BY raised_at, id
            """,
            [.integer(activeOnly ? 1 : 0)]
        )
        .map { row throws(StateError) in
            AlarmRecord(
                id: try row.int64("id"),
                subject: AlarmSubject(
                    kind: try row.text("kind"),
                    pixelID: try row.optionalText("pixel_id"),
                    stream: try row.optionalText("stream"),
                    eventName: try row.optionalText("event_name"),
                    field: try row.optionalText("field")
                ),
                severity: try row.value("severity", as: AlarmSeverity.self),
                message: try row.text("message"),
                raisedAt: try row.millis("raised_at"),
                lastSeen: try row.millis("last_seen"),
                occurrences: try row.int("occurrences"),
                clearedAt: try row.optionalMillis("cleared_at")
            )
        }
    }

    // MARK: Drift

    public func appendDriftWindows(_ windows: [(key: DriftKey, counters: DriftCounters)], closedAt: UnixMillis) async throws(StateError) {
        guard !windows.isEmpty else { return }
        try await transaction("record drift windows") { () async throws(StateError) in
            for start in stride(from: 0, to: windows.count, by: Self.chunk) {
                let slice = windows[start..<min(start + Self.chunk, windows.count)]
                try await execute(
                    "record drift windows",
                    "INSERT INTO drift_windows (stream, pixel_id, event_name, closed_at, counters) VALUES \(Self.placeholders(rows: slice.count, columns: 5))",
                    slice.flatMap {
                        [
                            .text($0.key.stream), .text($0.key.pixelID), .text($0.key.eventName), Self.time(closedAt),
                            .text(StateColumns.encoded($0.counters)),
                        ]
                    }
                )
            }
        }
    }

    public func pendingDriftWindows(limit: Int) async throws(StateError) -> [PendingDriftWindow] {
        try await locked(
            "read drift windows",
            "SELECT id, stream, pixel_id, event_name, closed_at, counters FROM drift_windows ORDER BY id LIMIT ?",
            [.integer(limit)]
        ).map { row throws(StateError) in
            PendingDriftWindow(
                id: try row.int64("id"),
                key: DriftKey(stream: try row.text("stream"), pixelID: try row.text("pixel_id"), eventName: try row.text("event_name")),
                counters: try StateColumns.decoded(try row.text("counters"), column: "counters", as: DriftCounters.self),
                closedAt: try row.millis("closed_at")
            )
        }
    }

    public func driftBaselines(_ keys: [DriftKey]) async throws(StateError) -> [DriftKey: DriftBaseline] {
        var baselines: [DriftKey: DriftBaseline] = [:]
        for key in Set(keys) {
            let rows = try await locked(
                "read drift baseline",
                "SELECT baseline FROM drift_baselines WHERE stream = ? AND pixel_id = ? AND event_name = ?",
                [.text(key.stream), .text(key.pixelID), .text(key.eventName)]
            )
            if let row = rows.first {
                baselines[key] = try StateColumns.decoded(try row.text("baseline"), column: "baseline", as: DriftBaseline.self)
            }
        }
        return baselines
    }

    public func completeDriftWindows(_ ids: [Int64], baselines: [DriftKey: DriftBaseline], now: UnixMillis) async throws(StateError) {
        try await transaction("complete drift windows") { () async throws(StateError) in
            if !ids.isEmpty { try await execute("complete drift windows", "DELETE FROM drift_windows WHERE id IN (\(Self.idList(ids)))") }
            for (key, baseline) in baselines {
                try await execute(
                    "complete drift windows",
                    """
                    INSERT INTO drift_baselines (stream, pixel_id, event_name, baseline, updated_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (stream, pixel_id, event_name) DO UPDATE SET baseline = excluded.baseline, updated_at = excluded.updated_at
                    """,
                    [.text(key.stream), .text(key.pixelID), .text(key.eventName), .text(StateColumns.encoded(baseline)), Self.time(now)]
                )
            }
        }
    }

    public func withDriftLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T? {
        try await withFileLock(path + ".drift-lock", body)
    }

    // MARK: Schemas

    public func addSchemaVersion(id: String, hash: String, body: String, now: UnixMillis) async throws(StateError) -> SchemaVersion {
        try await transaction("register schema") { () async throws(StateError) -> SchemaVersion in
            let known = try await execute(
                "register schema",
                "SELECT schema_id, version, hash, body, registered_at FROM schema_versions WHERE schema_id = ? AND hash = ?",
                [.text(id), .text(hash)]
            )
            if let row = known.first { return try Self.schemaVersion(row) }
            let next = try await execute(
                "register schema",
                "SELECT COALESCE(MAX(version), 0) + 1 AS v FROM schema_versions WHERE schema_id = ?",
                [.text(id)]
            )
            let version = try next.first?.int("v") ?? 1
            try await execute(
                "register schema",
                "INSERT INTO schema_versions (schema_id, version, hash, body, registered_at) VALUES (?, ?, ?, ?, ?)",
                [.text(id), .integer(version), .text(hash), .text(body), Self.time(now)]
            )
            return SchemaVersion(id: id, version: version, hash: hash, body: body, registeredAt: now)
        }
    }

    public func schemaVersions(id: String?) async throws(StateError) -> [SchemaVersion] {
        try await locked(
            "list schemas",
            "SELECT schema_id, version, hash, body, registered_at FROM schema_versions WHERE ? IS NULL OR schema_id = ? ORDER BY schema_id, version",
            [Self.text(id), Self.text(id)]
        ).map { row throws(StateError) in try Self.schemaVersion(row) }
    }

    static func schemaVersion(_ row: SQLiteRow) throws(StateError) -> SchemaVersion {
        SchemaVersion(
            id: try row.text("schema_id"),
            version: try row.int("version"),
            hash: try row.text("hash"),
            body: try row.text("body"),
            registeredAt: try row.millis("registered_at")
        )
    }
}

/// libc's `open(2)` and `close(2)` at file scope, apart from the registry's own `open` and `close`
/// (the same names resolve to libc here on Linux and macOS alike).
private func openLockFile(_ path: String) -> Int32 { open(path, O_CREAT | O_RDWR, 0o644) }

private func closeLockFile(_ descriptor: Int32) { _ = close(descriptor) }
