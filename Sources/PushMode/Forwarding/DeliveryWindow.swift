import Synchronization

/// How many Graph requests one forwarder has in flight: `push.batching.max_in_flight` slots.
///
/// A batch takes a slot before it is sent and gives it back when its outcome is recorded, so a
/// slow batch holds one slot, not the whole round: the others keep claiming and sending.
final class DeliveryWindow: Sendable {
    private struct State {
        var inFlight = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Slots free right now (a hint for how much to claim; ``take(upTo:)`` decides).
    var free: Int { state.withLock { limit - $0.inFlight } }

    /// Takes up to `count` free slots at once, without waiting; returns how many it took.
    func take(upTo count: Int) -> Int {
        state.withLock { state in
            let taken = max(0, min(count, limit - state.inFlight))
            state.inFlight += taken
            return taken
        }
    }

    /// Takes one slot, waiting for a batch to finish when all are in use.
    func acquire() async {
        await withCheckedContinuation { continuation in
            let granted = state.withLock { state in
                if state.inFlight < limit {
                    state.inFlight += 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    /// Waits until at least one slot is free, without taking it.
    func waitForFreeSlot() async {
        guard free == 0 else { return }
        await acquire()
        release()
    }

    /// Gives a slot back; the longest waiter gets it.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.inFlight -= 1
                return nil
            }
            // The slot passes straight to the waiter: `inFlight` stays as it is.
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
