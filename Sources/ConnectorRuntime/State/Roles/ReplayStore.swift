import CAPICore

/// The webhook replay ledger kept in the store, for runners whose instances share nothing in
/// memory: Lambda execution environments, or several sidecar replicas over one PostgreSQL.
///
/// A delivery is its `key` (a digest of source and message id) and the digest of its body; it is
/// remembered until `expiresAt`, after which the signature check itself refuses any copy as stale.
public protocol ReplayStore: Sendable {
    /// Records the delivery unless a live entry holds the same key; returns the body digest the key
    /// is recorded with now: `bodyDigest` for a first delivery or a true retry, another digest for
    /// a replay with a different body. One statement, so concurrent callers agree.
    func recordDelivery(key: String, bodyDigest: String, expiresAt: UnixSeconds, now: UnixSeconds) async throws(StateError) -> String
    /// Forgets deliveries that expired before `now`; returns how many.
    @discardableResult
    func purgeExpiredDeliveries(now: UnixSeconds) async throws(StateError) -> Int
}

enum ReplaySQL {
    /// Insert, or keep a live entry, or replace an expired one; the row's digest comes back.
    /// `$1` key, `$2` digest, `$3` expiry, `$4` now (both dialects accept `$n`).
    static let record = """
        INSERT INTO webhook_deliveries (delivery_key, body_digest, expires_at) VALUES ($1, $2, $3)
        ON CONFLICT (delivery_key) DO UPDATE SET
          body_digest = CASE WHEN webhook_deliveries.expires_at <= $4 THEN excluded.body_digest ELSE webhook_deliveries.body_digest END,
          expires_at = CASE WHEN webhook_deliveries.expires_at <= $4 THEN excluded.expires_at ELSE webhook_deliveries.expires_at END
        RETURNING body_digest
        """
}
