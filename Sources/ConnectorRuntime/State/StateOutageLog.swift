import Logging
import Synchronization

/// Failures of one kind of state-store work (intake commits, outbox claims, drift windows), in the
/// log as an outage: one line when the failures start, a summary while they last, one line when
/// the store answers again.
///
/// A line per failure would be a line per request while the store is down, thousands a second
/// under load, and the one line that says what happened would scroll away under them.
public final class StateOutageLog: Sendable {
    private struct Outage {
        var started: ContinuousClock.Instant
        var lastSummary: ContinuousClock.Instant
        /// Failures since the outage started, and since the last line about it.
        var failures = 1
        var failuresSinceSummary = 0
        var lastError: String
    }

    private enum Line {
        case started
        case summary(failures: Int, lasting: Duration, error: String)
        case ended(failures: Int, lasting: Duration)
    }

    let logger: Logger
    /// What fails, as the log names it: "intake commits", "outbox claims".
    let work: String
    /// What the failure means for the work's users, said once when it starts.
    let consequence: String
    let summaryInterval: Duration
    private let outage = Mutex<Outage?>(nil)
    /// Read without the lock on every success, which is nearly every call.
    private let failing = Atomic<Bool>(false)

    public init(logger: Logger, work: String, consequence: String, summaryInterval: Duration = .seconds(60)) {
        self.logger = logger
        self.work = work
        self.consequence = consequence
        self.summaryInterval = summaryInterval
    }

    /// Whether failures are being counted now.
    public var isFailing: Bool { failing.load(ordering: .relaxed) }

    public func failed(_ error: any Error, now: ContinuousClock.Instant = .now) {
        let text = "\(error)"
        let line = outage.withLock { outage -> Line? in
            failing.store(true, ordering: .relaxed)
            guard var current = outage else {
                outage = Outage(started: now, lastSummary: now, lastError: text)
                return .started
            }
            current.failures += 1
            current.failuresSinceSummary += 1
            current.lastError = text
            defer { outage = current }
            guard now - current.lastSummary >= summaryInterval else { return nil }
            current.lastSummary = now
            defer { current.failuresSinceSummary = 0 }
            return .summary(failures: current.failuresSinceSummary, lasting: now - current.started, error: text)
        }
        switch line {
        case .started?:
            logger.error("the state store fails \(work); \(consequence)", metadata: ["error": "\(text)"])
        case .summary(let failures, let lasting, let error)?:
            logger.warning(
                "the state store still fails \(work)",
                metadata: ["failures_since_last_line": "\(failures)", "for": "\(Self.seconds(lasting))", "error": "\(error)"]
            )
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
            logger.notice("the state store does \(work) again", metadata: ["failures": "\(failures)", "after": "\(Self.seconds(lasting))"])
        }
    }

    static func seconds(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return seconds < 10 ? "\((seconds * 10).rounded() / 10) s" : "\(Int(seconds.rounded())) s"
    }
}
