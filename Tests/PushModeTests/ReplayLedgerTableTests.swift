import CAPICore
import PushMode
import Testing

/// The in-memory ledger's table: expired ids leave their slots behind until a new id takes one or
/// the expired slots are cleared, and neither may make a live id forgotten or an expired one
/// remembered.
@Suite("replay ledger table")
struct ReplayLedgerTableTests {
    static func admit(_ ledger: ReplayLedger, _ id: Int, body: UInt8, signedAt: Int64, now: Int64) -> ReplayAdmission {
        [body].withUnsafeBytes {
            ledger.admit(source: "s", messageID: "msg-\(id)", timestamp: UnixSeconds(signedAt), body: $0, now: UnixSeconds(now))
        }
    }

    @Test("through growth, reused slots and clearing, every id is known exactly until its window ends")
    func knownUntilExpiry() {
        let tolerance: Int64 = 60
        let ledger = ReplayLedger(tolerance: .seconds(tolerance), capacity: 100_000)
        // 30,000 ids over 150 s, 200 a second: the first ones expire while later ones arrive, so
        // slots are left expired and reused, the table grows, and expired slots are cleared.
        let ids = 30_000
        func signedAt(_ id: Int) -> Int64 { 10_000 + Int64(id / 200) }
        for id in 0..<ids {
            #expect(Self.admit(ledger, id, body: 1, signedAt: signedAt(id), now: signedAt(id)) == .admitted)
        }
        let now = signedAt(ids - 1)
        let live = (0..<ids).filter { signedAt($0) + tolerance + 1 > now }
        #expect(ledger.count(now: UnixSeconds(now)) == live.count)
        // Newest first: the ids that expired last are checked before re-admitting the older ones
        // moves or clears anything.
        for id in (0..<ids).reversed() {
            let isLive = signedAt(id) + tolerance + 1 > now
            // A retry of a live id passes; another body under it is a replay; an expired id is new.
            if isLive { #expect(Self.admit(ledger, id, body: 1, signedAt: signedAt(id), now: now) == .admitted) }
            #expect(Self.admit(ledger, id, body: 2, signedAt: now, now: now) == (isLive ? .replayed : .admitted))
        }
        // The expired ids came back as new ones, signed at `now`.
        #expect(ledger.count(now: UnixSeconds(now)) == ids)
    }

    @Test("an id once expired stays expired when the clock steps back")
    func clockSteppingBack() {
        let ledger = ReplayLedger(tolerance: .seconds(60))
        #expect(Self.admit(ledger, 1, body: 1, signedAt: 1_000, now: 1_000) == .admitted)
        #expect(ledger.count(now: UnixSeconds(1_061)) == 0)
        #expect(ledger.count(now: UnixSeconds(1_050)) == 0)
        #expect(Self.admit(ledger, 1, body: 2, signedAt: 1_050, now: 1_050) == .admitted)
        #expect(Self.admit(ledger, 1, body: 3, signedAt: 1_050, now: 1_050) == .replayed)
    }
}
