import CAPICore

/// What `state prune` takes from a stream: the rows describing times before a cutoff (an event's
/// receipt, a status's hour, a quality snapshot, an insights day). The connector never trims its
/// streams by itself; an operator keeps as much history as the analysis needs.
///
/// `delivered_events` is also the idempotency ledger, so it keeps what the ledger may still need:
/// rows whose event could still be sent again and accepted (its `event_time` within Meta's longest
/// age limit, with the future skew allowed), and rows not yet forwarded: queued, or dead-lettered
/// with the dead letter still there to replay. A dead-lettered row whose dead letter was purged
/// can never be sent, so it goes like a forwarded one.
public struct StreamPrune: Sendable, Equatable {
    public var stream: StateStream
    public var before: UnixMillis
    /// `delivered_events` rows whose event time is at or after this stay.
    public var ledgerFloor: UnixSeconds

    public init(stream: StateStream, before: UnixMillis, now: UnixMillis) {
        self.stream = stream
        self.before = before
        let keep = MetaLimits.physicalStoreMaximumEventAgeSeconds + MetaLimits.longestFutureSkewSeconds
        self.ledgerFloor = UnixSeconds(now.seconds.rawValue - keep)
    }

    /// The rows taken, with `?` for each value in order; both backends run it.
    public var condition: (sql: String, values: [StatementValue]) {
        switch stream {
        case .deliveredEvents:
            (
                // One key per dead letter, looked up in a list built once: SQLite scanned the dead
                // letters for each row with NOT EXISTS or a row value (6.6 and 3.5 s for 20,000
                // dead-lettered rows of a million, 0.1 s this way). A row whose dead letter is
                // there finds its own key, so it stays; two events sharing a key text could only
                // keep a row, never take one.
                """
                received_at < ? AND event_time < ? AND (outcome = '\(DeliveryOutcome.forwarded.rawValue)' OR (outcome = '\(DeliveryOutcome.deadLettered.rawValue)' \
                AND \(Self.deadLetterKey) NOT IN (SELECT \(Self.deadLetterKey) FROM dead_letters)))
                """,
                [.integer(before.rawValue), .integer(ledgerFloor.rawValue)]
            )
        case .deliveryStatuses: ("bucket_start < ?", [.integer(before.seconds.rawValue)])
        case .matchQuality: ("snapshot_at < ?", [.integer(before.rawValue)])
        // An account's days are its own: those before the cutoff's UTC day are taken.
        case .adInsights: ("day < ?", [.text(AccountTimeZone.utc.day(of: before.seconds).description)])
        }
    }

    /// An event's key as one text, the same in `delivered_events` and `dead_letters`.
    static let deadLetterKey = "pixel_id || ' ' || event_id || ' ' || event_time"
}
