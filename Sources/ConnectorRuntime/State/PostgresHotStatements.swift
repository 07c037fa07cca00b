import CAPICore
import PostgresNIO

// The statements every accepted event passes through, prepared once per pooled connection.
//
// Sent as ad-hoc queries, PostgreSQL parsed and planned each one again for every group commit and
// every forwarder batch, a large share of a small group's cost (group commit of single events gained
// about 30% from preparing them). Their texts never change (the batch travels in array parameters),
// so a named prepared statement is parsed once per connection and its plan reused. Parameter types
// are declared, so a `NULL` bound on the first execution cannot leave a parameter's type to
// inference. `prepared_statements=off` in the state URL sends the same SQL unnamed, and so is
// the claim always, whose best plan depends on how full the outbox is (`PlannedPerExecution`).

/// Intake: the first occurrence of each key gets its `delivered_events` row (the idempotency
/// ledger: key, content hash, stored answer, and the stream record), and only keys it took get an
/// outbox row. One statement, atomic by itself; returns the keys it inserted.
///
/// The rows go in in key order (``rows(of:)`` sorts them by their bytes), so two of these running
/// at once over shared keys always meet on the lowest shared key first: the later one waits for
/// the earlier one's commit and never holds a key the other needs (no deadlock).
///
/// The arrays are unnested in the select list, which PostgreSQL streams a row at a time, and the
/// outbox rows are matched against a hash of the inserted keys. The statement used to take each
/// key once with `DISTINCT ON` over an `UNNEST … WITH ORDINALITY` in `FROM`: that materializes
/// every row, sorts it and keeps it for the second insert, so a batch of 1,000 events of 5 KB
/// wrote three temporary files of 5 MB and took 207 ms, against 32 ms streamed (15.4 against
/// 23.5 ms for events of 1.2 KB; `EXPLAIN ANALYZE`, docs/performance.md, twenty-second part).
struct IntakeStatement: PostgresPreparedStatement, ChangesRows {
    static let name = "capi_intake"
    static let sql = """
        WITH inserted AS (
          INSERT INTO delivered_events (pixel_id, event_id, event_time, received_at, outcome, record, updated_at, content_hash, answer)
          SELECT p, e, t, r, 'pending', rec, r, h, a
          FROM (SELECT unnest($1::text[]) AS p, unnest($2::text[]) AS e, unnest($3::int8[]) AS t, unnest($4::text[]) AS h,
                       unnest($5::text[]) AS a, unnest($6::int8[]) AS r, unnest($8::text[]) AS rec) AS u
          ON CONFLICT DO NOTHING
          RETURNING pixel_id, event_id, event_time),
        queued AS (
          INSERT INTO outbox (pixel_id, event_id, event_time, payload, attempts, next_attempt_at, created_at, expires_at, test_event_code)
          SELECT u.p, u.e, u.t, u.body, 0, u.r, u.r, u.x, NULLIF(u.c, '')
          FROM (SELECT unnest($1::text[]) AS p, unnest($2::text[]) AS e, unnest($3::int8[]) AS t, unnest($7::text[]) AS body,
                       unnest($6::int8[]) AS r, unnest($9::int8[]) AS x, unnest($10::text[]) AS c) AS u
          WHERE (u.p, u.e, u.t) IN (SELECT pixel_id, event_id, event_time FROM inserted))
        SELECT pixel_id, event_id, event_time FROM inserted
        """
    static let bindingDataTypes: [PostgresDataType] = [
        .textArray, .textArray, .int8Array, .textArray, .textArray, .int8Array, .textArray, .textArray, .int8Array, .textArray,
    ]
    typealias Row = EventKey

    /// The first item of each key, in key order.
    let items: [IntakeItem]

    init(items: [IntakeItem]) {
        self.items = Self.rows(of: items)
    }

    /// The first item of each key (keys compared by their bytes, as the stores compare them),
    /// ordered by pixel, event id and event time, each by its bytes: one order for every commit.
    static func rows(of items: [IntakeItem]) -> [IntakeItem] {
        var seen = Set<EventKey>(minimumCapacity: items.count)
        var rows = items.filter { seen.insert($0.key).inserted }
        rows.sort { left, right in
            let (a, b) = (left.key, right.key)
            let pixel = compareBytes(a.pixelID, b.pixelID)
            if pixel != 0 { return pixel < 0 }
            let event = compareBytes(a.eventID, b.eventID)
            if event != 0 { return event < 0 }
            return a.eventTime.rawValue < b.eventTime.rawValue
        }
        return rows
    }

