import CAPICore

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
            (
                1,
                [
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
                ]
            ),
            // Claims since the last recorded outcome: a row claimed again while the count is above
            // zero was held by a process that died mid-send, so Meta may already have it.
            (2, ["ALTER TABLE outbox ADD COLUMN claims INTEGER NOT NULL DEFAULT 0"]),
            // When Meta stops accepting the event (ms): written at intake, so the forwarder never
            // searches payloads for the action source; rows already waiting get theirs here.
            (
                3,
                ["outbox", "dead_letters"].flatMap { table in
                    [
                        "ALTER TABLE \(table) ADD COLUMN expires_at \(big)",
                        """
                        UPDATE \(table) SET expires_at = (event_time + CASE WHEN payload LIKE '%"action_source":"physical_store"%'
                          THEN \(MetaLimits.physicalStoreMaximumEventAgeSeconds) ELSE \(MetaLimits.maximumEventAgeSeconds) END) * 1000
                        WHERE expires_at IS NULL
                        """,
                    ]
                }
            ),
            // The schema registry: versions numbered per schema id in registration order, each
            // identified by the SHA-256 of its canonical JSON. The version-1 `schemas` table was
            // never written by any build and is dropped.
            (
                4,
                [
                    """
                    CREATE TABLE IF NOT EXISTS schema_versions (schema_id TEXT NOT NULL, version INTEGER NOT NULL, hash TEXT NOT NULL,
                      body TEXT NOT NULL, registered_at \(big) NOT NULL, PRIMARY KEY (schema_id, version), UNIQUE (schema_id, hash))
                    """,
                    "DROP TABLE IF EXISTS schemas",
                ]
            ),
            // Drift alarms: what an alarm is about beyond its kind and pixel, how severe, when last
            // seen and how often; the drift monitor's windows (until evaluated) and baselines.
            (
                5,
                [
                    "ALTER TABLE alarms ADD COLUMN stream TEXT",
                    "ALTER TABLE alarms ADD COLUMN event_name TEXT",
                    "ALTER TABLE alarms ADD COLUMN field TEXT",
                    "ALTER TABLE alarms ADD COLUMN severity TEXT NOT NULL DEFAULT 'critical'",
                    "ALTER TABLE alarms ADD COLUMN last_seen \(big)",
                    "ALTER TABLE alarms ADD COLUMN occurrences \(big) NOT NULL DEFAULT 1",
                    "UPDATE alarms SET last_seen = raised_at WHERE last_seen IS NULL",
                    """
                    CREATE TABLE IF NOT EXISTS drift_windows (id \(d.serial), stream TEXT NOT NULL, pixel_id TEXT NOT NULL, event_name TEXT NOT NULL,
                      closed_at \(big) NOT NULL, counters TEXT NOT NULL)
                    """,
                    """
                    CREATE TABLE IF NOT EXISTS drift_baselines (stream TEXT NOT NULL, pixel_id TEXT NOT NULL, event_name TEXT NOT NULL,
                      baseline TEXT NOT NULL, updated_at \(big) NOT NULL, PRIMARY KEY (stream, pixel_id, event_name))
                    """,
                ]
            ),
            // Ad spend: one row per ad account, level, object and local day (`YYYY-MM-DD` in the
            // account's time zone, so text order is day order); the record is the typed row as JSON.
            (
                6,
                [
                    """
                    CREATE TABLE IF NOT EXISTS ad_insights (account_id TEXT NOT NULL, level TEXT NOT NULL, level_id TEXT NOT NULL, day TEXT NOT NULL,
                      record TEXT NOT NULL, pulled_at \(big) NOT NULL, run_id TEXT NOT NULL, PRIMARY KEY (account_id, level, level_id, day))
                    """
                ]
            ),
            // The webhook replay ledger shared by instances that share nothing in memory (Lambda,
            // replicas): one row per delivery id, kept until its signed timestamp is stale.
            (
                7,
                [
                    """
                    CREATE TABLE IF NOT EXISTS webhook_deliveries (delivery_key TEXT PRIMARY KEY, body_digest TEXT NOT NULL,
                      expires_at \(big) NOT NULL)
                    """,
                    "CREATE INDEX IF NOT EXISTS webhook_deliveries_expiry ON webhook_deliveries (expires_at)",
                ]
            ),
            // One row per accepted event instead of two: the idempotency ledger (content hash and
            // stored answer) moves into `delivered_events`, which has the same key and lifetime.
            // Intake writes one table and one key index fewer per event. Every ledger row is kept:
            // its hash and answer join the event's record; a ledger key without a record (never
            // written by capi-connector, only by hand) gets one with the outcome its outbox or
            // dead-letter row implies. Events waiting in the outbox are not touched.
            (
                8,
                [
                    "ALTER TABLE delivered_events ADD COLUMN content_hash TEXT",
                    "ALTER TABLE delivered_events ADD COLUMN answer TEXT",
                    """
                    UPDATE delivered_events SET
                      content_hash = (SELECT l.content_hash FROM ledger l WHERE \(keyMatch("l", "delivered_events"))),
                      answer = (SELECT l.answer FROM ledger l WHERE \(keyMatch("l", "delivered_events")))
                    """,
                    """
                    INSERT INTO delivered_events (pixel_id, event_id, event_time, received_at, outcome, record, updated_at, content_hash, answer)
                    SELECT l.pixel_id, l.event_id, l.event_time, l.created_at,
                      CASE WHEN EXISTS (SELECT 1 FROM outbox o WHERE \(keyMatch("o", "l"))) THEN '\(DeliveryOutcome.pending.rawValue)'
                           WHEN EXISTS (SELECT 1 FROM dead_letters x WHERE \(keyMatch("x", "l"))) THEN '\(DeliveryOutcome.deadLettered.rawValue)'
                           ELSE '\(DeliveryOutcome.forwarded.rawValue)' END,
                      '{}', l.created_at, l.content_hash, l.answer
                    FROM ledger l WHERE NOT EXISTS (SELECT 1 FROM delivered_events d WHERE \(keyMatch("d", "l")))
                    """,
                    "DROP TABLE ledger",
                ]
            ),
            // Version 9: a fifth of each page kept free for a row's next version, so many of the
            // forwarder's lease (outbox) and outcome (`delivered_events`) updates stay on their page
            // without new index entries (PostgreSQL's heap-only updates). Only new pages are
            // affected; nothing is rewritten. SQLite has no such setting.
            (
                9,
                d == .postgres ? ["ALTER TABLE outbox SET (fillfactor = 80)", "ALTER TABLE delivered_events SET (fillfactor = 80)"] : []
            ),
            // Version 10: half of each page kept free instead. The forwarder updates every row of a
            // page in one statement (claims and outcomes go in id order, thousands at a time), so
            // a page stays heap-only only if it has room for a second version of each of its rows;
            // at 80 about a third of the updates did, at 50 nearly all. Claims then write about a
            // sixth of the WAL and outcomes two thirds. New pages only; SQLite has no such setting.
            (
                10,
                d == .postgres ? ["ALTER TABLE outbox SET (fillfactor = 50)", "ALTER TABLE delivered_events SET (fillfactor = 50)"] : []
            ),
            // Version 11: `delivered_events` with the columns the forwarder changes last. PostgreSQL
            // logs only the changed middle of a row updated on its own page; with `outcome` and
            // `fbtrace_id` in front of the 600-byte record, the record went into the WAL with every
            // acknowledgement (973 bytes per forwarded event, 409 with this order). PostgreSQL
            // cannot move columns, so the table is copied, which only a small table is worth at
            // start-up: with more than 50,000 rows, or with anything an operator attached that a
            // copy would lose (grants, comments, views, triggers, policies, publications,
            // statistics, references), the table keeps its layout. SQLite rewrites whole rows.
            (11, d == .postgres ? [relaidDeliveredEvents] : []),
            // Version 12: a request's own `test_event_code` (the Graph-compatible route) kept with
            // each of its events until they are sent, also through the dead-letter queue. `NULL`
            // (every row queued before) sends with the pixel's code from the manifest. A nullable
            // column without a default is added without rewriting the table on either store.
            (12, ["ALTER TABLE outbox ADD COLUMN test_event_code TEXT", "ALTER TABLE dead_letters ADD COLUMN test_event_code TEXT"]),
        ]
    }

    /// Version 11's copy of `delivered_events`, in one block so that it happens whole or not at all.
    static let relaidDeliveredEvents = """
        DO $relayout$
        DECLARE
          t oid := 'delivered_events'::regclass;
        BEGIN
          IF (SELECT count(*) FROM (SELECT 1 FROM delivered_events LIMIT 50001) AS s) > 50000
             OR (SELECT relacl IS NOT NULL OR relrowsecurity FROM pg_class WHERE oid = t)
             OR EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = t AND attacl IS NOT NULL)
             OR EXISTS (SELECT 1 FROM pg_description WHERE classoid = 'pg_class'::regclass AND objoid = t)
             OR EXISTS (SELECT 1 FROM pg_depend WHERE refclassid = 'pg_class'::regclass AND refobjid = t
                          AND classid NOT IN ('pg_class'::regclass, 'pg_type'::regclass, 'pg_constraint'::regclass))
             OR EXISTS (SELECT 1 FROM pg_constraint WHERE confrelid = t)
          THEN
            RETURN;
          END IF;
          CREATE TABLE delivered_events_relaid (pixel_id TEXT NOT NULL, event_id TEXT NOT NULL, event_time BIGINT NOT NULL,
            received_at BIGINT NOT NULL, content_hash TEXT, answer TEXT, record TEXT NOT NULL, outcome TEXT NOT NULL,
            fbtrace_id TEXT, dead_letter_reason TEXT, updated_at BIGINT NOT NULL) WITH (fillfactor = 50);
          INSERT INTO delivered_events_relaid (pixel_id, event_id, event_time, received_at, content_hash, answer, record, outcome,
            fbtrace_id, dead_letter_reason, updated_at)
          SELECT pixel_id, event_id, event_time, received_at, content_hash, answer, record, outcome,
            fbtrace_id, dead_letter_reason, updated_at FROM delivered_events;
          DROP TABLE delivered_events;
          ALTER TABLE delivered_events_relaid RENAME TO delivered_events;
          ALTER TABLE delivered_events ADD PRIMARY KEY (pixel_id, event_id, event_time);
          CREATE INDEX delivered_events_received ON delivered_events (received_at);
        END
        $relayout$
        """

    /// `a` and `b` name the same event.
    private static func keyMatch(_ a: String, _ b: String) -> String {
        "\(a).pixel_id = \(b).pixel_id AND \(a).event_id = \(b).event_id AND \(a).event_time = \(b).event_time"
    }

    /// Statements that read every column the connector uses, run after migrating: a store whose
    /// tables were changed by hand fails at start-up with a clear message, not with 503s later.
    static let probes: [(table: String, sql: String)] = [
        ("cursors", "SELECT connector, stream, partition, position, run_id, updated_at FROM cursors LIMIT 0"),
        ("runs", "SELECT run_id, mode, started_at, ended_at, status, counts, error_class FROM runs LIMIT 0"),
        (
            "outbox",
            "SELECT id, pixel_id, event_id, event_time, payload, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at, claims, expires_at, test_event_code FROM outbox LIMIT 0"
        ),
        (
            "dead_letters",
            "SELECT id, pixel_id, event_id, event_time, payload, error_class, code, subcode, message, fbtrace_id, attempts, created_at, expires_at, test_event_code FROM dead_letters LIMIT 0"
        ),
        (
            "delivered_events",
            "SELECT pixel_id, event_id, event_time, received_at, outcome, fbtrace_id, dead_letter_reason, record, updated_at, content_hash, answer FROM delivered_events LIMIT 0"
        ),
        ("delivery_statuses", "SELECT pixel_id, bucket_start, event_name, event_source, count, pulled_at, run_id FROM delivery_statuses LIMIT 0"),
        ("match_quality", "SELECT pixel_id, event_name, snapshot_at, record, run_id FROM match_quality LIMIT 0"),
        ("schema_versions", "SELECT schema_id, version, hash, body, registered_at FROM schema_versions LIMIT 0"),
        (
            "alarms",
            "SELECT id, kind, pixel_id, stream, event_name, field, severity, message, raised_at, last_seen, occurrences, cleared_at FROM alarms LIMIT 0"
        ),
        ("drift_windows", "SELECT id, stream, pixel_id, event_name, closed_at, counters FROM drift_windows LIMIT 0"),
        ("drift_baselines", "SELECT stream, pixel_id, event_name, baseline, updated_at FROM drift_baselines LIMIT 0"),
        ("ad_insights", "SELECT account_id, level, level_id, day, record, pulled_at, run_id FROM ad_insights LIMIT 0"),
        ("webhook_deliveries", "SELECT delivery_key, body_digest, expires_at FROM webhook_deliveries LIMIT 0"),
    ]

    /// `expires_at`, or the 7-day limit for a row written by an older build during a rolling upgrade.
    static let expiresAtOrDefault = "COALESCE(expires_at, (event_time + \(MetaLimits.maximumEventAgeSeconds)) * 1000)"

    static func newerThanKnown(_ version: Int) -> StateError {
        StateError(
            .configuration,
            "the store's schema is at version \(version), newer than this build knows (\(latestVersion)); run a newer capi-connector"
        )
    }

    static func unusable(_ table: String, _ detail: String) -> StateError {
        StateError(
            .configuration,
            "the store's `\(table)` table is missing or lacks columns this build needs (\(detail)); it was changed outside capi-connector"
        )
    }

    static var latestVersion: Int { versions(.sqlite).map(\.version).max() ?? 0 }
}
