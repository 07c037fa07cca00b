import CAPICore
import Synchronization

/// Message ids accepted recently, so a second delivery of an id with a different body is refused
/// as a replay while a true retry (same id, same body) passes.
///
/// Ids are kept at least for the signature tolerance window (twice it, to cover both directions of
/// clock skew). In memory: a replica restart forgets them, and the event idempotency key still
/// stops the replayed event from being sent twice.
public final class ReplayLedger: Sendable {
    private struct Entry {
        var bodyDigest: String
        var expiresAt: Int64
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let retention: Int64

    public init(toleranceSeconds: Int64) {
        retention = max(600, toleranceSeconds * 2)
    }

    /// Records the id, or refuses it when it was seen with another body.
    public func admit(source: String, messageID: String, bodyDigest: String, now: Int64) -> Bool {
        entries.withLock { table in
            let key = source + "\u{0}" + messageID
            if let existing = table[key], existing.expiresAt > now {
                return existing.bodyDigest == bodyDigest
            }
            if table.count > 100_000 { table = table.filter { $0.value.expiresAt > now } }
            table[key] = Entry(bodyDigest: bodyDigest, expiresAt: now + retention)
            return true
        }
    }
}
