import CAPICore
import ConnectorRuntime
import Crypto
import Synchronization

/// What the replay check answers for a verified delivery.
public enum ReplayAdmission: Sendable, Equatable {
    /// New id, or a retry of an accepted one with the same body.
    case admitted
    /// Seen within the window with a different body.
    case replayed
    /// The ledger holds its capacity of live ids; nothing was recorded.
    case full
    /// The shared ledger's store did not answer; nothing is known, so nothing is accepted.
    case unavailable
}

/// A verified delivery as the replay check sees it: a 128-bit digest of (source, message id) and
/// a 64-bit digest of the body, so a retry (same id, same body) differs from a replay.
public struct DeliveryFingerprint: Sendable, Hashable {
    var high: UInt64
    var low: UInt64
    var bodyDigest: UInt64

    public init(source: String, messageID: String, body: UnsafeRawBufferPointer) {
        var hasher = SHA256()
        hasher.update(data: Array(source.utf8))
        hasher.update(data: [0])
        hasher.update(data: Array(messageID.utf8))
        let key = Array(hasher.finalize())
        high = Self.word(key, 0)
        low = Self.word(key, 8)
        bodyDigest = Self.word(Array(SHA256.hash(data: body)), 0)
    }

    private static func word(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in offset..<offset + 8 { value = value << 8 | UInt64(bytes[index]) }
        return value
    }
}

/// Remembers recently accepted webhook ids; in memory (``ReplayLedger``) for one process, or in
/// the state store (``SharedReplayLedger``) when instances share nothing in memory.
public protocol ReplayGuard: Sendable {
    /// Records a verified delivery signed at `timestamp`, or says why not.
    func admit(_ delivery: DeliveryFingerprint, timestamp: UnixSeconds, now: UnixSeconds) async -> ReplayAdmission
}

/// Message ids accepted recently, so a second delivery of an id with a different body is refused
/// as a replay while a true retry (same id, same body) passes.
///
/// An id is remembered until its signed timestamp leaves the tolerance window: after that the
/// signature check itself refuses any copy as stale, so nothing is forgotten early. Admission is
/// O(1): entries are 128-bit digests of (source, id) in a hash table, and expiry walks a ring of
/// one-second buckets. At ``capacity`` the ledger refuses new ids (the caller answers 503, the
/// sender retries later) rather than forget one. In memory: a replica restart forgets, and the
/// event idempotency key still stops a replayed event from being sent twice.
public final class ReplayLedger: ReplayGuard {
    public typealias Admission = ReplayAdmission

    struct Key: Hashable {
        var high: UInt64
        var low: UInt64
    }

    struct Entry {
        var bodyDigest: UInt64
        var expiresAt: Int64
    }

    struct State {
        var entries: [Key: Entry] = [:]
        /// `buckets[second % count]`: ids that expire during that second.
        var buckets: [[Key]]
        var bucketSecond: [Int64]
        /// Every bucket before this second has been emptied.
        var sweptUntil: Int64?
    }

    private let state: Mutex<State>
    private let tolerance: Int64
    public let capacity: Int

    public init(tolerance: Duration, capacity: Int = 2_000_000) {
        let tolerance = max(1, tolerance.components.seconds)
        self.tolerance = tolerance
        self.capacity = capacity
        let slots = Int(2 * tolerance + 2)
        state = Mutex(State(buckets: Array(repeating: [], count: slots), bucketSecond: Array(repeating: .min, count: slots)))
    }

    /// Live ids (after expiring those due at `now`).
    public func count(now: UnixSeconds) -> Int {
        let now = now.rawValue
        return state.withLock { state in
            sweep(&state, now: now)
            return state.entries.count
        }
    }

    /// Records the id of a verified delivery signed at `timestamp`, or says why not.
    public func admit(source: String, messageID: String, timestamp: UnixSeconds, body: UnsafeRawBufferPointer, now: UnixSeconds) -> Admission {
        admitNow(DeliveryFingerprint(source: source, messageID: messageID, body: body), timestamp: timestamp, now: now)
    }

    public func admit(_ delivery: DeliveryFingerprint, timestamp: UnixSeconds, now: UnixSeconds) async -> ReplayAdmission {
        admitNow(delivery, timestamp: timestamp, now: now)
    }

    func admitNow(_ delivery: DeliveryFingerprint, timestamp: UnixSeconds, now: UnixSeconds) -> Admission {
        let (timestamp, now) = (timestamp.rawValue, now.rawValue)
        let key = Key(high: delivery.high, low: delivery.low)
        let digest = delivery.bodyDigest
        let expiresAt = Bounded.sum(timestamp, tolerance + 1)
        return state.withLock { state in
            sweep(&state, now: now)
            if let existing = state.entries[key], existing.expiresAt > now {
                return existing.bodyDigest == digest ? .admitted : .replayed
            }
            guard state.entries.count < capacity else { return .full }
            // The verifier admits only timestamps within the tolerance, so the expiry is within
            // the ring's reach; clamp anyway so a caller's mistake cannot index out of it.
            let expiry = min(max(expiresAt, now + 1), now + 2 * tolerance + 1)
            state.entries[key] = Entry(bodyDigest: digest, expiresAt: expiry)
            let slot = Int(expiry % Int64(state.buckets.count))
            if state.bucketSecond[slot] != expiry {
                state.buckets[slot].removeAll(keepingCapacity: true)
                state.bucketSecond[slot] = expiry
            }
            state.buckets[slot].append(key)
            return .admitted
        }
    }

    /// Empties every bucket whose second has passed; work is proportional to the seconds elapsed
    /// (at most one turn of the ring) plus the ids expired.
    private func sweep(_ state: inout State, now: Int64) {
        let slots = Int64(state.buckets.count)
        let start = max(state.sweptUntil ?? now, now - slots)
        guard start < now + 1 else { return }
        var second = start
        while second <= now {
            let slot = Int(((second % slots) + slots) % slots)
            if state.bucketSecond[slot] <= now, state.bucketSecond[slot] != .min {
                for key in state.buckets[slot] where (state.entries[key]?.expiresAt ?? .max) <= now {
                    state.entries[key] = nil
                }
                state.buckets[slot].removeAll(keepingCapacity: true)
                state.bucketSecond[slot] = .min
            }
            second += 1
        }
        state.sweptUntil = now + 1
    }
}

/// The replay ledger in the state store: every instance sees every other's ids. Expired rows are
/// purged at most once a minute by whichever instance admits next.
public final class SharedReplayLedger: ReplayGuard {
    let store: any ReplayStore
    let tolerance: Int64
    private let lastPurge = Mutex<Int64>(0)

    public init(store: any ReplayStore, tolerance: Duration) {
        self.store = store
        self.tolerance = max(1, tolerance.components.seconds)
    }

    public func admit(_ delivery: DeliveryFingerprint, timestamp: UnixSeconds, now: UnixSeconds) async -> ReplayAdmission {
        let key = Self.hex(delivery.high) + Self.hex(delivery.low)
        let digest = Self.hex(delivery.bodyDigest)
        let expiresAt = UnixSeconds(Bounded.sum(timestamp.rawValue, tolerance + 1))
        do {
            let recorded = try await store.recordDelivery(key: key, bodyDigest: digest, expiresAt: expiresAt, now: now)
            let purgeDue = lastPurge.withLock { last in
                guard now.rawValue - last >= 60 else { return false }
                last = now.rawValue
                return true
            }
            if purgeDue { _ = try? await store.purgeExpiredDeliveries(now: now) }
            return recorded == digest ? .admitted : .replayed
        } catch {
            return .unavailable
        }
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
