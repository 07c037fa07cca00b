/// When the forwarder leaves the machine to intake, and for how long at most.
///
/// While intake is saturated, claiming waits, so that a burst's acknowledgements get the cores and
/// the disk. The wait is bounded: once the forwarder has held off for `limit` in all, it claims
/// whatever intake does until it has caught up with the outbox (a claim that finds less than it
/// asked for), and only then may it hold off again. So no event waits more than `limit` plus the
/// time to catch up, and a load that never ends gets today's sharing after `limit`.
struct IntakeYield {
    let limit: Duration
    /// When the forwarder first held off since it last caught up.
    private var since: ContinuousClock.Instant?

    init(limit: Duration) { self.limit = limit }

    /// Whether to wait instead of claiming at `now`.
    mutating func shouldWait(intakeSaturated: Bool, now: ContinuousClock.Instant) -> Bool {
        guard intakeSaturated, limit > .zero else { return false }
        let started = since ?? now
        since = started
        return now - started < limit
    }

    /// The outbox held less than a full claim: the next burst may be waited out again.
    mutating func caughtUp() { since = nil }
}
