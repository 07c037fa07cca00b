import Logging
import Synchronization

/// Failures of one kind of work (intake commits, outbox claims, deliveries to Meta), in the log as
/// an outage: one line when the failures start, a summary while they last, one line when the work
/// succeeds again.
///
/// A line per failure would be a line per request while the store is down, thousands a second
/// under load, and the one line that says what happened would scroll away under them. Silence
/// would be worse: a sidecar whose deliveries fail keeps queueing, and nothing says why.
public final class OutageLog: Sendable {
    /// What the three lines say.
    public struct Wording: Sendable {
        /// The first line, with what the failure means for the work's users.
        public var started: String
        public var ongoing: String
        public var ended: String
        /// The first line's level: `error` when nothing gets through, `warning` when the work is
        /// only delayed.
        public var startLevel: Logger.Level

        public init(started: String, ongoing: String, ended: String, startLevel: Logger.Level = .error) {
            self.started = started
            self.ongoing = ongoing
            self.ended = ended
            self.startLevel = startLevel
        }
    }

    private struct Outage {
        var started: ContinuousClock.Instant
        var lastSummary: ContinuousClock.Instant
        var lastFailure: ContinuousClock.Instant
        /// Failures since the outage started, and since the last line about it.
        var failures = 1
        var failuresSinceSummary = 0
    }

    private enum Line {
        case started
        case summary(failures: Int, lasting: Duration)
        case ended(failures: Int, lasting: Duration)
    }

    let logger: Logger
    let wording: Wording
    /// On every line: what the work is for (`pixel_id`).
    let metadata: Logger.Metadata
    let summaryInterval: Duration
    private let outage = Mutex<Outage?>(nil)
    /// Read without the lock on every success, which is nearly every call.
    private let failing = Atomic<Bool>(false)

    public init(logger: Logger, wording: Wording, metadata: Logger.Metadata = [:], summaryInterval: Duration = .seconds(60)) {
        self.logger = logger
        self.wording = wording
        self.metadata = metadata
        self.summaryInterval = summaryInterval
    }

    /// The state store's outages: "the state store fails intake commits; events are answered 503".
    /// - Parameters:
    ///   - work: what fails, as the log names it: "intake commits", "outbox claims".
    ///   - consequence: what the failure means for the work's users, said once when it starts.
    public static func stateStore(logger: Logger, work: String, consequence: String) -> OutageLog {
        OutageLog(
            logger: logger,
            wording: Wording(
                started: "the state store fails \(work); \(consequence)",
                ongoing: "the state store still fails \(work)",
                ended: "the state store does \(work) again"
            )
        )
    }

    /// Whether failures are being counted now.
    public var isFailing: Bool { failing.load(ordering: .relaxed) }

    /// Whether the work has failed with no success between for at least `span`, the last failure
    /// within `recent`: work that keeps failing, not work that failed once among successes, nor
    /// an outage that has had no attempt for a while (it may be over).
    public func isFailingSteadily(for span: Duration, lastWithin recent: Duration, now: ContinuousClock.Instant = .now) -> Bool {
        guard isFailing else { return false }
        return outage.withLock { outage in
            guard let outage else { return false }
            return now - outage.started >= span && now - outage.lastFailure <= recent
        }
    }

    /// Counts a failure; the first of an outage is logged with `details`, and so is the summary
    /// that falls due.
    public func failed(_ error: any Error, details: Logger.Metadata = [:], now: ContinuousClock.Instant = .now) {
        let line = outage.withLock { outage -> Line? in
            failing.store(true, ordering: .relaxed)
            guard var current = outage else {
                outage = Outage(started: now, lastSummary: now, lastFailure: now)
                return .started
            }
            current.failures += 1
            current.lastFailure = now
            current.failuresSinceSummary += 1
            defer { outage = current }
            guard now - current.lastSummary >= summaryInterval else { return nil }
            current.lastSummary = now
            defer { current.failuresSinceSummary = 0 }
            return .summary(failures: current.failuresSinceSummary, lasting: now - current.started)
        }
        var fields = metadata.merging(details) { _, detail in detail }
        fields["error"] = "\(error)"
        switch line {
        case .started?:
            logger.log(level: wording.startLevel, "\(wording.started)", metadata: fields)
        case .summary(let failures, let lasting)?:
            fields["failures_since_last_line"] = "\(failures)"
            fields["for"] = "\(Self.seconds(lasting))"
            logger.warning("\(wording.ongoing)", metadata: fields)
        default:
            break
        }
    }

    /// Called after each success; costs one relaxed load unless an outage is being counted.
    @inline(__always)
    public func succeeded(now: ContinuousClock.Instant = .now) {
        guard failing.load(ordering: .relaxed) else { return }
        let line = outage.withLock { outage -> Line? in
            failing.store(false, ordering: .relaxed)
            guard let current = outage else { return nil }
            outage = nil
            return .ended(failures: current.failures, lasting: now - current.started)
        }
        if case .ended(let failures, let lasting)? = line {
            var fields = metadata
            fields["failures"] = "\(failures)"
            fields["after"] = "\(Self.seconds(lasting))"
            logger.notice("\(wording.ended)", metadata: fields)
        }
    }

    /// A duration as the outage lines give it: "0.4 s", "61 s".
    public static func seconds(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return seconds < 10 ? "\((seconds * 10).rounded() / 10) s" : "\(Int(seconds.rounded())) s"
    }
}