    /// Negative, zero or positive as `a`'s UTF-8 sorts before, with or after `b`'s. On the bytes
    /// of native strings directly: comparing through `UTF8View`'s iterators, ``rows(of:)`` was 4.5%
    /// of `bench state`'s samples, and 2.2% this way (`perf record -g`, one profile each).
    static func compareBytes(_ a: String, _ b: String) -> Int {
        let direct = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in
                for index in 0..<min(x.count, y.count) where x[index] != y[index] { return Int(x[index]) - Int(y[index]) }
                return x.count - y.count
            }
        }
        if let direct, let result = direct { return result }
        if a.utf8.elementsEqual(b.utf8) { return 0 }
        return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1
    }

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 10)
        bindings.append(items.map(\.key.pixelID))
        bindings.append(items.map(\.key.eventID))
        bindings.append(items.map(\.key.eventTime.rawValue))
        bindings.append(items.map(\.contentHash))
        bindings.append(items.map(\.answer))
        bindings.append(items.map(\.receivedAt.rawValue))
        bindings.append(items.map(\.payload))
        bindings.append(items.map(\.deliveredRecord))
        bindings.append(items.map(\.expiresAt.rawValue))
        // The array cannot hold NULL here: "" stands for none (a code is never empty).
        bindings.append(items.map { $0.testEventCode ?? "" })
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> EventKey {
        var cells = PostgresRowReader(row)
        return EventKey(pixelID: try cells.next(), eventID: try cells.next(), eventTime: UnixSeconds(try cells.next(Int64.self)))
    }
}

/// A statement PostgreSQL plans again at every execution, for the rows its tables hold then.
///
/// A named prepared statement is planned for its first five executions; after that the server may
/// keep one generic plan for the rest of the connection's life, costed with the table sizes of the
/// moment it was made, until an `ANALYZE` replaces it. So it is sent unnamed, which is planned at
/// each execution (the same SQL and bindings; parsing and planning a claim take well under a
/// millisecond, against its milliseconds of work).
protocol PlannedPerExecution {}

/// Leases up to `limit` outbox rows due by `dueBy`, oldest first, skipping rows another claimer holds.
///
/// The rows are found by their physical address (`ctid`), which the locking subquery returns:
/// matching them by `id` again cost one primary-key descent per row, about a sixth of a
/// 4,000-row claim. The subquery runs once, before the update, and locks every row it returns,
/// so no other transaction can move one of them in between.
///
/// Planned at each execution: a claim first run on an empty outbox, as a new sidecar's forwarder
/// runs it, kept a plan that reads the whole table and sorts it, and a claim of 1,000 rows from a
/// 70,000-row backlog took 621 ms and wrote its sort to disk, against 5.3 ms planned for the rows
/// there are (an index scan in `id` order and a scan of the locked rows' addresses).
struct ClaimOutboxStatement: PostgresPreparedStatement, PlannedPerExecution, ChangesRows {
    static let name = "capi_claim_outbox"
    static let sql = """
        UPDATE outbox SET lease_owner = $1, lease_until = $2, claims = claims + 1
        WHERE ctid = ANY(ARRAY(
          SELECT ctid FROM outbox
          WHERE next_attempt_at <= $6 AND (lease_until IS NULL OR lease_until <= $3)
            AND ($4::text IS NULL OR pixel_id = $4)
          ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED))
        RETURNING id, pixel_id, event_id, event_time, payload, attempts, created_at, claims, \(StateMigrations.expiresAtOrDefault), test_event_code
        """
    static let bindingDataTypes: [PostgresDataType] = [.text, .int8, .int8, .text, .int8, .int8]
    typealias Row = OutboxEntry

    var owner: String
    var leaseUntil: Int64
    var now: Int64
    var pixelID: String?
    var limit: Int64
    var dueBy: Int64

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 6)
        bindings.append(owner)
        bindings.append(leaseUntil)
        bindings.append(now)
        bindings.append(pixelID)
        bindings.append(limit)
        bindings.append(dueBy)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> OutboxEntry {
        var cells = PostgresRowReader(row)
        return OutboxEntry(
            id: try cells.next(),
            key: EventKey(pixelID: try cells.next(), eventID: try cells.next(), eventTime: UnixSeconds(try cells.next(Int64.self))),
            payload: try cells.next(),
            attempts: try cells.next(),
            createdAt: UnixMillis(try cells.next(Int64.self)),
            claims: try cells.next(),
            expiresAt: UnixMillis(try cells.next(Int64.self)),
            testEventCode: try cells.next(String?.self)
        )
    }
}

/// Meta took these rows: they leave the outbox and their stream records say forwarded, in one
/// statement (one round trip, atomic without `BEGIN`/`COMMIT`).
struct MarkForwardedStatement: PostgresPreparedStatement, ChangesRows {
    static let name = "capi_mark_forwarded"
    static let sql = """
        WITH gone AS (DELETE FROM outbox WHERE id = ANY($1::int8[]) RETURNING pixel_id, event_id, event_time)
        UPDATE delivered_events d SET outcome = '\(DeliveryOutcome.forwarded.rawValue)', fbtrace_id = $2, updated_at = $3
        FROM gone k WHERE d.pixel_id = k.pixel_id AND d.event_id = k.event_id AND d.event_time = k.event_time
        """
    static let bindingDataTypes: [PostgresDataType] = [.int8Array, .text, .int8]
    typealias Row = Void

    var ids: [Int64]
    var fbtraceID: String?
    var now: Int64

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 3)
        bindings.append(ids)
        bindings.append(fbtraceID)
        bindings.append(now)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws {}
}
