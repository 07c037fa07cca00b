import CAPICore
import ConnectorRuntime
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

    /// Both digests are taken once per delivery, in place: source, a zero byte and the id are
    /// laid out on the stack and hashed in one call, and no array is made of either digest.
    public init(source: String, messageID: String, body: UnsafeRawBufferPointer) {
        var source = source
        var messageID = messageID
        let key = source.withUTF8 { source in
            messageID.withUTF8 { messageID in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: source.count + 1 + messageID.count) { message in
                    _ = message.initialize(fromContentsOf: source)
                    message[source.count] = 0
                    _ = message[(source.count + 1)...].initialize(fromContentsOf: messageID)
                    return HexDigest(sha256Of: UnsafeRawBufferPointer(message))
                }
            }
        }
        (high, low) = key.withUnsafeBytes { (Self.word($0, 0), Self.word($0, 8)) }
        bodyDigest = HexDigest(sha256Of: body).withUnsafeBytes { Self.word($0, 0) }
    }

    /// The big-endian 64-bit word at `offset`.
    private static func word(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
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
/// signature check itself refuses any copy as stale, so nothing is forgotten early. At ``capacity``
/// live ids the ledger refuses new ones (the caller answers 503, the sender retries later) rather
/// than forget one. In memory: a replica restart forgets, and the event idempotency key still
/// stops a replayed event from being sent twice.
///
/// A full window at 2,000 ids a second is 600,000 ids, the largest part of the sidecar's memory.
/// The table keeps 20 bytes a slot: 96 bits of the (source, id) digest and 32 of the body's in
/// an open-addressed table probed linearly, and the expiry second beside it. A slot whose id
/// expired stays until a new id takes it or the expired slots are cleared, which keeps admission O(1)
/// with no per-id bookkeeping; the live count comes from a ring of per-second expiry counts. The
/// `Dictionary` and per-second id lists this replaced took 73 bytes an id, and the sidecar's
/// resident memory with 630,000 live ids fell by about 33 MB (docs/performance.md).
public final class ReplayLedger: ReplayGuard {
    public typealias Admission = ReplayAdmission

    /// A remembered delivery: bits of the (source, id) digest, and the body digest's top 32 bits
    /// in the low half of `lowKeyAndBody`. 96 key bits make a false match among 100 million live
    /// ids about 1 in 10^13; 32 body bits let 1 replay in 4 billion with another body pass as a
    /// retry, and a replay needs the sender's signing key anyway.
    struct Slot {
        var highKey: UInt64
        var lowKeyAndBody: UInt64

        static let unused = Slot(highKey: 0, lowKeyAndBody: 0)

        static func remembering(_ delivery: DeliveryFingerprint) -> Slot {
            Slot(highKey: delivery.high, lowKeyAndBody: (delivery.low & 0xFFFF_FFFF_0000_0000) | (delivery.bodyDigest >> 32))
        }

        func sameKey(as other: Slot) -> Bool {
            highKey == other.highKey && lowKeyAndBody >> 32 == other.lowKeyAndBody >> 32
        }
    }

    struct State {
        var slots: [Slot]
        /// Expiry second of each slot, counted from `epoch`; 0 marks a slot never used.
        var expiries: [UInt32]
        /// Slots used, by live and expired ids alike; past three quarters the expired ones go.
        var used = 0
        /// Ids not yet expired at `now`.
        var live = 0
        /// `expiring[second % count]`: how many ids expire during that second.
        var expiring: [Int]
        var expiringSecond: [Int64]
        /// The latest `now` seen: the ledger's clock never runs backwards, so an id once expired
        /// stays expired.
        var now: Int64
        var epoch: Int64
        /// Every expiry second up to this one has been counted out of `live`.
        var sweptUntil: Int64
    }

    static let smallestTable = 1_024

    private let state: Mutex<State?> = Mutex(nil)
    private let tolerance: Int64
    public let capacity: Int

    public init(tolerance: Duration, capacity: Int = 2_000_000) {
        self.tolerance = max(1, tolerance.components.seconds)
        self.capacity = capacity
    }

    /// Live ids (after expiring those due at `now`).
    public func count(now: UnixSeconds) -> Int {
        withState(now: now.rawValue) { $0.live }
    }

    /// Records the id of a verified delivery signed at `timestamp`, or says why not.
    public func admit(source: String, messageID: String, timestamp: UnixSeconds, body: UnsafeRawBufferPointer, now: UnixSeconds) -> Admission {
        admitNow(DeliveryFingerprint(source: source, messageID: messageID, body: body), timestamp: timestamp, now: now)
    }

    public func admit(_ delivery: DeliveryFingerprint, timestamp: UnixSeconds, now: UnixSeconds) async -> ReplayAdmission {
        admitNow(delivery, timestamp: timestamp, now: now)
    }

    func admitNow(_ delivery: DeliveryFingerprint, timestamp: UnixSeconds, now: UnixSeconds) -> Admission {
        let wanted = Slot.remembering(delivery)
        let tolerance = tolerance
        let capacity = capacity
        return withState(now: now.rawValue) { state in
            let now = state.now
            let current = UInt32(clamping: now - state.epoch)
            var index = Self.home(of: wanted, slotCount: state.slots.count)
            var free: Int?
            while state.expiries[index] != 0 {
                let expiry = state.expiries[index]
                if state.slots[index].sameKey(as: wanted) {
                    if expiry > current {
                        let sameBody = state.slots[index].lowKeyAndBody == wanted.lowKeyAndBody
                        return sameBody ? .admitted : .replayed
                    }
                    // The id expired here; no live copy of it lies further on (a new copy takes
                    // the first free slot on the way), so this slot takes it again.
                    free = free ?? index
                    break
                }
                if expiry <= current, free == nil { free = index }
                index += 1
                if index == state.slots.count { index = 0 }
            }
            guard state.live < capacity else { return .full }
            // The verifier admits only timestamps within the tolerance, so the expiry is within
            // the ring's reach; clamp anyway so a caller's mistake cannot index out of it.
            let expiresAt = min(max(Bounded.sum(timestamp.rawValue, tolerance + 1), now + 1), now + 2 * tolerance + 1)
            let target = free ?? index
            if state.expiries[target] == 0 { state.used += 1 }
            state.slots[target] = wanted
            state.expiries[target] = UInt32(clamping: expiresAt - state.epoch)
            state.live += 1
            let ring = Int(expiresAt % Int64(state.expiring.count))
            if state.expiringSecond[ring] != expiresAt {
                state.expiring[ring] = 0
                state.expiringSecond[ring] = expiresAt
            }
            state.expiring[ring] += 1
            if state.used > state.slots.count / 4 * 3 { Self.rebuild(&state) }
            return .admitted
        }
    }

    /// Runs `body` on the state with the clock moved to `now` and the ids due by then counted out.
    private func withState<T: Sendable>(now: Int64, _ body: (inout State) -> T) -> T {
        let ringSize = Int(2 * tolerance + 2)
        return state.withLock { state in
            if state == nil {
                // Expiries are stored as seconds after the epoch, in 32 bits: 136 years of range.
                state = State(
                    slots: Array(repeating: Slot.unused, count: Self.smallestTable),
                    expiries: Array(repeating: 0, count: Self.smallestTable),
                    expiring: Array(repeating: 0, count: ringSize),
                    expiringSecond: Array(repeating: .min, count: ringSize),
                    now: now,
                    epoch: now - 1,
                    sweptUntil: now
                )
            }
            return Self.advance(&state!, to: now, body)
        }
    }

    private static func advance<T: Sendable>(_ state: inout State, to now: Int64, _ body: (inout State) -> T) -> T {
        state.now = max(state.now, now)
        let ringSize = Int64(state.expiring.count)
        // Work is proportional to the seconds elapsed, at most one turn of the ring.
        var second = max(state.sweptUntil + 1, state.now - ringSize + 1)
        while second <= state.now {
            let ring = Int(second % ringSize)
            if state.expiringSecond[ring] <= state.now, state.expiringSecond[ring] != .min {
                state.live -= state.expiring[ring]
                state.expiring[ring] = 0
                state.expiringSecond[ring] = .min
            }
            second += 1
        }
        state.sweptUntil = max(state.sweptUntil, state.now)
        return body(&state)
    }

    /// Where probing for `slot` starts: its key bits are a digest already, so they index directly.
    private static func home(of slot: Slot, slotCount: Int) -> Int {
        Int(truncatingIfNeeded: slot.highKey.multipliedFullWidth(by: UInt64(slotCount)).high)
    }

    /// Drops the expired ids once three quarters of the slots are used. A table whose live ids
    /// fill between an eighth and 60% of it is compacted in place, which is the steady state of a
    /// sidecar under constant load; otherwise the live ids move to a new table at half load.
    private static func rebuild(_ state: inout State) {
        let count = state.slots.count
        let compacted = state.live * 5 <= count * 3 && (state.live * 8 >= count || count == smallestTable) && compact(&state)
        if !compacted { reallocate(&state, count: max(smallestTable, state.live * 2)) }
        state.used = state.live
    }

    /// Copies the live ids into a new table of `count` slots. Old slots are read in order, so
    /// their homes, and the writes to the new table, come in nearly ascending order.
    private static func reallocate(_ state: inout State, count: Int) {
        let current = UInt32(clamping: state.now - state.epoch)
        var slots = Array(repeating: Slot.unused, count: count)
        var expiries = [UInt32](repeating: 0, count: count)
        for index in state.slots.indices where state.expiries[index] > current {
            var target = home(of: state.slots[index], slotCount: count)
            while expiries[target] != 0 {
                target += 1
                if target == count { target = 0 }
            }
            slots[target] = state.slots[index]
            expiries[target] = state.expiries[index]
        }
        state.slots = slots
        state.expiries = expiries
    }

    /// Empties the expired slots and moves every live id back to the first free slot from its
    /// home, in one pass with no allocation: 11 ms for 600,000 live ids, where a new table of
    /// that size stalled admission for 22 ms. Returns false, changing nothing, if no slot is unused.
    ///
    /// The pass starts after a slot no id ever used: no probe path crosses such a slot, so each
    /// path lies wholly before the id at its end, and every slot between an id's home and the id
    /// is final when the id's turn comes. An id only ever moves back into a slot on its own
    /// path, so no path it leaves behind loses a slot another id relies on.
    private static func compact(_ state: inout State) -> Bool {
        let count = state.slots.count
        let current = UInt32(clamping: state.now - state.epoch)
        // Called at three quarters used, so about a quarter of the slots were never used.
        guard let start = state.expiries.firstIndex(of: 0) else { return false }
        for index in 0..<count where state.expiries[index] <= current { state.expiries[index] = 0 }
        var index = start
        for _ in 1..<count {
            index += 1
            if index == count { index = 0 }
            guard state.expiries[index] != 0 else { continue }
            var target = home(of: state.slots[index], slotCount: count)
            while target != index, state.expiries[target] != 0 {
                target += 1
                if target == count { target = 0 }
            }
            guard target != index else { continue }
            state.slots[target] = state.slots[index]
            state.expiries[target] = state.expiries[index]
            state.expiries[index] = 0
        }
        return true
    }
}

/// The replay ledger in the state store: every instance sees every other's ids. Expired rows are
/// purged at most once a minute by whichever instance admits next.
public final class SharedReplayLedger: ReplayGuard {
    let store: any ReplayStore
    let tolerance: Int64
    /// How long a request waits for the store's answer before it is refused as unavailable.
    let limit: Duration
    private let lastPurge = Mutex<Int64>(0)

    public init(store: any ReplayStore, tolerance: Duration, limit: Duration = PushConfiguration.Limits.defaultCommitTimeout) {
        self.store = store
        self.tolerance = max(1, tolerance.components.seconds)
        self.limit = limit
    }

    public func admit(_ delivery: DeliveryFingerprint, timestamp: UnixSeconds, now: UnixSeconds) async -> ReplayAdmission {
        let key = Self.hex(delivery.high) + Self.hex(delivery.low)
        let digest = Self.hex(delivery.bodyDigest)
        let expiresAt = UnixSeconds(Bounded.sum(timestamp.rawValue, tolerance + 1))
        do {
            let recorded = try await withStateDeadline(limit, "record delivery") { [store] in
                try await store.recordDelivery(key: key, bodyDigest: digest, expiresAt: expiresAt, now: now)
            }
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
