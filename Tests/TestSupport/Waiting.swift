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

/// Polls `condition` until it holds, or throws ``TimedOut`` naming `what`.
public func eventually(
    _ what: String,
    timeout: Duration = .seconds(30),
    every interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TimedOut("\(what) within \(timeout)") }
        try await Task.sleep(for: interval)
    }
}
