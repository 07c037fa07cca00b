import Synchronization

/// Progress of a long command on standard error, at most one line per interval: a job that ends
/// within the first interval prints nothing, and one that runs for minutes says it is alive.
final class ProgressLine: Sendable {
    private let interval: Duration
    private let lastLine: Mutex<ContinuousClock.Instant>

    init(every interval: Duration = .seconds(2)) {
        self.interval = interval
        self.lastLine = Mutex(ContinuousClock.now)
    }

    /// Prints `line()` when an interval has passed since the start or the last line.
    func say(_ line: () -> String) {
        let now = ContinuousClock.now
        let due = lastLine.withLock { last in
            guard now - last >= interval else { return false }
            last = now
            return true
        }
        if due { StandardStreams.printError(line()) }
    }
}
