/// Versioned schema migrations, written once and rendered for each SQL dialect.
///
/// A migration is applied at most once (recorded in `schema_migrations`); applying them again is
/// harmless. New versions are appended, never edited.
enum StateMigrations {
    enum Dialect {
        case postgres, sqlite

        var serial: String { self == .postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT" }
        var bigint: String { self == .postgres ? "BIGINT" : "INTEGER" }
    }

    static let bookkeeping = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"

    /// Statements per version, in order.
    static func versions(_ d: Dialect) -> [(version: Int, statements: [String])] {
        let big = d.bigint
        return [
            (1, [
                """
                CREATE TABLE IF NOT EXISTS cursors (connector TEXT NOT NULL, stream TEXT NOT NULL, partition TEXT NOT NULL,
                  position \(big) NOT NULL, run_id TEXT NOT NULL, updated_at \(big) NOT NULL, PRIMARY KEY (connector, stream, partition))
                """,
                """
                CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, mode TEXT NOT NULL, started_at \(big) NOT NULL, ended_at \(big),
                  status TEXT NOT NULL, counts TEXT NOT NULL, error_class TEXT)
                """,
                "CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at)",
                """
                CREATE TABLE IF NOT EXISTS ledger (pixel_id TEXT NOT NULL, event_id TEXT NOT NULL, event_time \(big) NOT NULL,
                  content_hash TEXT NOT NULL, answer TEXT NOT NULL, created_at \(big) NOT NULL, PRIMARY KEY (pixel_id, event_id, event_time))
                """,
                """
                CREATE TABLE IF NOT EXISTS outbox (id \(d.serial), pixel_id TEXT NOT NULL, event_id TEXT NOT NULL, event_time \(big) NOT NULL,
                  payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at \(big) NOT NULL, lease_owner TEXT,
                  lease_until \(big), last_error TEXT, created_at \(big) NOT NULL)
                """,
                "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at, id)",
                """
                CREATE TABLE IF NOT EXISTS dead_letters (id \(d.serial), pixel_id TEXT NOT NULL, event_id TEXT NOT NULL, event_time \(big) NOT NULL,
                  payload TEXT NOT NULL, error_class TEXT NOT NULL, code INTEGER, subcode INTEGER, message TEXT NOT NULL, fbtrace_id TEXT,
                  attempts INTEGER NOT NULL, created_at \(big) NOT NULL)
                """,
                """
                CREATE TABLE IF NOT EXISTS delivered_events (pixel_id TEXT NOT NULL, event_id TEXT NOT NULL, event_time \(big) NOT NULL,
                  received_at \(big) NOT NULL, outcome TEXT NOT NULL, fbtrace_id TEXT, dead_letter_reason TEXT, record TEXT NOT NULL,
                  updated_at \(big) NOT NULL, PRIMARY KEY (pixel_id, event_id, event_time))
                """,
                "CREATE INDEX IF NOT EXISTS delivered_events_received ON delivered_events (received_at)",
                """
                CREATE TABLE IF NOT EXISTS delivery_statuses (pixel_id TEXT NOT NULL, bucket_start \(big) NOT NULL, event_name TEXT NOT NULL,
                  event_source TEXT NOT NULL, count \(big) NOT NULL, pulled_at \(big) NOT NULL, run_id TEXT NOT NULL,
                  PRIMARY KEY (pixel_id, bucket_start, event_name, event_source))
                """,
                """
                CREATE TABLE IF NOT EXISTS match_quality (pixel_id TEXT NOT NULL, event_name TEXT NOT NULL, snapshot_at \(big) NOT NULL,
                  record TEXT NOT NULL, run_id TEXT NOT NULL, PRIMARY KEY (pixel_id, event_name, snapshot_at))
                """,
                "CREATE TABLE IF NOT EXISTS schemas (schema_id TEXT PRIMARY KEY, body TEXT NOT NULL, registered_at \(big) NOT NULL)",
                """
                CREATE TABLE IF NOT EXISTS alarms (id \(d.serial), kind TEXT NOT NULL, pixel_id TEXT, message TEXT NOT NULL,
                  raised_at \(big) NOT NULL, cleared_at \(big))
                """,
            ]),
        ]
    }

    static var latestVersion: Int { versions(.sqlite).map(\.version).max() ?? 0 }
}
