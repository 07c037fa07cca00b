import ServiceLifecycle

/// Waits out the pause Meta's usage headers ask for before the next read.
///
/// A graceful shutdown ends the wait at once: the answer in hand is kept and the run stops at its
/// next window boundary, instead of holding a container's SIGTERM for the pause (up to a minute
/// near the limit, up to a day of regain time) until `--shutdown-timeout` cancels the run.
public struct UsagePause: Sendable {
    let wait: @Sendable (Duration) async throws -> Void

    /// `wait` is told each pause; a test records them instead of sleeping.
    public init(_ wait: @escaping @Sendable (Duration) async throws -> Void) {
        self.wait = wait
    }

    /// Sleeps for the pause, ending early on a graceful shutdown; cancellation still throws.
    public static let sleeping = UsagePause { duration in
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
        } catch {
            if Task.isCancelled { throw error }
        }
    }

    public func callAsFunction(_ duration: Duration) async throws {
        try await wait(duration)
    }
}
