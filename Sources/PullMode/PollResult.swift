/// How a poll ended, for the command's exit code and the scheduler's decisions.
public enum PollResult: Sendable, Equatable {
    /// Every partition read its windows.
    case ok
    /// Some partitions failed; the others advanced.
    case partial
    /// Meta refused the credentials (a retry cannot help until they change).
    case authenticationFailed
    /// Another poll holds the lock; nothing was done.
    case locked
    /// A shutdown was asked for (SIGTERM, SIGINT) before every partition finished; each stopped
    /// after committing the window it was reading, and the next poll goes on from there.
    case stopped
}
