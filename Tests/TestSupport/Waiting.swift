/// A wait in a test ran out: says what never happened, where a `CancellationError` would say nothing.
public struct TimedOut: Error, CustomStringConvertible {
    public var description: String

    public init(_ what: String) { description = "timed out: \(what)" }
}

/// A test's precondition is missing (a URL, a file); the test has already recorded an issue.
public struct TestSetupError: Error, CustomStringConvertible {
    public var description: String

    public init(_ what: String) { description = what }
}

/// How long a test waits for something that must happen before it calls the wait a hang.
///
/// Generous on purpose: the full suite runs every test at once on two cores. There, opening a
/// SQLite store took 11 s and draining 190 events through the forwarder 14 s, where each takes well
/// under a second alone; a 20 s wait failed CI once. A passing test never waits this long, so the
/// limit costs nothing. A timeout that is itself the behaviour under test keeps its own short value.
public let hangLimit: Duration = .seconds(120)

/// Polls `condition` until it holds, or throws ``TimedOut`` naming `what`.
public func eventually(
    _ what: String,
    timeout: Duration = hangLimit,
    every interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TimedOut("\(what) within \(timeout)") }
        try await Task.sleep(for: interval)
    }
}
