import Logging

/// The run a log line belongs to, so that every line carries a `run_id` a log search can group by:
/// a poll run (the id `state show` lists it under), a Lambda invocation (its request id), or else
/// the process itself (one `serve`, one `flush --once`).
public enum RunIdentity {
    /// The run the current task works for; child tasks inherit it.
    @TaskLocal public static var current: String?

    /// `run_id` on every line: the current run's, else `process`.
    public static func metadataProvider(process: String) -> Logger.MetadataProvider {
        Logger.MetadataProvider { ["run_id": .string(current ?? process)] }
    }
}
