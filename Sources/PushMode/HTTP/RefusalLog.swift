import CAPICore
import Dispatch
import Logging
import Synchronization

/// Refusals an outsider can trigger (forged signatures, floods, oversize bodies), summarized in
/// the log at most once per ``interval``: one line with counts per reason, never one line per
/// request, so a flood of forged requests cannot flood the log. The per-request detail is in the
/// metrics and at `debug`.
final class RefusalLog: Sendable {
    struct Window {
        var counts: [String: Int] = [:]
        var started: UInt64 = DispatchTime.now().uptimeNanoseconds
    }

    let logger: Logger
    let interval: Duration
    private let window = Mutex(Window())

    init(logger: Logger, interval: Duration = .seconds(10)) {
        self.logger = logger
        self.interval = interval
    }

    func record(_ reason: String) {
        let now = DispatchTime.now().uptimeNanoseconds
        let summary: [String: Int]? = window.withLock { window in
            window.counts[reason, default: 0] += 1
            guard now &- window.started >= UInt64(max(0, interval.wholeNanoseconds)) else { return nil }
            defer { window = Window(counts: [:], started: now) }
            return window.counts
        }
        if let summary {
            let text = summary.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            logger.warning("requests refused since the last summary", metadata: ["refused": "\(text)"])
        }
    }
}

/// Seconds on a monotonic clock, for rates and buckets that must not jump with the wall clock.
enum MonotonicSeconds {
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
